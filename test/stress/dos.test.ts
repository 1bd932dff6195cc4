/**
 * Denial of service (issue 10): a central that connects and holds the device's one link, one that starts
 * pair-setup and stalls, and either of them persistent (it connects again the moment it is dropped).
 * A legitimate laptop — the built CLI and its daemon (real noble) — must still pair with `openclaw sim`
 * (real bleno) within a bound, and the device must have dropped the attacker.
 *
 * The bounds are properties of the protocol, not timings: the device drops an idle link after
 * LINK_IDLE_MS (the first one forgiven, then its address cools down) and a stalled pair-setup at the
 * step timeout (its address cools down at once: firmware-sim/device/device.ts COOLDOWN_MS), so a
 * laptop that wants in waits at most for those drops plus PAIR_BUDGET_MS for its own pairing, a
 * retried `openclaw pair` included (the person retries as the error tells them to).
 *
 * Short form (`npm test`): a persistent holder with the laptop arriving at the worst moment, and a
 * persistent staller (device clock ×3, so its step timeout is 10 s) with the laptop arriving while it
 * is being refused. Long form (OPENCLAW_STRESS=long): also one-shot attackers and the staller at the
 * real 30 s step timeout, each repeated.
 */
import { performance } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import { type AttackMode, startAttacker, type TestAir } from "../../rig/radio.js";
import { LINK_IDLE_MS } from "../../src/protocol/accessory/accessory.js";
import { DEFAULT_STEP_TIMEOUT_MS } from "../../src/protocol/pairsetup/accessory.js";
import { codeOf, errorOf, Laptop, sim, useE2E } from "../e2e/harness.js";
import type { SimHandle } from "../integration/sim-harness.js";
import { LONG } from "./cases.js";

let t: TestAir;
useE2E((air) => {
  t = air;
});

/** A laptop's own pairing once it can get in: connect, info, pair-setup, verify; one retry of the CLI. */
const PAIR_BUDGET_MS = 20_000;
/** Failures a person sees while the device is taken, after which they run `openclaw pair` again. */
const TAKEN = new Set(["TIMEOUT", "OUT_OF_RANGE", "NO_SUCH_DEVICE", "NO_DEVICE_IN_PAIRING_MODE", "BUSY"]);

/** `openclaw pair NAME` until it pairs or `boundMs` passes; every failure must be "the device is taken". */
async function pairWithin(
  laptop: Laptop,
  dev: SimHandle,
  boundMs: number,
): Promise<{ ms: number; tries: string[] }> {
  const t0 = performance.now();
  const tries: string[] = [];
  for (;;) {
    const left = boundMs - (performance.now() - t0);
    expect(left, `paired within ${boundMs} ms (failures: ${tries.join(", ")})`).toBeGreaterThan(0);
    const r = await laptop.pair(dev.ready.name, codeOf(dev.firstDisplay!), { timeoutMs: left + 5000 });
    if (r.code === 0) {
      expect(r.doc).toMatchObject({ bond: { name: dev.ready.name, role: "admin" } });
      return { ms: performance.now() - t0, tries };
    }
    const code = errorOf(r.doc).code;
    expect(TAKEN, `openclaw pair failed with ${code}: ${r.r.stdout}`).toContain(code);
    tries.push(code);
  }
}

interface Scenario {
  mode: AttackMode;
  persistent: boolean;
  /** The sim's --time-scale: its step timeout runs this much faster (link bounds stay in real time). */
  timeScale: number;
  /** When the laptop starts: while the attacker holds the link (worst case), or once it is refused. */
  laptopAt: "holding" | "refused";
}

/** How long the attacker may keep the link in one round before the device drops it (plus slack). */
const holdBound = (s: Scenario): number =>
  s.mode === "hold" ? LINK_IDLE_MS : DEFAULT_STEP_TIMEOUT_MS / s.timeScale;

async function underAttack(s: Scenario, label: string): Promise<void> {
  const attacker = await startAttacker(t, `${label}-attacker`);
  const dev = await sim(
    t,
    `${label}-dev`,
    s.timeScale > 1 ? { args: ["--time-scale", String(s.timeScale)] } : {},
  );
  const laptop = new Laptop(t, `${label}-laptop`);
  // The laptop's daemon runs already (started on demand) and has heard the device.
  expect((await laptop.json(["devices"])).code).toBe(0);

  const fromAttacker = (e: { peer: string }) => e.peer === attacker.address;
  await attacker.attack(dev.ready.name, s.mode, s.persistent);
  await dev.next("connected", 10_000, fromAttacker);
  if (s.mode === "stall") {
    await attacker.child.waitFor((e) => e.type === "stalled", 10_000, "the attacker's stalled pair-setup");
  }
  if (s.laptopAt === "refused") {
    // A holder's first idle drop is forgiven, a staller's first drop counts.
    const before = (s.mode === "hold" ? 2 : 1) * holdBound(s) + 5000;
    await dev.next("hang-up", before, (e) => fromAttacker(e) && /refused/.test(e.reason));
  }
  // The laptop may lose a race for the link to a persistent holder once (its first idle hang-up is
  // forgiven); a staller, and a holder after that, is refused until the cool-down ends.
  const drops = s.persistent && s.mode === "hold" && s.laptopAt === "holding" ? 2 : 1;
  const bound = drops * holdBound(s) + PAIR_BUDGET_MS;
  const { tries } = await pairWithin(laptop, dev, bound);
  await dev.next("bonded", 5000);

  // The device dropped the attacker for making no progress, and never let it keep the link longer.
  const hangUps = dev.child.events.filter(
    (e): e is Extract<typeof e, { type: "hang-up" }> => e.type === "hang-up" && fromAttacker(e),
  );
  expect(hangUps.some((e) => /no progress/.test(e.reason))).toBe(true);
  expect(hangUps.every((e) => /no progress|refused/.test(e.reason))).toBe(true);
  const held = attacker.child.events.flatMap((e) => (e.type === "dropped" ? [e.heldMs] : []));
  expect(held.length).toBeGreaterThan(0);
  for (const ms of held) expect(ms).toBeLessThan(holdBound(s) + 3000);
  if (!s.persistent) expect(held).toHaveLength(1);
  expect(tries.length).toBeLessThanOrEqual(3);
  await attacker.child.kill();
}

const SHORT: Array<[string, Scenario]> = [
  [
    "a persistent holder: the laptop, arriving while it holds the link, pairs after at most two idle drops",
    { mode: "hold", persistent: true, timeScale: 1, laptopAt: "holding" },
  ],
  [
    "a persistent staller is dropped at the step timeout and refused from then on: the laptop pairs meanwhile",
    { mode: "stall", persistent: true, timeScale: 3, laptopAt: "refused" },
  ],
];

const LONG_ONLY: Array<[string, Scenario]> = [
  [
    "a one-shot holder is dropped after the idle bound and the laptop pairs",
    { mode: "hold", persistent: false, timeScale: 1, laptopAt: "holding" },
  ],
  [
    "a one-shot staller is dropped at the real 30 s step timeout and the laptop pairs",
    { mode: "stall", persistent: false, timeScale: 1, laptopAt: "holding" },
  ],
  [
    "a persistent staller at the real step timeout, the laptop arriving while it stalls",
    { mode: "stall", persistent: true, timeScale: 1, laptopAt: "holding" },
  ],
  [
    "a persistent holder, the laptop arriving during its cool-down",
    { mode: "hold", persistent: true, timeScale: 1, laptopAt: "refused" },
  ],
];

describe("denial of service: a laptop still pairs within a bound", { timeout: 120_000 }, () => {
  const rounds = LONG ? 3 : 1;
  for (const [name, s] of LONG ? [...SHORT, ...LONG_ONLY] : SHORT) {
    for (let r = 1; r <= rounds; r++) {
      it(`${name}${rounds > 1 ? ` (round ${r})` : ""}`, () =>
        underAttack(s, `dos-${s.mode}${s.persistent ? "-p" : ""}-${s.laptopAt}-${r}`));
    }
  }
});
