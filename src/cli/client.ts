/**
 * The CLI's way to the daemon (DESIGN §2): connect to the daemon of this state directory, or, when none
 * runs, start one in the background for the same state directory and HCI — as gpg-agent does — and
 * wait for it. The child is detached (its own session, so a Ctrl-C at the prompt does not reach it),
 * its stdout and stderr go to the daemon log, and it tells us on a pipe (fd 3) that it is ready or why
 * it could not start (ADAPTER_UNAVAILABLE, STORAGE, …), so a failed start reports its real cause, with
 * the log's path; never a bare timeout.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { type Clock, sleep } from "../clock/index.js";
import { DAEMON_NODE_OPTIONS } from "../daemon/process/memory.js";
import type { HelloResult } from "../daemon/rpc/api.js";
import { API_VERSION } from "../daemon/rpc/api-version.js";
import { RpcClient } from "../daemon/rpc/client.js";
import { isOpenClawError, OpenClawError } from "../protocol/errors.js";
import { type OpenClawPaths, resolvePaths } from "../store/paths.js";
import { ensurePrivateDir } from "../store/state-dir.js";
import { packageRoot } from "../version.js";

export interface DaemonConnectOptions {
  stateDir?: string;
  hci?: string;
  clock: Clock;
  /** Start a daemon when none runs (default true). */
  start?: boolean;
  /** How long a started daemon may take to become ready (default 20 s). */
  startTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Told when a daemon is being started (for a progress line). */
  onStarting?: (paths: OpenClawPaths) => void;
}

export interface DaemonConnection {
  client: RpcClient;
  hello: HelloResult;
  paths: OpenClawPaths;
  /** A daemon was started for this command. */
  started: boolean;
}

function unavailable(paths: OpenClawPaths, detail: string): OpenClawError<"DAEMON_UNAVAILABLE"> {
  return new OpenClawError("DAEMON_UNAVAILABLE", { detail, socket: paths.socketPath });
}

async function greet(client: RpcClient, paths: OpenClawPaths): Promise<HelloResult> {
  const hello = await client.call(
    "daemon.hello",
    { apiVersion: API_VERSION, client: "openclaw-cli" },
    { timeoutMs: 5000 },
  );
  if (hello.apiVersion !== API_VERSION) {
    client.close();
    throw unavailable(
      paths,
      `the running daemon (pid ${hello.pid}) speaks control API v${hello.apiVersion}, this command v${API_VERSION}: stop it (\`openclaw daemon stop\`) and retry`,
    );
  }
  return hello;
}

/** True for "nothing listens there", as opposed to "something is there but refuses us". */
function noDaemon(err: unknown): boolean {
  if (!isOpenClawError(err) || !err.is("DAEMON_UNAVAILABLE")) return false;
  return /no daemon/.test(err.details.detail);
}

/** Connects to the running daemon; DAEMON_UNAVAILABLE when there is none (and `start` is false). */
export async function connectDaemon(o: DaemonConnectOptions): Promise<DaemonConnection> {
  const env = o.env ?? process.env;
  const paths = resolvePaths({ ...(o.stateDir !== undefined ? { stateDir: o.stateDir } : {}), env });
  try {
    const client = await RpcClient.connect(paths.socketPath, o.clock);
    return { client, hello: await greet(client, paths), paths, started: false };
  } catch (err) {
    if (!noDaemon(err) || o.start === false) throw err;
  }
  o.onStarting?.(paths);
  await startDaemonProcess(paths, o, env);
  const client = await RpcClient.connect(paths.socketPath, o.clock);
  return { client, hello: await greet(client, paths), paths, started: true };
}

type ReadyMessage = { ready: true; socket: string; pid: number } | { error: unknown };

/**
 * Spawns `openclaw daemon --on-demand` for these paths and waits for its ready line. A daemon that
 * finds the state directory locked (another CLI started one at the same moment) is not a failure: we
 * then wait for the winner's socket instead.
 */
async function startDaemonProcess(
  paths: OpenClawPaths,
  o: DaemonConnectOptions,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  await ensurePrivateDir(paths.stateDir);
  const timeoutMs = o.startTimeoutMs ?? 20_000;
  const bin = join(packageRoot(), "bin", "openclaw.js");
  const args = [...DAEMON_NODE_OPTIONS, bin, "daemon", "--on-demand", "--state-dir", paths.stateDir];
  if (o.hci !== undefined) args.push("--hci", o.hci);
  let logFd: number;
  try {
    logFd = openSync(paths.logFile, "a", 0o600);
  } catch (err) {
    throw unavailable(
      paths,
      `cannot open its log ${paths.logFile} (${(err as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ["ignore", logFd, logFd, "pipe"],
    env: { ...env, OPENCLAW_STATE_DIR: paths.stateDir },
  });
  closeSync(logFd);
  const pipe = child.stdio[3] as NodeJS.ReadableStream | null;
  const message = await new Promise<ReadyMessage | { exited: number | null } | { timeout: true }>(
    (resolve) => {
      let text = "";
      let settled = false;
      const done = (v: ReadyMessage | { exited: number | null } | { timeout: true }) => {
        if (settled) return;
        settled = true;
        o.clock.clearTimeout(timer);
        resolve(v);
      };
      const timer = o.clock.setTimeout("cli.daemon-start", timeoutMs, () => done({ timeout: true }), {
        hold: true,
      });
      pipe?.setEncoding?.("utf8");
      pipe?.on("data", (chunk: string) => {
        text += chunk;
        const nl = text.indexOf("\n");
        if (nl < 0) return;
        try {
          done(JSON.parse(text.slice(0, nl)) as ReadyMessage);
        } catch {
          done({ error: undefined });
        }
      });
      pipe?.on("error", () => {});
      child.once("exit", (code) => done({ exited: code }));
      child.once("error", () => done({ exited: null }));
    },
  );
  (pipe as { destroy?: () => void } | null)?.destroy?.();
  child.unref();

  if ("ready" in message) return;
  if ("error" in message && message.error !== undefined) {
    const err = OpenClawError.fromJSON(message.error);
    if (err.is("STATE_LOCKED")) return waitForSocket(paths, o.clock, timeoutMs);
    throw err;
  }
  if ("timeout" in message) {
    try {
      process.kill(child.pid as number, "SIGTERM");
    } catch {
      // gone already
    }
    throw unavailable(
      paths,
      `it did not become ready within ${Math.round(timeoutMs / 1000)} s; see its log ${paths.logFile}`,
    );
  }
  throw unavailable(
    paths,
    `it exited while starting${"exited" in message && message.exited !== null ? ` (status ${message.exited})` : ""}; see its log ${paths.logFile}`,
  );
}

/** Waits (bounded) until a daemon answers on the socket. */
async function waitForSocket(paths: OpenClawPaths, clock: Clock, timeoutMs: number): Promise<void> {
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    try {
      (await RpcClient.connect(paths.socketPath, clock, 1000)).close();
      return;
    } catch (err) {
      if (clock.now() >= deadline)
        throw unavailable(
          paths,
          `another daemon holds ${paths.stateDir} but does not answer; see its log ${paths.logFile}`,
        );
      if (!noDaemon(err)) throw err;
    }
    await sleep(clock, "cli.daemon-wait", 100, { hold: true });
  }
}
