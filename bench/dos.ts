/**
 * Denial of service (issue 10): a legitimate laptop's time to pair — the daemon's control API, the
 * calls `openclaw pair` makes, retried as a person would while the device is taken — with no attack
 * and under a persistent attacker (rig/programs/dos-attacker.ts) that has just taken the device's one
 * link: one that holds it doing nothing, one that starts pair-setup and stalls. Reported as a ratio to
 * the time without attack, measured in the same run, and beside the bound the sim guarantees
 * (test/stress/dos.test.ts checks the same bound as a property).
 *
 * Real time throughout (no --time-scale): the step timeout is the protocol's 30 s.
 */
import { performance } from "node:perf_hooks";
import { type AttackMode, startAttacker, type TestAir } from "../rig/radio.js";
import { LINK_IDLE_MS } from "../src/protocol/accessory/accessory.js";
import { DEFAULT_STEP_TIMEOUT_MS } from "../src/protocol/pairsetup/accessory.js";
import { BenchLaptop, type BenchSim, rpcPair, startBenchSim, startDaemonAir, stopSim } from "./daemon-rig.js";
import { airViolations, type Figure } from "./report.js";
import { median, round } from "./stats.js";

const SECTION = "denial of service (real noble + bleno, 30 ms)";
const INTERVAL = 30;
/** As in test/stress/dos.test.ts: the laptop's own pairing once it can get in, a retry included. */
const PAIR_BUDGET_MS = 20_000;

type Ev = { type: string; [k: string]: unknown };

/** Pairs through the control API, retrying what a person would retry; wall ms and the failures seen. */
async function pairRetrying(
  lap: BenchLaptop,
  sim: BenchSim,
  limitMs: number,
): Promise<{ ms: number; failures: number }> {
  const c = await lap.rpc();
  const t0 = performance.now();
  let failures = 0;
  try {
    for (;;) {
      try {
        await rpcPair(c, sim.name, sim.code);
        return { ms: performance.now() - t0, failures };
      } catch (err) {
        failures++;
        if (performance.now() - t0 > limitMs)
          throw new Error(`the laptop did not pair within ${limitMs} ms: ${String(err)}`);
      }
    }
  } finally {
    c.close();
  }
}

async function baseline(t: TestAir, reps: number): Promise<number[]> {
  const sim = await startBenchSim(t, "dos-base-dev");
  const lap = new BenchLaptop(t, "dos-base-laptop");
  try {
    await lap.startDaemon();
    const c = await lap.rpc();
    const times: number[] = [];
    // One warm-up pairing: the daemon's first pair-setup builds its curve tables.
    for (let i = 0; i <= reps; i++) {
      await lap.heard(c, [sim.name]);
      const ms = await rpcPair(c, sim.name, sim.code);
      if (i > 0) times.push(ms);
      await c.call("device.forget", { all: true }, { timeoutMs: 60_000 });
      await sim.press();
    }
    c.close();
    return times;
  } finally {
    await lap.close();
    await stopSim(sim);
  }
}

interface AttackRun {
  ms: number;
  failures: number;
  /** Rounds in which the attacker held the link, and the longest. */
  holds: number;
  longestHoldMs: number;
  /** Its reconnects the sim refused at once (cool-down). */
  refused: number;
}

async function underAttack(t: TestAir, mode: AttackMode, i: number, bound: number): Promise<AttackRun> {
  const sim = await startBenchSim(t, `dos-${mode}-dev-${i}`);
  const lap = new BenchLaptop(t, `dos-${mode}-laptop-${i}`);
  const attacker = await startAttacker(t, `dos-${mode}-attacker-${i}`);
  try {
    await lap.startDaemon();
    const c = await lap.rpc();
    await lap.heard(c, [sim.name]);
    c.close();
    const mine = (e: Ev) => e["peer"] === attacker.address;
    const mark = sim.child.mark();
    await attacker.attack(sim.name, mode, true);
    await sim.child.waitFor((e) => e.type === "connected" && mine(e), 10_000, "the attacker connected", {
      since: mark,
    });
    if (mode === "stall")
      await attacker.child.waitFor((e) => e.type === "stalled", 10_000, "the attacker stalled");
    // The worst moment to arrive: the attacker has just taken the link.
    const r = await pairRetrying(lap, sim, bound + 30_000);
    const events = sim.child.events.slice(mark) as Ev[];
    const held = attacker.child.events.flatMap((e) => (e.type === "dropped" ? [e.heldMs] : []));
    return {
      ...r,
      holds: held.length,
      longestHoldMs: Math.max(0, ...held),
      refused: events.filter((e) => e.type === "hang-up" && mine(e) && /refused/.test(String(e["reason"])))
        .length,
    };
  } finally {
    await attacker.child.kill();
    await lap.close();
    await stopSim(sim);
  }
}

export async function benchDos(o: { quick?: boolean } = {}): Promise<Figure[]> {
  const reps = o.quick ? 1 : 2;
  const t = await startDaemonAir(INTERVAL);
  try {
    const base = median(await baseline(t, o.quick ? 2 : 3));
    const out: Figure[] = [
      {
        section: SECTION,
        name: "time to pair, no attack",
        value: round(base, 0),
        unit: "ms",
        note: "pair.prepare + pair.attempt on a warm daemon; the baseline of the ratios below",
      },
    ];
    const attacks: Array<{ mode: AttackMode; what: string; bound: number }> = [
      // A holder's first idle drop is forgiven (it may win the race for the link once more).
      { mode: "hold", what: "a persistent holder", bound: 2 * LINK_IDLE_MS + PAIR_BUDGET_MS },
      // A staller is refused from its first drop at the step timeout.
      {
        mode: "stall",
        what: "a persistent pair-setup staller",
        bound: DEFAULT_STEP_TIMEOUT_MS + PAIR_BUDGET_MS,
      },
    ];
    for (const a of attacks) {
      const runs: AttackRun[] = [];
      for (let i = 0; i < reps; i++) runs.push(await underAttack(t, a.mode, i, a.bound));
      const ms = median(runs.map((r) => r.ms));
      const detail = runs
        .map(
          (r) =>
            `${round(r.ms / 1000, 1)} s: ${r.holds} hold${r.holds === 1 ? "" : "s"} (longest ${round(r.longestHoldMs / 1000, 1)} s), ${r.refused} reconnects refused, ${r.failures} failed pair calls`,
        )
        .join("; ");
      out.push(
        {
          section: SECTION,
          name: `time to pair under ${a.what}`,
          value: round(ms, 0),
          unit: "ms",
          goal: { op: "<=", value: a.bound },
          note: `median of ${runs.length}, arriving as it took the link; goal = the sim's bound (drops + ${PAIR_BUDGET_MS / 1000} s to pair); ${detail}`,
        },
        {
          section: SECTION,
          name: `time to pair under ${a.what} / no attack`,
          value: round(ms / base, 1),
          unit: "×",
          note: `${round(ms, 0)} ms vs ${round(base, 0)} ms: the wait is the attacker's one bounded hold (${a.mode === "hold" ? "10 s idle bound, at most twice" : "30 s step timeout"}), not the pairing`,
        },
      );
    }
    out.push(airViolations(SECTION, t.air.violations));
    return out;
  } finally {
    await t.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { table } = await import("./report.js");
  process.stdout.write(table(await benchDos({ quick: process.argv.includes("--quick") })));
}
