/**
 * The daemon's bench rig: the virtual air in this process, `openclaw sim` children (real bleno), one
 * `openclaw daemon` child (real noble) per laptop, reached over its control API (src/daemon/rpc/client.ts)
 * or through the built CLI (`node bin/openclaw.js`, timed from spawn to exit) — what test/e2e/harness.ts
 * does, without vitest.
 *
 * The daemon asks for noble's default connection interval (7.5 ms); issue 10's goals are at 30 ms, so
 * the air here gives every new link the interval asked for in `startDaemonAir` (as the air would if the
 * daemon asked for it). Figures say which interval the link really ran (air counters).
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { InitState } from "../firmware-sim/air/controller.js";
import { type Child, type ChildEvent, ROOT, spawnProgram } from "../rig/proc.js";
import { startAir, type TestAir } from "../rig/radio.js";
import { systemClock } from "../src/clock/index.js";
import { DAEMON_NODE_OPTIONS } from "../src/daemon/process/memory.js";
import { RpcClient } from "../src/daemon/rpc/client.js";
import { resolvePaths } from "../src/store/paths.js";

export const BIN = `${ROOT}bin/openclaw.js`;

/** An air whose links all run at `intervalMs` (undefined: what the central asked for). */
export async function startDaemonAir(intervalMs?: number): Promise<TestAir> {
  const t = await startAir();
  if (intervalMs !== undefined) {
    const units = Math.round(intervalMs / 1.25);
    // The bench's stand-in for a daemon that asks for this interval: rewrite the pending LE Create
    // Connection's parameters just before the air establishes the link.
    const engine = (
      t.air as unknown as { linkEngine: { connect: (c: { init: InitState }, ...r: unknown[]) => void } }
    ).linkEngine;
    const connect = engine.connect.bind(engine);
    engine.connect = (c, ...rest) => {
      if (c.init.kind === "initiating") {
        c.init.minInterval = units;
        c.init.maxInterval = units;
      }
      connect(c, ...rest);
    };
  }
  return t;
}

/** The interval a connected link of the air runs at now, if any. */
export function linkInterval(t: TestAir): number | undefined {
  return t.air.counters().find((c) => c.connected)?.intervalMs;
}

type SimEvent = ChildEvent & { [k: string]: unknown };

export interface BenchSim {
  child: Child<SimEvent>;
  name: string;
  code: string;
  dir: string;
  /** The button: a fresh window and code. */
  press(): Promise<string>;
}

export async function startBenchSim(t: TestAir, label: string): Promise<BenchSim> {
  const dir = mkdtempSync(join(tmpdir(), "ocp-bench-sim-"));
  const child = spawnProgram<SimEvent>(BIN, {
    name: label,
    args: ["sim", "--json-events", "--hci", t.spec(label), "--state-dir", join(dir, "state")],
  });
  const ready = await child.next("ready", 30_000);
  const display = await child.next("display", 30_000);
  await child.next("advertising", 30_000);
  const sim: BenchSim = {
    child,
    name: String(ready["name"]),
    code: String(display["code"]),
    dir,
    async press() {
      const mark = child.mark();
      await child.call("button", {}, 10_000);
      const shown = await child.waitFor((e) => e.type === "display", 10_000, `${label}: code`, {
        since: mark,
      });
      sim.code = String(shown["code"]);
      return sim.code;
    },
  };
  return sim;
}

export async function stopSim(s: BenchSim): Promise<void> {
  await s.child.kill();
  rmSync(s.dir, { recursive: true, force: true });
}

export interface CliRun {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A laptop: its own state, runtime and config directories, so its daemon and socket are its own. */
export class BenchLaptop {
  readonly root = mkdtempSync(join(tmpdir(), "ocp-bench-laptop-"));
  readonly stateDir = join(this.root, "state");
  readonly env: Record<string, string>;
  daemon: Child | undefined;

  constructor(
    readonly t: TestAir,
    readonly label: string,
    config: Record<string, unknown> = {},
  ) {
    mkdirSync(join(this.root, "run"), { mode: 0o700 });
    mkdirSync(join(this.root, "config", "openclaw"), { recursive: true });
    writeFileSync(join(this.root, "config", "openclaw", "config.json"), JSON.stringify(config));
    this.env = {
      XDG_RUNTIME_DIR: join(this.root, "run"),
      XDG_CONFIG_HOME: join(this.root, "config"),
      OPENCLAW_LOG_LEVEL: "warn",
      NO_COLOR: "1",
    };
  }

  get logFile(): string {
    return resolvePaths({ stateDir: this.stateDir, env: { ...process.env, ...this.env } }).logFile;
  }

  get socketPath(): string {
    return resolvePaths({ stateDir: this.stateDir, env: { ...process.env, ...this.env } }).socketPath;
  }

  /** The pid of the daemon holding the state directory (also one the CLI started on demand). */
  daemonPid(): number | undefined {
    try {
      const pid = (JSON.parse(readFileSync(join(this.stateDir, "daemon.lock"), "utf8")) as { pid?: number })
        .pid;
      return typeof pid === "number" ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** A foreground `openclaw daemon`; resolves once its socket answers. */
  async startDaemon(): Promise<{ pid: number; readyMs: number }> {
    const t0 = performance.now();
    this.daemon = spawnProgram(BIN, {
      name: `${this.label}-daemon`,
      args: ["daemon", "--state-dir", this.stateDir, "--hci", this.t.spec(this.label)],
      // As the systemd unit starts it (its NODE_OPTIONS) and the CLI on demand.
      nodeArgs: [...DAEMON_NODE_OPTIONS],
      env: this.env,
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const c = await RpcClient.connect(this.socketPath, systemClock, 1000);
        await c.call("daemon.hello", { apiVersion: 1, client: "bench" }, { timeoutMs: 5000 });
        c.close();
        return { pid: this.daemon.pid, readyMs: performance.now() - t0 };
      } catch (err) {
        if (!this.daemon.running || Date.now() > deadline)
          throw new Error(
            `${this.label}: daemon did not come up: ${String(err)}\n${this.daemon.stderrTail()}`,
          );
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /**
   * The daemon's live heap and V8's committed heap (MB) after its last quiet collection, from its debug
   * log ("collected", src/daemon/process/daemon.ts); undefined when the log level is above debug or
   * none ran yet.
   */
  heapAfterGc(): { usedMb: number; totalMb: number } | undefined {
    const file = this.logFile;
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      return undefined;
    }
    const lines = text.trimEnd().split("\n");
    for (let i = lines.length - 1; i >= 0; i--) {
      if (!lines[i]!.includes('"collected"')) continue;
      const { heapUsed, heapTotal } = JSON.parse(lines[i]!) as { heapUsed?: number; heapTotal?: number };
      if (typeof heapUsed === "number" && typeof heapTotal === "number")
        return { usedMb: heapUsed / (1024 * 1024), totalMb: heapTotal / (1024 * 1024) };
    }
    return undefined;
  }

  rpc(): Promise<RpcClient> {
    return RpcClient.connect(this.socketPath, systemClock, 5000);
  }

  /** Waits until the daemon's scan has heard every one of these names with an open window. */
  async heard(c: RpcClient, names: readonly string[], timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { devices } = await c.call("discovery.list");
      const open = new Set(devices.filter((d) => d.windowOpen).map((d) => d.name));
      if (names.every((n) => open.has(n))) return;
      if (Date.now() > deadline)
        throw new Error(`${this.label}: the daemon did not hear ${names.join(", ")}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Runs the built CLI against this laptop's state and HCI; wall time from spawn to exit. */
  cli(args: string[], stdin?: string, timeoutMs = 60_000): Promise<CliRun> {
    const argv = [BIN, ...args, "--state-dir", this.stateDir, "--hci", this.t.spec(this.label)];
    const t0 = performance.now();
    const proc = spawn(process.execPath, argv, {
      cwd: ROOT,
      env: { ...process.env, ...this.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    proc.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    proc.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    proc.stdin.on("error", () => {});
    proc.stdin.end(stdin ?? "");
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
      proc.once("error", reject);
      proc.once("close", (code) => {
        clearTimeout(timer);
        resolve({ ms: performance.now() - t0, code, stdout, stderr });
      });
    });
  }

  /** As cli(), failing unless it exits 0. */
  async cliOk(args: string[], stdin?: string): Promise<CliRun> {
    const r = await this.cli(args, stdin);
    if (r.code !== 0) throw new Error(`openclaw ${args.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
    return r;
  }

  async stopDaemon(): Promise<void> {
    await this.daemon?.kill();
    this.daemon = undefined;
  }

  async close(): Promise<void> {
    await this.stopDaemon();
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** CPU time (user + system, ms) a process has used, from /proc (clock ticks of 10 ms). */
export function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** Resident set (kB → MB) and open fds of a process, from /proc. */
export function procUsage(pid: number): { rssMb: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return { rssMb: kb / 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
}

/**
 * Where a process's resident memory is (MB, /proc/<pid>/smaps_rollup): anonymous (heap pages, malloc
 * arenas, stacks) against file-backed (node's text, mapped libraries), which the kernel can drop.
 */
export function procRss(pid: number): { anonMb: number; fileMb: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? Number.NaN);
  const rss = kb("Rss");
  const anon = kb("Anonymous");
  return { anonMb: anon / 1024, fileMb: (rss - anon) / 1024 };
}

/** Pairs through the control API (prepare + attempt, as `openclaw pair` calls them); wall ms. */
export async function rpcPair(c: RpcClient, device: string, code: string): Promise<number> {
  const t0 = performance.now();
  const target = await c.call("pair.prepare", { device }, { timeoutMs: 60_000 });
  await c.call("pair.attempt", { pairingId: target.pairingId, code }, { timeoutMs: 60_000 });
  return performance.now() - t0;
}
