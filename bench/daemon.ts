/**
 * The sections that need the daemon (issue 10), on bench/daemon-rig.ts: real noble in `openclaw daemon`,
 * real bleno in each `openclaw sim`, the virtual air in this process at 30 ms.
 *
 * - concurrency: 1, 4 and 8 devices paired at once by one daemon (one control connection each, the
 *   calls `openclaw pair` makes), cold (the daemon's first pairings) and warm (the next batch);
 * - CLI journeys: `openclaw pair`, a command on the open session, a bonded reconnect, each through the
 *   built CLI (spawn to exit) and through the control API; the CLI's own start measured apart;
 *   the first pairing of a fresh daemon against a warm one;
 * - soak: pair/forget cycles; the daemon's RSS and fds from /proc, its heap after GC from its debug log.
 */
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { TestAir } from "../rig/radio.js";
import type { RpcClient } from "../src/daemon/rpc/client.js";
import {
  BenchLaptop,
  type BenchSim,
  linkInterval,
  procCpuMs,
  procRss,
  procUsage,
  rpcPair,
  startBenchSim,
  startDaemonAir,
  stopSim,
} from "./daemon-rig.js";
import { airViolations, type Figure } from "./report.js";
import { median, round } from "./stats.js";

const INTERVAL = 30;

async function withAir<T>(intervalMs: number | undefined, fn: (t: TestAir) => Promise<T>): Promise<T> {
  const t = await startDaemonAir(intervalMs);
  try {
    return await fn(t);
  } finally {
    await t.close();
  }
}

async function forgetAll(c: RpcClient): Promise<void> {
  await c.call("device.forget", { all: true }, { timeoutMs: 60_000 });
}

// ---------------------------------------------------------------------------------------------------
// Concurrency

const C_SECTION = "daemon concurrency (real noble + bleno, 30 ms)";

/** One batch: wall ms until the last device is paired, when the last link came up, CPU of every process. */
interface BatchTime {
  total: number;
  /** ms from the start until the air had brought up the batch's last link (LE Connection Complete). */
  lastLink: number;
  /** CPU ms of the daemon, the sims and this process (the air) during the batch. */
  cpu: number;
}

/** N devices paired at once, one control connection each; wall ms until the last is paired. */
async function batch(lap: BenchLaptop, sims: readonly BenchSim[]): Promise<BatchTime> {
  const clients = await Promise.all(sims.map(() => lap.rpc()));
  const links: number[] = [];
  const onLink = () => links.push(performance.now());
  try {
    await lap.heard(
      clients[0]!,
      sims.map((s) => s.name),
    );
    const pids = [lap.daemonPid(), ...sims.map((s) => s.child.pid)].filter((p) => p !== undefined);
    const cpu0 = pids.map(procCpuMs);
    const own0 = process.cpuUsage();
    lap.t.air.on("connect", onLink);
    const t0 = performance.now();
    await Promise.all(sims.map((s, i) => rpcPair(clients[i]!, s.name, s.code)));
    const total = performance.now() - t0;
    const own = process.cpuUsage(own0);
    const cpu =
      pids.reduce((sum, pid, i) => sum + procCpuMs(pid) - cpu0[i]!, 0) + (own.user + own.system) / 1000;
    return { total, lastLink: (links[sims.length - 1] ?? Number.NaN) - t0, cpu };
  } finally {
    lap.t.air.off("connect", onLink);
    for (const c of clients) c.close();
  }
}

const medianOf = (xs: readonly BatchTime[]): BatchTime => ({
  total: median(xs.map((x) => x.total)),
  lastLink: median(xs.map((x) => x.lastLink)),
  cpu: median(xs.map((x) => x.cpu)),
});

export async function benchConcurrency(o: { quick?: boolean } = {}): Promise<Figure[]> {
  const sizes = o.quick ? [1, 4] : [1, 4, 8];
  // Each batch's links come up at random phases of the devices' adverts (100 ms apart): one batch is
  // noisy by a whole advertising interval, so each figure is the median of several (a fresh daemon each).
  const reps = o.quick ? 1 : 3;
  const max = Math.max(...sizes);
  const ncpu = cpus().length;
  return withAir(INTERVAL, async (t) => {
    const sims: BenchSim[] = [];
    try {
      for (let i = 0; i < max; i++) sims.push(await startBenchSim(t, `conc-dev-${i}`));
      const times = new Map<number, { cold: BatchTime; warm: BatchTime }>();
      for (const n of sizes) {
        const runs = { cold: [] as BatchTime[], warm: [] as BatchTime[] };
        for (let r = 0; r < reps; r++) {
          const lap = new BenchLaptop(t, `conc-laptop-${n}-${r}`);
          try {
            await lap.startDaemon();
            const use = sims.slice(0, n);
            runs.cold.push(await batch(lap, use));
            const c = await lap.rpc();
            await forgetAll(c);
            for (const s of use) await s.press();
            runs.warm.push(await batch(lap, use));
            await forgetAll(c);
            c.close();
            for (const s of use) await s.press();
          } finally {
            await lap.close();
          }
        }
        times.set(n, { cold: medianOf(runs.cold), warm: medianOf(runs.warm) });
      }
      const one = times.get(1)!;
      const out: Figure[] = [];
      for (const n of sizes) {
        const x = times.get(n)!;
        for (const mode of ["cold", "warm"] as const) {
          if (n === 1) {
            out.push({
              section: C_SECTION,
              name: `one device paired alone, ${mode}`,
              value: round(x[mode].total / INTERVAL, 1),
              unit: "intervals",
              note: `${round(x[mode].total, 0)} ms (link up after ${round(x[mode].lastLink, 0)} ms); the baseline of the ratios below; median of ${reps}`,
            });
            continue;
          }
          // Floors: the controller initiates one link at a time, each at its device's next advert, so
          // the batch cannot end before its last link is up plus what one device needs after its link;
          // nor before the CPU every process used is spread over the cores.
          const b = x[mode];
          const afterLink = one[mode].total - one[mode].lastLink;
          const linkFloor = b.lastLink + afterLink;
          const cpuFloor = b.cpu / ncpu;
          out.push({
            section: C_SECTION,
            name: `${n} device${n === 1 ? "" : "s"} paired at once, ${mode}: total / one`,
            value: round(b.total / one[mode].total, 2),
            unit: "×",
            goal: { op: "<=", value: 1.5 },
            note:
              `${round(b.total, 0)} ms vs one ${round(one[mode].total, 0)} ms (pair.prepare + pair.attempt per device, ${mode === "cold" ? "the fresh daemon's first pairings" : "the next batch, same daemon"}; median of ${reps}). ` +
              `Floors: serialised connection set-up ${round(linkFloor, 0)} ms = ${round(linkFloor / one[mode].total, 2)}× (last link up at ${round(b.lastLink, 0)} ms + ${round(afterLink, 0)} ms after it); ` +
              `CPU ${round(cpuFloor, 0)} ms = ${round(cpuFloor / one[mode].total, 2)}× (${round(b.cpu, 0)} ms of all processes on ${ncpu} cpus)`,
          });
        }
      }
      out.push(airViolations(C_SECTION, t.air.violations));
      return out;
    } finally {
      await Promise.all(sims.map(stopSim));
    }
  });
}

// ---------------------------------------------------------------------------------------------------
// CLI journeys

const J_SECTION = "daemon + CLI journeys (real noble + bleno, 30 ms)";

async function sessionsClosed(c: RpcClient, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await c.call("daemon.status")).sessions.length > 0) {
    if (Date.now() > deadline) throw new Error("the daemon's session did not close");
    await new Promise((r) => setTimeout(r, 100));
  }
}

const timed = async (fn: () => Promise<unknown>): Promise<number> => {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
};

export async function benchCliJourneys(o: { quick?: boolean } = {}): Promise<Figure[]> {
  const reps = o.quick ? 1 : 3;
  return withAir(INTERVAL, async (t) => {
    const sim = await startBenchSim(t, "cli-dev");
    // Devices the warm daemon has never connected to: their first pairing discovers GATT in full, as a
    // fresh daemon's does, where the warm pairings of `sim` use its cached handles.
    const others = [await startBenchSim(t, "cli-dev-new-1"), await startBenchSim(t, "cli-dev-new-2")];
    // Sessions close after 5 s unused (the config's minimum), so a bonded reconnect can be timed.
    const lap = new BenchLaptop(t, "cli-laptop", { sessionIdleSeconds: 5 });
    try {
      // The first pairing of a freshly started daemon (its scan has heard the device) vs warm ones.
      await lap.startDaemon();
      const c = await lap.rpc();
      await lap.heard(c, [sim.name, ...others.map((o) => o.name)]);
      const first = await rpcPair(c, sim.name, sim.code);
      const used = linkInterval(t) ?? INTERVAL;
      const warmNew: number[] = [];
      for (const o of others) warmNew.push(await rpcPair(c, o.name, o.code));
      await forgetAll(c); // while the devices are there to hear it
      await Promise.all(others.splice(0).map(stopSim));
      const warm: number[] = [];
      const rpcCommand: number[] = [];
      const rpcReconnect: number[] = [];
      for (let i = 0; i < reps; i++) {
        await forgetAll(c);
        await sim.press();
        await lap.heard(c, [sim.name]);
        warm.push(await rpcPair(c, sim.name, sim.code));
        for (let k = 0; k < 3; k++)
          rpcCommand.push(await timed(() => c.call("device.battery", { device: sim.name })));
        await sessionsClosed(c);
        rpcReconnect.push(await timed(() => c.call("device.battery", { device: sim.name })));
      }
      await forgetAll(c);

      // The CLI: its start (a command that only greets the daemon), then the journeys.
      const start: number[] = [];
      for (let i = 0; i < reps + 2; i++) start.push((await lap.cliOk(["daemon", "status", "--json"])).ms);
      const pair: number[] = [];
      const command: number[] = [];
      const reconnect: number[] = [];
      for (let i = 0; i < reps; i++) {
        await sim.press();
        await lap.heard(c, [sim.name]);
        // As a person types it: no device named, the one in pairing mode; the code on stdin.
        pair.push((await lap.cliOk(["pair", "--code", "-", "--json"], `${sim.code}\n`)).ms);
        for (let k = 0; k < 2; k++) command.push((await lap.cliOk(["battery", sim.name, "--json"])).ms);
        await sessionsClosed(c);
        reconnect.push((await lap.cliOk(["battery", sim.name, "--json"])).ms);
        await forgetAll(c);
      }
      // Forget while the device is out of range: one short connect attempt, removed here, the stale
      // bond on the device explained (src/daemon/core/core.ts forgetFreshMs / forgetConnectTimeoutMs).
      const forgetAway: number[] = [];
      const home = t.air.controllers().find((x) => x.label === "cli-dev")!.position;
      for (let i = 0; i < reps; i++) {
        await sim.press();
        await lap.heard(c, [sim.name]);
        await rpcPair(c, sim.name, sim.code);
        await sessionsClosed(c);
        t.air.move("cli-dev", { x: home.x + 2000, y: home.y });
        try {
          forgetAway.push((await lap.cliOk(["forget", sim.name, "--json"])).ms);
        } finally {
          t.air.move("cli-dev", home);
        }
        // The device keeps its (now stale) bond: the next pairing replaces it.
      }
      c.close();
      // A command on a laptop with no daemon running: the CLI starts it on demand and waits for it.
      const onDemand: number[] = [];
      for (let i = 0; i < reps + 2; i++) {
        const cold = new BenchLaptop(t, `cli-cold-${i}`);
        try {
          onDemand.push((await cold.cliOk(["devices", "--json"])).ms);
          await cold.cliOk(["daemon", "stop", "--json"]);
        } finally {
          await cold.close();
        }
      }
      const s = median(start);
      const iv = (ms: number) => round(ms / used, 1);
      const fig = (name: string, ms: number[], goal: number, how: string, net = true): Figure => {
        const m = median(ms);
        return {
          section: J_SECTION,
          name,
          value: iv(net ? m - s : m),
          unit: "intervals",
          goal: { op: "<=", value: goal },
          note: `${round(m, 0)} ms${net ? ` wall = ${iv(m)} intervals, less the CLI start ${round(s, 0)} ms` : ""}; ${how}; median of ${ms.length}; link at ${used} ms`,
        };
      };
      return [
        {
          section: J_SECTION,
          name: "CLI start (`openclaw daemon status`, spawn to exit)",
          value: round(s, 0),
          unit: "ms",
          note: `${iv(s)} intervals; node start, imports, connect + hello + status; median of ${start.length}`,
        },
        {
          section: J_SECTION,
          name: "`openclaw forget` of a bonded device out of range, spawn to exit",
          value: round(median(forgetAway), 0),
          unit: "ms",
          note: `removed here, the stale bond on the device explained; the device moved 2 km away after its session closed, still in the scan list for up to its TTL; CLI start ${round(s, 0)} ms included; median of ${forgetAway.length}`,
        },
        {
          section: J_SECTION,
          name: "`openclaw devices` with no daemon running (started on demand), spawn to exit",
          value: round(median(onDemand), 0),
          unit: "ms",
          note: `the daemon's start-up (store, identity, noble, control socket) on the path; its curve tables are built once it is first quiet, after this answer (were at start-up: 512 ms against 419 ms in one comparison, 2026-12-04); median of ${onDemand.length}`,
        },
        fig(
          "`openclaw pair` (device in pairing mode → paired), net of CLI start",
          pair,
          20,
          "discovery.list, pair.prepare (connect, info), pair.attempt (pair-setup, store, verify)",
        ),
        fig("`openclaw pair`, wall", pair, 20, "spawn to exit", false),
        fig("`openclaw battery` on the open session, net of CLI start", command, 2.2, "one session request"),
        fig("device.battery on the open session (control API)", rpcCommand, 2.2, "no CLI process", false),
        fig(
          "bonded reconnect + verify + `openclaw battery`, net of CLI start",
          reconnect,
          12,
          "session closed by the idle timer first; connect, discovery, verify, command",
        ),
        fig(
          "bonded reconnect + verify + device.battery (control API)",
          rpcReconnect,
          12,
          "no CLI process",
          false,
        ),
        {
          section: J_SECTION,
          name: "first pairing of a fresh daemon / warm",
          value: round(first / median(warm), 2),
          unit: "×",
          goal: { op: "<=", value: 1.2 },
          note: `${round(first, 0)} ms vs ${round(median(warm), 0)} ms (median of ${warm.length}); pair.prepare + pair.attempt, the fresh daemon's scan had heard the device; the warm ones reuse the device's cached GATT handles (src/radio/gatt-cache.ts), the first cannot`,
        },
        {
          section: J_SECTION,
          name: "first pairing of a fresh daemon / a warm daemon's first of a new device",
          value: round(first / median(warmNew), 2),
          unit: "×",
          goal: { op: "<=", value: 1.2 },
          note: `${round(first, 0)} ms vs ${round(median(warmNew), 0)} ms (median of ${warmNew.length}); both discover GATT in full: the process's own first-time cost; the ratio above also counts the handle cache the warm pairings of one device use`,
        },
        airViolations(J_SECTION, t.air.violations),
      ];
    } finally {
      await lap.close();
      await stopSim(sim);
      await Promise.all(others.map(stopSim));
    }
  });
}

// ---------------------------------------------------------------------------------------------------
// Soak

const S_SECTION = "daemon soak";

export async function benchSoak(o: { cycles?: number } = {}): Promise<Figure[]> {
  const cycles = o.cycles ?? 20;
  // The first fifth warms the JIT up (compiled code is heap too: ≈ +3 MB over the first 100 cycles,
  // then flat), so heap growth is counted from an idle pause after it.
  const warmCycles = Math.max(1, Math.floor(cycles / 5));
  const idleMs = 5000;
  const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));
  // OPENCLAW_SOAK_DUMP=<dir>: the daemon's /proc/<pid>/smaps at each idle point (start, warm, end), to
  // diff by mapping, and its debug log.
  const dumpDir = process.env["OPENCLAW_SOAK_DUMP"];
  const dumpSmaps = (pid: number, at: string) => {
    if (dumpDir) writeFileSync(join(dumpDir, `${at}.smaps`), readFileSync(`/proc/${pid}/smaps`));
  };
  // The daemon's own interval (7.5 ms): the soak counts growth, not time.
  return withAir(undefined, async (t) => {
    const sim = await startBenchSim(t, "soak-dev");
    const lap = new BenchLaptop(t, "soak-laptop", { sessionIdleSeconds: 5 });
    // Its "collected" line (the heap after each quiet collection) is at debug.
    lap.env["OPENCLAW_LOG_LEVEL"] = "debug";
    try {
      const { pid } = await lap.startDaemon();
      const c = await lap.rpc();
      await lap.heard(c, [sim.name]);
      await sleepMs(idleMs);
      const start = procUsage(pid);
      const startSplit = procRss(pid);
      const cpuStart = procCpuMs(pid);
      dumpSmaps(pid, "start");
      const heapStart = lap.heapAfterGc();
      let heapWarm: ReturnType<BenchLaptop["heapAfterGc"]>;
      let warm = start;
      let warmSplit = startSplit;
      let peak = start;
      const after: Array<{ rssMb: number; fds: number }> = [];
      let busyMs = 0;
      for (let i = 0; i < cycles; i++) {
        const t0 = performance.now();
        await lap.heard(c, [sim.name]);
        await rpcPair(c, sim.name, sim.code);
        await c.call("device.status", { device: sim.name });
        await forgetAll(c);
        await sim.press();
        busyMs += performance.now() - t0;
        const u = procUsage(pid);
        after.push(u);
        peak = { rssMb: Math.max(peak.rssMb, u.rssMb), fds: Math.max(peak.fds, u.fds) };
        if (i === warmCycles - 1) {
          await sessionsClosed(c);
          await sleepMs(idleMs);
          heapWarm = lap.heapAfterGc();
          warm = procUsage(pid);
          warmSplit = procRss(pid);
          dumpSmaps(pid, "warm");
        }
      }
      const cycleMs = busyMs / cycles;
      await sessionsClosed(c);
      await sleepMs(idleMs);
      const end = procUsage(pid);
      const endSplit = procRss(pid);
      // The daemon's CPU over the cycles and idle pauses (the pauses cost it next to nothing).
      const cpuPerCycle = (procCpuMs(pid) - cpuStart) / cycles;
      dumpSmaps(pid, "end");
      if (dumpDir) copyFileSync(lap.logFile, join(dumpDir, "daemon.log"));
      const heapEnd = lap.heapAfterGc();
      c.close();
      const half = after[Math.floor(after.length / 2)] ?? start;
      const mb = (x: number) => round(x, 1);
      const heapMb = (x: typeof heapEnd) =>
        x === undefined ? "n/a" : `${round(x.usedMb, 2)} MB (of ${round(x.totalMb, 1)} committed)`;
      const counted = cycles - warmCycles;
      const heapGrowth =
        heapEnd !== undefined && heapWarm !== undefined ? heapEnd.usedMb - heapWarm.usedMb : Number.NaN;
      const split = (x: { anonMb: number; fileMb: number }) => `${mb(x.anonMb)} anon + ${mb(x.fileMb)} file`;
      return [
        {
          section: S_SECTION,
          name: `${cycles} pair/verify/forget cycles: RSS retained (idle after − idle before)`,
          value: mb(end.rssMb - start.rssMb),
          unit: "MB",
          goal: { op: "<=", value: 5 },
          note: `start ${mb(start.rssMb)} MB (${split(startSplit)}), peak ${mb(peak.rssMb)} MB, mid-run ${mb(half.rssMb)} MB, after ${idleMs / 1000} s idle ${mb(end.rssMb)} MB (${split(endSplit)}); ${round(cycleMs, 0)} ms per cycle (wall), daemon CPU ${round(cpuPerCycle, 1)} ms per cycle; goal: no growth beyond GC noise`,
        },
        {
          section: S_SECTION,
          // Not a goal of its own: it tells one-time warm-up (in the figure above, not here) from growth
          // that accumulates (here too).
          name: `${cycles} cycles: RSS growth past warm-up (idle after − idle after ${warmCycles} warm-up cycles)`,
          value: mb(end.rssMb - warm.rssMb),
          unit: "MB",
          note: `after ${warmCycles} cycles ${mb(warm.rssMb)} MB (${split(warmSplit)}), after ${cycles} ${mb(end.rssMb)} MB; ${counted <= 0 ? "n/a" : round(((end.rssMb - warm.rssMb) * 1024) / counted, 2)} kB per counted cycle; the warm-up's share of the retained figure: ${mb(warm.rssMb - start.rssMb)} MB`,
        },
        {
          section: S_SECTION,
          name: `${cycles} cycles: live heap after GC retained (idle after − idle after ${warmCycles} warm-up cycles)`,
          value: round(heapGrowth, 2),
          unit: "MB",
          goal: { op: "<=", value: 1 },
          note: `heapUsed after the daemon's quiet collection (its debug log): before ${heapMb(heapStart)}, after ${warmCycles} cycles ${heapMb(heapWarm)}, after ${cycles} ${heapMb(heapEnd)}; ${Number.isNaN(heapGrowth) || counted <= 0 ? "n/a" : round((heapGrowth * 1024) / counted, 2)} kB per counted cycle; a leak grows this, allocator retention only RSS`,
        },
        {
          section: S_SECTION,
          name: `${cycles} cycles: open fds retained`,
          value: end.fds - start.fds,
          unit: "fds",
          goal: { op: "<=", value: 0 },
          note: `start ${start.fds}, peak ${peak.fds}, after idle ${end.fds} (/proc/${"<pid>"}/fd)`,
        },
        {
          section: S_SECTION,
          name: "idle daemon RSS (after the cycles)",
          value: mb(end.rssMb),
          unit: "MB",
          goal: { op: "<=", value: 80 },
          note: `before the cycles ${mb(start.rssMb)} MB (VmRSS)`,
        },
        airViolations(S_SECTION, t.air.violations),
      ];
    } finally {
      await lap.close();
      await stopSim(sim);
    }
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { table } = await import("./report.js");
  const which = process.argv[2] ?? "concurrency";
  const quick = process.argv.includes("--quick");
  const figures =
    which === "soak"
      ? await benchSoak({ cycles: Number(process.argv[3]) || undefined })
      : which === "cli"
        ? await benchCliJourneys({ quick })
        : await benchConcurrency({ quick });
  process.stdout.write(table(figures));
}
