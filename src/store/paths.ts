/**
 * Where the laptop keeps its state (XDG base directories), computed without touching the disk so the
 * CLI, the daemon and tests agree on every path from the same inputs.
 *
 * One daemon per state directory: its control socket's name is derived from the state directory, so
 * two state directories get two daemons and the CLI finds the right one.
 */
import { createHash } from "node:crypto";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";

export interface OpenClawPaths {
  /** Private (0700) directory holding everything below except the config and the socket. */
  stateDir: string;
  /** One `<deviceIdHex>.json` per bond. */
  bondsDir: string;
  /** This laptop's controller id and name. */
  identityFile: string;
  /** Append-only JSON lines (rotated to `.1`, `.2`, …). */
  auditFile: string;
  /** The daemon's pino log. */
  logFile: string;
  /** zod-validated user settings (may not exist). */
  configFile: string;
  /** Private directory holding the daemon's control socket. */
  runtimeDir: string;
  /** The control socket of the one daemon for `stateDir`. */
  socketPath: string;
}

export interface ResolvePathsOptions {
  /** `--state-dir`: wins over every environment variable. */
  stateDir?: string;
  /** Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Home directory when `HOME` is unset (defaults to os.homedir()). */
  home?: string;
  /** For `/tmp/openclaw-<uid>` (defaults to process.getuid()). */
  uid?: number;
  /** Relative paths resolve against this (defaults to process.cwd()). */
  cwd?: string;
}

/**
 * sun_path is 104 bytes on macOS/BSD (108 on Linux), including the terminating NUL; stay under the
 * smaller so a state directory works on both.
 */
export const MAX_SOCKET_PATH = 103;

/** XDG: a variable that is unset, empty or relative is ignored. */
function xdg(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  return v && isAbsolute(v) ? v : undefined;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === "" ? undefined : v;
}

export function resolvePaths(opts: ResolvePathsOptions = {}): OpenClawPaths {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const home = nonEmpty(env.HOME) ?? opts.home ?? homedir();
  const uid = opts.uid ?? process.getuid?.() ?? 0;

  const named = nonEmpty(opts.stateDir) ?? nonEmpty(env.OPENCLAW_STATE_DIR);
  const stateDir = named
    ? resolve(cwd, named)
    : join(xdg(env, "XDG_STATE_HOME") ?? join(home, ".local", "state"), "openclaw");

  const configNamed = nonEmpty(env.OPENCLAW_CONFIG);
  const configFile = configNamed
    ? resolve(cwd, configNamed)
    : join(xdg(env, "XDG_CONFIG_HOME") ?? join(home, ".config"), "openclaw", "config.json");

  const socketPath = daemonSocketPath(stateDir, xdg(env, "XDG_RUNTIME_DIR"), uid);
  return {
    stateDir,
    bondsDir: join(stateDir, "bonds"),
    identityFile: join(stateDir, "identity.json"),
    auditFile: join(stateDir, "audit.jsonl"),
    logFile: join(stateDir, "daemon.log"),
    configFile,
    runtimeDir: dirname(socketPath),
    socketPath,
  };
}

/**
 * `<runtimeDir>/daemon-<12 hex of sha256(stateDir)>.sock`; when that is too long for a unix socket,
 * a shorter name, then the short name under `/tmp/openclaw-<uid>`.
 */
function daemonSocketPath(stateDir: string, xdgRuntime: string | undefined, uid: number): string {
  const id = createHash("sha256").update(stateDir).digest("hex").slice(0, 12);
  const fallbackDir = `/tmp/openclaw-${uid}`;
  const runtimeDir = xdgRuntime ? join(xdgRuntime, "openclaw") : fallbackDir;
  const candidates = [
    join(runtimeDir, `daemon-${id}.sock`),
    join(runtimeDir, `${id}.sock`),
    join(fallbackDir, `${id}.sock`),
  ];
  // The last one is at most ~40 bytes, so one always fits.
  return candidates.find((p) => Buffer.byteLength(p) <= MAX_SOCKET_PATH) ?? (candidates[2] as string);
}
