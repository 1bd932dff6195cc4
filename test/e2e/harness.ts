/**
 * End-to-end rig: the built CLI (`node bin/openclaw.js`) as a person or script runs it, against a real
 * daemon process (started on demand by the CLI, or in the foreground by the test), the virtual air
 * hosted by this test process, and simulated devices in their own processes (test/integration's
 * startSim) — real noble in the daemon, real bleno in each sim.
 *
 * Each Laptop has its own state directory and runtime directory (so its daemon and socket are its own)
 * and runs at debug log level. Everything it printed, and every code a sim showed, is kept so a file's
 * afterAll can check that no code, key or tag appears in any log, output or audit file
 * (`assertNoSecrets`). Teardown kills every daemon a laptop started (by the pid in its lock file, as a
 * process group) and every child; nothing outlives the file.
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect } from "vitest";
import { type Child, ROOT, spawnProgram } from "../../rig/proc.js";
import type { TestAir } from "../../rig/radio.js";
import { resolvePaths } from "../../src/store/paths.js";
import { useAirSuite } from "../helpers/air-suite.js";
import {
  cleanupStateDirs,
  type SimChildEvent,
  type SimHandle,
  type StartSimOptions,
  startSim,
} from "../integration/sim-harness.js";

export const BIN = `${ROOT}bin/openclaw.js`;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (undefined when it is not). */
  json: unknown;
}

export interface RunOptions {
  /** Written to stdin, then stdin is closed. */
  stdin?: string;
  timeoutMs?: number;
  env?: Record<string, string | undefined>;
  /** Run as this uid/gid (setpriv), for the other-user test. */
  asUser?: { uid: number; gid: number };
  /** Don't add --state-dir / --hci. */
  bare?: boolean;
}

const laptops = new Set<Laptop>();
const secrets = new Set<string>();
const outputs: string[] = [];

/** Remembers a secret the suite saw (a code on a sim's screen, a key in a bond file). */
export function rememberSecret(s: string): void {
  if (s.length >= 6) secrets.add(s);
}

/** A running CLI process, for tests that interrupt it. */
export interface CliProcess {
  proc: ChildProcess;
  result: Promise<CliResult>;
  stderrSoFar(): string;
  stdoutSoFar(): string;
  write(text: string): void;
}

export class Laptop {
  readonly root: string;
  readonly stateDir: string;
  readonly runtimeDir: string;
  readonly label: string;
  readonly env: Record<string, string>;

  constructor(
    readonly t: TestAir,
    label: string,
  ) {
    this.label = label;
    this.root = mkdtempSync(join(tmpdir(), "ocp-e2e-"));
    // Traversable (0755), so the other-uid test is refused by the runtime dir / socket, not by this one.
    chmodSync(this.root, 0o755);
    this.stateDir = join(this.root, "state");
    this.runtimeDir = join(this.root, "run");
    mkdirSync(this.runtimeDir, { mode: 0o755 });
    chmodSync(this.runtimeDir, 0o755);
    this.env = {
      XDG_RUNTIME_DIR: this.runtimeDir,
      XDG_CONFIG_HOME: join(this.root, "config"),
      OPENCLAW_LOG_LEVEL: "debug",
      NO_COLOR: "1",
    };
    laptops.add(this);
  }

  get paths() {
    return resolvePaths({ stateDir: this.stateDir, env: { ...process.env, ...this.env } });
  }

  get hci(): string {
    return this.t.spec(this.label);
  }

  private args(args: string[], o: RunOptions): string[] {
    return o.bare ? args : [...args, "--state-dir", this.stateDir, "--hci", this.hci];
  }

  /** Starts the CLI; the caller awaits `result` (bounded by timeoutMs: the group is killed after). */
  start(args: string[], o: RunOptions = {}): CliProcess {
    const env: Record<string, string | undefined> = { ...process.env, ...this.env, ...o.env };
    delete env["FORCE_COLOR"];
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
    const argv = [BIN, ...this.args(args, o)];
    const cmd = o.asUser ? "setpriv" : process.execPath;
    const full = o.asUser
      ? [`--reuid=${o.asUser.uid}`, `--regid=${o.asUser.gid}`, "--clear-groups", process.execPath, ...argv]
      : argv;
    const proc = spawn(cmd, full, {
      cwd: ROOT,
      env: env as NodeJS.ProcessEnv,
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    proc.stdout!.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    proc.stderr!.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    proc.stdin!.on("error", () => {});
    if (o.stdin !== undefined) proc.stdin!.end(o.stdin);
    const timeoutMs = o.timeoutMs ?? 60_000;
    const result = new Promise<CliResult>((resolve) => {
      const timer = setTimeout(() => killGroup(proc.pid, "SIGKILL"), timeoutMs);
      proc.once("close", (code, signal) => {
        clearTimeout(timer);
        outputs.push(stdout, stderr);
        let json: unknown;
        try {
          json = JSON.parse(stdout);
        } catch {
          json = undefined;
        }
        resolve({ code, signal, stdout, stderr, json });
      });
    });
    return {
      proc,
      result,
      stderrSoFar: () => stderr,
      stdoutSoFar: () => stdout,
      write: (text) => proc.stdin!.write(text),
    };
  }

  /** Runs the CLI to the end. */
  run(args: string[], o: RunOptions = {}): Promise<CliResult> {
    return this.start(args, o).result;
  }

  /** Runs with --json and returns the parsed document (the error document on failure). */
  async json<T = Record<string, unknown>>(
    args: string[],
    o: RunOptions = {},
  ): Promise<{ code: number | null; doc: T; r: CliResult }> {
    const r = await this.run([...args, "--json"], o);
    if (r.json === undefined)
      throw new Error(
        `openclaw ${args.join(" ")} printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`,
      );
    return { code: r.code, doc: r.json as T, r };
  }

  /** Pairs with the code on stdin; returns the JSON result or error. */
  pair(device: string | undefined, code: string, o: RunOptions = {}) {
    return this.json(["pair", ...(device ? [device] : []), "--code", "-"], { ...o, stdin: `${code}\n` });
  }

  /** The pid of the daemon holding this state directory, if one runs. */
  daemonPid(): number | undefined {
    try {
      const pid = (JSON.parse(readFileSync(join(this.stateDir, "daemon.lock"), "utf8")) as { pid?: number })
        .pid;
      if (typeof pid === "number" && alive(pid)) return pid;
    } catch {
      // no lock
    }
    return undefined;
  }

  /** Starts a foreground daemon (`openclaw daemon`) as a child the test controls. */
  foregroundDaemon(extra: string[] = []): Child {
    return spawnProgram(BIN, {
      name: `${this.label}-daemon`,
      args: ["daemon", "--state-dir", this.stateDir, "--hci", this.hci, "--log-level", "debug", ...extra],
      env: this.env,
    });
  }

  /** Waits (bounded) until the daemon's socket answers. */
  async waitSocket(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const r = await this.json(["daemon", "status"], { bare: false, timeoutMs: 5000 });
      if (r.code === 0) return;
      await new Promise((res) => setTimeout(res, 200));
    }
    throw new Error(`${this.label}: the daemon did not answer within ${timeoutMs} ms`);
  }

  /** Kills the daemon with SIGKILL (no cleanup: the crash case). */
  killDaemon(signal: NodeJS.Signals = "SIGKILL"): number | undefined {
    const pid = this.daemonPid();
    if (pid !== undefined) killGroup(pid, signal);
    return pid;
  }

  /** Waits until no daemon holds the state directory (bounded). */
  async daemonGone(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.daemonPid() !== undefined) {
      if (Date.now() > deadline) throw new Error(`${this.label}: daemon still running after ${timeoutMs} ms`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  /** Every file the laptop wrote that a person or a support request might see. */
  textFiles(): string[] {
    const out: string[] = [];
    const walk = (dir: string) => {
      if (!existsSync(dir)) return;
      for (const n of readdirSync(dir)) {
        const p = join(dir, n);
        const st = statSync(p);
        if (st.isDirectory()) walk(p);
        else if (/daemon\.log|audit\.jsonl/.test(n)) out.push(p);
      }
    };
    walk(this.stateDir);
    return out;
  }

  /** The hex of every key in the bond files (what must never appear in a log). */
  bondSecrets(): string[] {
    const dir = join(this.stateDir, "bonds");
    if (!existsSync(dir)) return [];
    const found: string[] = [];
    const collect = (v: unknown, key = "") => {
      if (typeof v === "string" && /key|secret|tag/i.test(key) && v.length >= 16) found.push(v);
      else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) collect(x, k);
    };
    for (const n of readdirSync(dir)) {
      if (!n.endsWith(".json")) continue;
      try {
        collect(JSON.parse(readFileSync(join(dir, n), "utf8")));
      } catch {
        // a corrupt file on purpose
      }
    }
    return found;
  }

  async close(): Promise<void> {
    const pid = this.killDaemon("SIGTERM");
    if (pid !== undefined) {
      const deadline = Date.now() + 3000;
      while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      killGroup(pid, "SIGKILL");
    }
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // gone
    }
  }
}

/** The code on a sim's screen, canonical (spaces and dashes out), remembered as a secret. */
export function codeOf(d: Extract<SimChildEvent, { type: "display" }>): string {
  const canonical = d.code.replace(/[\s-]/g, "");
  rememberSecret(canonical);
  rememberSecret(d.code);
  return d.format === "long" ? d.code : canonical;
}

const sims = new Set<SimHandle>();

/** A sim on the air; every code it shows is checked against the logs at the end. */
export async function sim(t: TestAir, label: string, o: StartSimOptions = {}): Promise<SimHandle> {
  const h = await startSim(t, label, o);
  sims.add(h);
  return h;
}

/**
 * Fails when any remembered secret (codes shown by sims, keys from bond files) appears in a daemon log,
 * an audit log or anything the CLI printed.
 */
export function assertNoSecrets(): void {
  for (const l of laptops) for (const s of l.bondSecrets()) rememberSecret(s);
  for (const h of sims) for (const e of h.child.events) if (e.type === "display") codeOf(e);
  const haystacks: Array<{ where: string; text: string }> = outputs.map((text, i) => ({
    where: `CLI output #${i}`,
    text,
  }));
  for (const l of laptops)
    for (const f of l.textFiles()) haystacks.push({ where: f, text: readFileSync(f, "utf8") });
  const leaks: string[] = [];
  for (const s of secrets)
    for (const h of haystacks) if (h.text.includes(s)) leaks.push(`${s.slice(0, 4)}… in ${h.where}`);
  expect(leaks).toEqual([]);
}

/** The suite hooks for an e2e file: one air, children and daemons killed, temp dirs removed. */
export function useE2E(started: (t: TestAir) => void, o: { checkSecrets?: boolean } = {}): void {
  useAirSuite({
    started,
    killAfterEach: false,
    waitEmpty: false,
    cleanup: () => {
      if (o.checkSecrets !== false) assertNoSecrets();
      for (const l of laptops) rmSync(l.root, { recursive: true, force: true });
      laptops.clear();
      sims.clear();
      cleanupStateDirs();
    },
  });
  // Registered after useAirSuite's, so it runs first: daemons stop before the air closes.
  afterAll(closeLaptops);
}

/** Closes every laptop (their daemons) — for afterEach in files that want a fresh daemon per test. */
export async function closeLaptops(): Promise<void> {
  await Promise.all([...laptops].map((l) => l.close()));
}

/** The error document `--json` prints on failure. */
export interface ErrorDoc {
  error: { code: string; message: string; remedy: string; details: Record<string, unknown> };
}
export const errorOf = (doc: unknown): ErrorDoc["error"] => (doc as ErrorDoc).error;

/** Polls `probe` (bounded) until it returns something other than undefined. */
export async function until<T>(
  what: string,
  ms: number,
  probe: () => Promise<T | undefined> | T | undefined,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits (bounded) until a running CLI's stderr matches. */
export async function stderrShows(p: { stderrSoFar(): string }, re: RegExp, ms = 30_000): Promise<void> {
  try {
    await until(`${re} on stderr`, ms, () => (re.test(p.stderrSoFar()) ? true : undefined));
  } catch {
    throw new Error(`timed out waiting for ${re}; stderr:\n${p.stderrSoFar()}`);
  }
}
