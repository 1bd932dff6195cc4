/**
 * The test rig (used by the integration tests and the bench): spawn a compiled program from dist/ in its own process group,
 * read the JSON lines it prints on stdout as typed events, send it JSON lines on stdin, and kill the whole
 * group when the test ends.
 *
 *   const dev = spawnProgram<PeripheralEvent>("rig/programs/peripheral.js", { name: "dev1", hci: airSpec("dev1") });
 *   await dev.waitFor((e) => e.type === "advertising", 5000, "dev1 advertising");
 *   const value = await dev.call("notify", { data: "00ff" }, 2000);
 *   afterEach(() => killAll());   // every child any test started, bounded
 *
 * Conventions for the child (rig/programs/* and test/fixtures/* follow them; rig/programs/lines.ts is
 * the child side):
 * - stdout carries one JSON object per line, each with a string `type`. Other stdout lines (a library's
 *   console.log) are kept as text, never parsed as events. stderr is kept (the last lines appear in every
 *   timeout error).
 * - Requests are `{ "req": n, "cmd": "name", ...args }` on stdin; the answer is
 *   `{ "type": "result", "req": n, "ok": true, "value": ... }` or `{ ..., "ok": false, "error": { code, message } }`.
 * - The child exits when stdin closes, so a crashed test runner leaves no orphan.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The package root: the nearest directory with a package.json above this file (also from dist/). */
export const ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));

function findRoot(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, "package.json"))) return `${d}/`;
    if (dirname(d) === d) throw new Error(`no package.json above ${dir}`);
  }
}
/** The preload that points noble/bleno at OPENCLAW_HCI (compiled by the vitest global setup). */
export const HCI_PRELOAD = `${ROOT}dist/src/radio/hci/register.js`;

/** What a child prints: any JSON object with a string `type`. */
export interface ChildEvent {
  type: string;
}

export interface ResultEvent extends ChildEvent {
  type: "result";
  req: number;
  ok: boolean;
  value?: unknown;
  error?: { code?: string; message: string };
}

export interface SpawnOptions {
  /** Shown in errors; defaults to the program's file name. */
  name?: string;
  args?: string[];
  /** Added to (and overriding) this process's environment; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  /** Node options before the program (e.g. `--require x`). */
  nodeArgs?: string[];
  /** Run with the HCI preload and OPENCLAW_HCI set to this spec (e.g. `unix:/tmp/air.sock?label=dev1`). */
  hci?: string;
  cwd?: string;
}

export interface WaitOptions {
  /** Only consider events received at or after this mark (`child.mark()`); default: every unconsumed event. */
  since?: number;
  /** Leave the matched event for later waiters too (default: it is consumed). */
  keep?: boolean;
}

type Exit = { code: number | null; signal: NodeJS.Signals | null };

interface Waiter {
  test: (e: ChildEvent, index: number) => boolean;
  resolve: (e: ChildEvent) => void;
  reject: (err: Error) => void;
  what: string;
  timer: NodeJS.Timeout;
}

const STDERR_LINES = 30;
const live = new Set<Child<ChildEvent>>();

/** A spawned program. `E` is the union of the events it prints. */
export class Child<E extends ChildEvent = ChildEvent> {
  readonly name: string;
  readonly pid: number;
  /** Every event received, in order. */
  readonly events: E[] = [];
  /** stdout lines that were not JSON events. */
  readonly text: string[] = [];
  /** Resolves when the process has exited and its output was read (never rejects). */
  readonly exited: Promise<Exit>;
  /** Resolves as soon as the process has exited (its pipes may still hold output). */
  private readonly exitSeen: Promise<Exit>;
  private readonly proc: ChildProcess;
  private readonly consumed = new Set<number>();
  private readonly stderr: string[] = [];
  private stderrPartial = "";
  private stdoutPartial = "";
  private waiters = new Set<Waiter>();
  private exit: Exit | undefined;
  /** "closed" once the process exited and all its output was read: no event can come any more. */
  private output: "open" | "closed" = "open";
  private nextReq = 1;

  constructor(program: string, opts: SpawnOptions = {}) {
    this.name = opts.name ?? program.split("/").pop() ?? program;
    const nodeArgs = [...(opts.nodeArgs ?? [])];
    const env: Record<string, string | undefined> = { ...process.env, ...opts.env };
    if (opts.hci !== undefined) {
      nodeArgs.push("--require", HCI_PRELOAD);
      env.OPENCLAW_HCI = opts.hci;
    }
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
    const file = program.startsWith("/") ? program : `${ROOT}dist/${program}`;
    // detached: its own process group, so teardown reaches anything it started too.
    this.proc = spawn(process.execPath, [...nodeArgs, file, ...(opts.args ?? [])], {
      cwd: opts.cwd ?? ROOT,
      env: env as NodeJS.ProcessEnv,
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
    });
    if (this.proc.pid === undefined) throw new Error(`${this.name}: could not start ${file}`);
    this.pid = this.proc.pid;
    live.add(this as unknown as Child<ChildEvent>);

    this.proc.stdout!.setEncoding("utf8").on("data", (chunk: string) => this.onStdout(chunk));
    this.proc.stderr!.setEncoding("utf8").on("data", (chunk: string) => this.onStderr(chunk));
    this.proc.stdin!.on("error", () => {}); // EPIPE after the child died: the exit is what we report
    this.exitSeen = new Promise((resolve) => {
      this.proc.once("exit", (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    // Settle on "close", not "exit": the child's last lines may still be in the pipe when it exits.
    this.exited = new Promise((resolve) => {
      this.proc.once("close", (code: number | null, signal: NodeJS.Signals | null) => {
        this.exit ??= { code, signal };
        this.flushStdout();
        this.output = "closed";
        live.delete(this as unknown as Child<ChildEvent>);
        for (const w of this.waiters) {
          clearTimeout(w.timer);
          w.reject(this.failure(`${this.name} exited (${this.exitText()}) while waiting for ${w.what}`));
        }
        this.waiters.clear();
        resolve(this.exit);
      });
    });
    this.proc.once("error", (err) => this.onStderr(`spawn error: ${err.message}\n`));
  }

  /** Whether the process is still running. */
  get running(): boolean {
    return this.exit === undefined;
  }

  /** A position in the event list, for `waitFor(..., { since })`. */
  mark(): number {
    return this.events.length;
  }

  /** The child's last stderr lines (for error messages). */
  stderrTail(lines = STDERR_LINES): string {
    const all = this.stderrPartial ? [...this.stderr, this.stderrPartial] : this.stderr;
    return all.slice(-lines).join("\n");
  }

  /**
   * The first unconsumed event (received before or after this call) matching `test`, within `timeoutMs`.
   * The error on timeout or exit names `what` and shows the child's recent stderr.
   */
  waitFor<T extends E>(
    test: (e: E) => e is T,
    timeoutMs: number,
    what: string,
    opts?: WaitOptions,
  ): Promise<T>;
  waitFor(test: (e: E) => boolean, timeoutMs: number, what: string, opts?: WaitOptions): Promise<E>;
  waitFor(test: (e: E) => boolean, timeoutMs: number, what: string, opts: WaitOptions = {}): Promise<E> {
    const since = opts.since ?? 0;
    const accept = (e: ChildEvent, i: number): boolean => i >= since && !this.consumed.has(i) && test(e as E);
    for (let i = since; i < this.events.length; i++) {
      if (accept(this.events[i]!, i)) {
        if (!opts.keep) this.consumed.add(i);
        return Promise.resolve(this.events[i]!);
      }
    }
    if (this.output === "closed") {
      return Promise.reject(this.failure(`${this.name} had exited (${this.exitText()}) before ${what}`));
    }
    return new Promise<E>((resolve, reject) => {
      const waiter: Waiter = {
        test: (e, i) => {
          if (!accept(e, i)) return false;
          if (!opts.keep) this.consumed.add(i);
          return true;
        },
        resolve: (e) => resolve(e as E),
        reject,
        what,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(this.failure(`timed out after ${timeoutMs} ms waiting for ${what} from ${this.name}`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Shorthand: the next event of a type. */
  next<K extends E["type"]>(type: K, timeoutMs: number, what?: string): Promise<Extract<E, { type: K }>> {
    return this.waitFor(
      (e): e is Extract<E, { type: K }> => e.type === type,
      timeoutMs,
      what ?? `a "${type}" event`,
    );
  }

  /** Writes one JSON line to the child's stdin. */
  send(obj: object): void {
    if (!this.running) throw this.failure(`cannot send to ${this.name}: it exited (${this.exitText()})`);
    this.proc.stdin!.write(`${JSON.stringify(obj)}\n`);
  }

  /** Sends `{ req, cmd, ...args }` and resolves with the result's value (rejects with the child's error). */
  async call<V = unknown>(cmd: string, args: object = {}, timeoutMs = 5000): Promise<V> {
    const req = this.nextReq++;
    this.send({ ...args, req, cmd });
    const r = (await this.waitFor(
      (e) => e.type === "result" && (e as unknown as ResultEvent).req === req,
      timeoutMs,
      `the answer to ${cmd}`,
    )) as unknown as ResultEvent;
    if (!r.ok) {
      const err = new Error(`${this.name}: ${cmd} failed: ${r.error?.message ?? "unknown error"}`);
      (err as Error & { code?: string }).code = r.error?.code;
      throw err;
    }
    return r.value as V;
  }

  /**
   * SIGTERM to the whole process group, SIGKILL after `graceMs`, and always a final SIGKILL to the group
   * (nothing it started may outlive it). Resolves when the child has exited; idempotent.
   */
  async kill(graceMs = 1500): Promise<Exit> {
    if (this.running) {
      this.signalGroup("SIGTERM");
      const timer = setTimeout(() => this.signalGroup("SIGKILL"), graceMs);
      await this.exitSeen;
      clearTimeout(timer);
    }
    this.signalGroup("SIGKILL");
    this.closeStdio(); // a straggler outside the group must not hold the pipes (and this promise) open
    return this.exited;
  }

  /** Closes stdin (fixtures then exit by themselves), kills after `timeoutMs`; keeps the final output. */
  async end(timeoutMs = 2000): Promise<Exit> {
    this.proc.stdin!.end();
    const timer = setTimeout(() => void this.kill(), timeoutMs);
    await this.exitSeen;
    clearTimeout(timer);
    this.signalGroup("SIGKILL");
    const stragglers = setTimeout(() => this.closeStdio(), 1000);
    const exit = await this.exited;
    clearTimeout(stragglers);
    return exit;
  }

  private signalGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      // ESRCH: the group is already gone
    }
  }

  private closeStdio(): void {
    this.proc.stdin?.destroy();
    this.proc.stdout?.destroy();
    this.proc.stderr?.destroy();
  }

  private exitText(): string {
    const e = this.exit;
    if (!e) return "running";
    return e.signal ? `signal ${e.signal}` : `code ${e.code}`;
  }

  private failure(message: string): Error {
    const tail = this.stderrTail();
    return new Error(tail ? `${message}\n--- ${this.name} stderr (last lines) ---\n${tail}` : message);
  }

  /** A last line without a newline still counts once the stream has ended. */
  private flushStdout(): void {
    if (this.stdoutPartial === "") return;
    this.onStdout("\n");
  }

  private onStdout(chunk: string): void {
    const lines = (this.stdoutPartial + chunk).split("\n");
    this.stdoutPartial = lines.pop() ?? "";
    for (const line of lines) {
      if (line.trim() === "") continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        this.text.push(line);
        continue;
      }
      if (typeof parsed !== "object" || parsed === null || typeof (parsed as ChildEvent).type !== "string") {
        this.text.push(line);
        continue;
      }
      const index = this.events.push(parsed as E) - 1;
      for (const w of this.waiters) {
        if (w.test(parsed as ChildEvent, index)) {
          clearTimeout(w.timer);
          this.waiters.delete(w);
          w.resolve(parsed as ChildEvent);
          if (this.consumed.has(index)) break;
        }
      }
    }
  }

  private onStderr(chunk: string): void {
    const lines = (this.stderrPartial + chunk).split("\n");
    this.stderrPartial = lines.pop() ?? "";
    this.stderr.push(...lines);
    if (this.stderr.length > 200) this.stderr.splice(0, this.stderr.length - 200);
  }
}

/** Starts `program` (a path under dist/, e.g. "rig/programs/central.js", or an absolute path). */
export function spawnProgram<E extends ChildEvent = ChildEvent>(
  program: string,
  opts: SpawnOptions = {},
): Child<E> {
  return new Child<E>(program, opts);
}

/** Every child started in this process that has not exited yet. */
export function liveChildren(): readonly Child<ChildEvent>[] {
  return [...live];
}

/** Kills every child still running (for afterEach/afterAll). Bounded by the kill grace time. */
export async function killAll(graceMs = 1500): Promise<void> {
  await Promise.all([...live].map((c) => c.kill(graceMs)));
}

// If the test worker exits without teardown (a crash, process.exit), take the children with it.
process.once("exit", () => {
  for (const c of live) {
    try {
      process.kill(-c.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});
