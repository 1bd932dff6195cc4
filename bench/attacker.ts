/**
 * The online guesser's odds for a simulated day, on a ManualClock.
 *
 * Threat: a guesser in radio range who makes a wrong guess as fast as an exchange allows (ATTEMPT_MS)
 * while the pairing window is "kept open all day": whenever it is closed, it is opened again at once
 * (the goal's worst case: a device left in pairing mode, or someone pressing the button). A burnt
 * device-shown code is replaced by a fresh one, so k guesses at one uniform code succeed with k/space.
 *
 * Three ways of running the same day, each cross-checked against the others:
 * 1. through the real code paths the sim runs: an Accessory built with the sim's window settings
 *    (firmware-sim/device/options.ts DEFAULTS, mapped as device.ts maps them) and a real Controller
 *    doing real pair-setup (PBKDF2, SPAKE2+, messages through AccessoryLink.handle) with wrong codes;
 * 2. the real PairingWindow alone (fast: no crypto), for policies that WindowPolicy can express;
 * 3. a model of the guard (modelTarget, which mirrors window.ts and must agree with 2 at the
 *    defaults) for rules that WindowPolicy cannot express: the limits before issue 10's fix (the
 *    "before" figure), the window closing after N failures until the button is pressed again (Matter).
 */

import { DEFAULTS as SIM_DEFAULTS } from "../firmware-sim/device/options.js";
import { ManualClock } from "../src/clock/index.js";
import { Accessory, generateAccessoryIdentity } from "../src/protocol/accessory/index.js";
import { generateCode, trivialLongData, trivialPasskeys } from "../src/protocol/codes/index.js";
import { Controller } from "../src/protocol/controller/index.js";
import { decodeInfo } from "../src/protocol/messages/info.js";
import { seededRandom } from "../src/protocol/random.js";
import { DEFAULT_POLICY, HOUR_MS, type WindowPolicy } from "../src/protocol/window/policy.js";
import { PairingWindow } from "../src/protocol/window/window.js";
import type { Figure } from "./report.js";

const SECTION = "brute force (one simulated day)";
const DAY_MS = 24 * HOUR_MS;
/** One pair-setup attempt over the air (2 connection-event round trips + PBKDF2 on a small MCU). */
const ATTEMPT_MS = 500;
export const GOAL_PER_DAY = 1e-4;

type Format = "passkey" | "long";
const space = (f: Format) =>
  f === "passkey" ? 10 ** 6 - trivialPasskeys().length : 32 ** 8 - trivialLongData().length;

/** The window policy the sim runs with (device.ts maps its options to the accessory's like this). */
export function simWindowPolicy(): Partial<WindowPolicy> {
  return {
    defaultTtlMs: SIM_DEFAULTS.windowTtlMs,
    attemptsPerCode: SIM_DEFAULTS.maxAttempts,
    failuresPerHour: SIM_DEFAULTS.lockoutThreshold,
    lockoutBaseMs: SIM_DEFAULTS.lockoutMs,
    lockoutMaxMs: Math.max(SIM_DEFAULTS.lockoutMs, HOUR_MS),
  };
}

/** What the guesser sees and does; one implementation per way of running the day. */
interface Target {
  /** Time-driven transitions, then the state. `code` identifies the code on screen. */
  look(now: number): { kind: "open"; code: string } | { kind: "closed" } | { kind: "locked"; until: number };
  press(now: number): void;
  /** One wrong guess, begun at `now`, settled at `now + ATTEMPT_MS`. */
  guess(now: number): void;
}

export interface DayResult {
  guesses: number;
  codes: number;
  presses: number;
  lockouts: number;
  probability: number;
}

/** The guesser's day against one target. `pressAfterFirst`: reopen whenever closed (kept open). */
function day(t: Target, format: Format, keptOpen = true): DayResult {
  const clock = new ManualClock();
  const n = space(format);
  let guesses = 0;
  let presses = 0;
  let lockouts = 0;
  let code: string | undefined;
  let onCode = 0;
  const codes = new Set<string>();
  let pFail = 1; // probability that every guess so far missed
  const closeCode = () => {
    if (onCode > 0) pFail *= 1 - onCode / n; // k distinct guesses at one uniform code
    onCode = 0;
  };
  while (clock.now() < DAY_MS) {
    const now = clock.now();
    const s = t.look(now);
    if (s.kind === "locked") {
      lockouts++;
      clock.advance(Math.max(1, s.until - now));
      continue;
    }
    if (s.kind === "closed") {
      closeCode();
      code = undefined;
      if (!keptOpen && presses > 0) break;
      t.press(now);
      presses++;
      continue;
    }
    if (s.code !== code) {
      closeCode();
      code = s.code;
      codes.add(code);
    }
    t.guess(now);
    clock.advance(ATTEMPT_MS);
    guesses++;
    onCode++;
  }
  closeCode();
  return { guesses, codes: codes.size, presses, lockouts, probability: 1 - pFail };
}

// ---- 1. the real code paths: Accessory + Controller, real messages and crypto --------------------

function accessoryTarget(
  format: Format,
  policy: Partial<WindowPolicy>,
  seed: string,
): Target & { checks: string[] } {
  const random = seededRandom(seed);
  const acc = new Accessory({
    identity: generateAccessoryIdentity(random),
    profile: { name: "OpenClaw-BENCH", model: "OpenClaw Sim", firmware: "bench" },
    random,
    window: policy,
  });
  const attacker = new Controller({ controllerId: random(16), name: "guesser", random });
  const checks: string[] = [];
  return {
    checks,
    look(t) {
      acc.tick(t);
      const w = acc.window.state;
      if (w.kind === "locked-out") return { kind: "locked", until: w.until };
      return w.kind === "open" ? { kind: "open", code: w.code } : { kind: "closed" };
    },
    press(t) {
      acc.openWindow({ reason: "button", format }, t);
    },
    guess(t) {
      const w = acc.window.state;
      if (w.kind !== "open") throw new Error("guess without an open window");
      let wrong = generateCode(format, random);
      while (wrong === w.code) wrong = generateCode(format, random);
      const ps = attacker.pairSetup(decodeInfo(acc.infoBytes(t)), wrong);
      const link = acc.connect();
      const queue = [ps.firstMessage];
      let outcome: string | undefined;
      // The device answers at t; the guesser's confirmation (and so the verdict) lands at the attempt's end.
      for (let hop = 0; queue.length > 0 && hop < 8; hop++) {
        const msg = queue.shift()!;
        const out = link.handle(msg, hop === 0 ? t : t + ATTEMPT_MS);
        for (const r of out.replies) {
          const step = ps.handle(r);
          queue.push(...step.replies);
          if (step.outcome) outcome = step.outcome.kind === "ok" ? "ok" : step.outcome.error.code;
        }
      }
      link.close(t + ATTEMPT_MS);
      if (outcome !== "WRONG_CODE" && outcome !== "LOCKED_OUT") checks.push(`unexpected outcome ${outcome}`);
    },
  };
}

// ---- 2. the real PairingWindow alone -------------------------------------------------------------

function windowTarget(format: Format, policy: Partial<WindowPolicy>, seed: string): Target {
  const w = new PairingWindow(seededRandom(seed), policy);
  return {
    look(now) {
      w.tick(now);
      const s = w.state;
      if (s.kind === "locked-out") return { kind: "locked", until: s.until };
      return s.kind === "open" ? { kind: "open", code: s.code } : { kind: "closed" };
    },
    press(now) {
      w.open({ format, reason: "button" }, now);
    },
    guess(now) {
      const s = w.state;
      if (s.kind !== "open") throw new Error("guess without an open window");
      const refused = w.admit(s.nonce, now);
      if (refused) throw refused;
      w.beginAttempt(now);
      w.settle("failure", s.nonce, now + ATTEMPT_MS);
    },
  };
}

// ---- 3. the guard as a model, with the rule changes WindowPolicy cannot express ------------------

export interface GuardRules {
  attemptsPerCode: number;
  failuresPerHour: number;
  lockoutBaseMs: number;
  lockoutMaxMs: number;
  /** The hour without failures that forgives lockouts starts when a lockout ends (before: at the last failure). */
  quietHourFromLockoutEnd: boolean;
  /**
   * Once pairing has been locked out, every further failure before the guard forgives locks it out again
   * with the next (doubled) backoff. Before, failures aged out of the sliding hour during long lockouts,
   * so each lockout of ≥ 1 h handed the guesser a fresh allowance.
   */
  relockUntilForgiven: boolean;
  /** The window closes after this many failures since the button opened it (Matter: 20); none here. */
  failuresPerWindow?: number;
}

/** What window.ts does at its defaults (since issue 10's brute-force fix). */
export const DEFAULT_RULES: GuardRules = {
  attemptsPerCode: DEFAULT_POLICY.attemptsPerCode,
  failuresPerHour: DEFAULT_POLICY.failuresPerHour,
  lockoutBaseMs: DEFAULT_POLICY.lockoutBaseMs,
  lockoutMaxMs: DEFAULT_POLICY.lockoutMaxMs,
  quietHourFromLockoutEnd: true,
  relockUntilForgiven: true,
};

/** The guard before the fix (same numbers, failures aged out, a 1 h lockout forgave itself): 504/day. */
export const PREVIOUS_RULES: GuardRules = {
  ...DEFAULT_RULES,
  quietHourFromLockoutEnd: false,
  relockUntilForgiven: false,
};

/** Mirrors PairingWindow's guard (window.ts: tick, settle, #recordFailure, #quietHour). */
function modelTarget(r: GuardRules): Target {
  let state:
    | { kind: "open"; code: number; left: number }
    | { kind: "closed" }
    | { kind: "locked"; until: number } = { kind: "closed" };
  let failures: number[] = [];
  let lastFailureAt: number | undefined;
  let lockoutEndedAt: number | undefined;
  let lockouts = 0;
  let windowFailures = 0;
  let nextCode = 1;
  const forgive = () => {
    failures = [];
    lockouts = 0;
    lastFailureAt = undefined;
  };
  const quiet = (now: number) => {
    if (lastFailureAt === undefined) return;
    const from = r.quietHourFromLockoutEnd ? Math.max(lastFailureAt, lockoutEndedAt ?? 0) : lastFailureAt;
    if (now - from >= HOUR_MS) forgive();
  };
  const tick = (now: number) => {
    if (state.kind === "locked" && now >= state.until) {
      lockoutEndedAt = state.until;
      state = { kind: "closed" };
    }
    quiet(now);
  };
  return {
    look(now) {
      tick(now);
      return state.kind === "open" ? { kind: "open", code: String(state.code) } : state;
    },
    press(now) {
      tick(now);
      if (state.kind === "locked") throw new Error("press while locked");
      state = { kind: "open", code: nextCode++, left: r.attemptsPerCode };
      windowFailures = 0;
    },
    guess(start) {
      const now = start + ATTEMPT_MS;
      if (state.kind !== "open") throw new Error("guess without an open window");
      state.left -= 1;
      tick(now);
      quiet(now);
      failures = failures.filter((f) => f > now - HOUR_MS);
      failures.push(now);
      lastFailureAt = now;
      windowFailures++;
      if (failures.length >= r.failuresPerHour || (r.relockUntilForgiven && lockouts > 0)) {
        const ms = Math.min(r.lockoutBaseMs * 2 ** lockouts, r.lockoutMaxMs);
        lockouts++;
        state = { kind: "locked", until: now + ms };
        return;
      }
      if (r.failuresPerWindow !== undefined && windowFailures >= r.failuresPerWindow) {
        state = { kind: "closed" };
        return;
      }
      if (state.kind === "open" && state.left === 0)
        state = { kind: "open", code: nextCode++, left: r.attemptsPerCode };
    },
  };
}

export function modelDay(r: GuardRules, format: Format = "passkey", keptOpen = true): DayResult {
  return day(modelTarget(r), format, keptOpen);
}

export function windowDay(p: Partial<WindowPolicy>, format: Format = "passkey", keptOpen = true): DayResult {
  return day(windowTarget(format, p, `attacker-window-${format}`), format, keptOpen);
}

const minutes = (ms: number) => (ms >= HOUR_MS ? `${ms / HOUR_MS} h` : `${ms / 60_000} min`);
export function describeRules(r: GuardRules): string {
  return [
    `${r.attemptsPerCode} wrong/code`,
    `${r.failuresPerHour} failures/h lock out`,
    `lockout ${minutes(r.lockoutBaseMs)} doubling to ${minutes(r.lockoutMaxMs)}`,
    r.quietHourFromLockoutEnd
      ? "quiet hour counted from the lockout's end"
      : "quiet hour from the last failure",
    r.relockUntilForgiven
      ? "each failure after a lockout relocks until forgiven"
      : "failures age out of the hour",
    r.failuresPerWindow
      ? `window closes after ${r.failuresPerWindow} failures (button again)`
      : "window stays open",
  ].join("; ");
}

export async function benchAttacker(o: { quick?: boolean } = {}): Promise<Figure[]> {
  const out: Figure[] = [];
  const goal = { op: "<=" as const, value: GOAL_PER_DAY };
  const f = (name: string, value: number, unit: string, extra: Partial<Figure> = {}): Figure => ({
    section: SECTION,
    name,
    value,
    unit,
    ...extra,
  });
  const sim = simWindowPolicy();

  // 1. The real accessory path at the sim's defaults, passkey (long codes: the window path below).
  const t0 = performance.now();
  const realTarget = accessoryTarget("passkey", sim, "attacker-accessory");
  const real = o.quick ? undefined : day(realTarget, "passkey");
  const realSeconds = (performance.now() - t0) / 1000;
  // 2. The real window alone, same policy, kept open all day and opened once.
  const win = windowDay(sim, "passkey");
  const winOnce = windowDay(sim, "passkey", false);
  const winLong = windowDay(sim, "long");
  // 3. The model at the default rules must agree with the real window.
  const model = modelDay(DEFAULT_RULES, "passkey");
  const before = modelDay(PREVIOUS_RULES, "passkey");
  const note = `window kept open all day, ${ATTEMPT_MS} ms per guess; ${describeRules(DEFAULT_RULES)}`;
  if (real) {
    out.push(
      f("passkey guesses accepted/day (Accessory + real pair-setup)", real.guesses, "", {
        note: `${real.lockouts} lockouts, ${real.codes} codes; ${realSeconds.toFixed(0)} s of real crypto`,
      }),
      f("passkey P(success)/day (Accessory + real pair-setup)", real.probability, "/day", { goal, note }),
    );
    if (realTarget.checks.length > 0)
      out.push(f(`unexpected outcomes: ${realTarget.checks[0]}`, realTarget.checks.length, ""));
  }
  out.push(
    f("passkey guesses/day (PairingWindow alone)", win.guesses, "", { note: `${win.lockouts} lockouts` }),
    f("passkey P(success)/day (PairingWindow alone)", win.probability, "/day", { goal, note }),
    f("passkey P(success)/day, one button press (PairingWindow alone)", winOnce.probability, "/day", {
      goal,
      note: `${winOnce.guesses} guesses`,
    }),
    f("long-code P(success)/day (PairingWindow alone)", winLong.probability, "/day", { goal }),
    f("model − real window, guesses/day at the default rules", model.guesses - win.guesses, "", {
      goal: { op: "<=", value: 0 },
      note: "the guard model mirrors window.ts",
    }),
    // No goal: a reference (issue 10's "before"), not something this build can miss.
    f("before the fix: passkey P(success)/day", before.probability, "/day", {
      note: `${before.guesses} guesses, modelled; ${describeRules(PREVIOUS_RULES)}`,
    }),
  );
  if (real) {
    out.push(
      f("real accessory − real window, guesses/day", real.guesses - win.guesses, "", {
        goal: { op: "<=", value: 0 },
        note: "the sim's path adds nothing the window does not count",
      }),
    );
  }

  // Alternatives on top of the default rules: parameters through the real PairingWindow, Matter's
  // window-closes rule modelled (WindowPolicy cannot express it).
  const paramOnly: Array<[string, Partial<WindowPolicy>]> = [
    ["lockout max 4 h", { ...sim, lockoutMaxMs: 4 * HOUR_MS }],
    ["5 failures/h lock out", { ...sim, failuresPerHour: 5 }],
  ];
  for (const [name, p] of paramOnly) {
    const r = windowDay(p, "passkey");
    out.push(
      f(`passkey P(success)/day, ${name}`, r.probability, "/day", {
        goal,
        note: `${r.guesses} guesses (real PairingWindow)`,
      }),
    );
  }
  const matter = modelDay({ ...DEFAULT_RULES, failuresPerWindow: 20 }, "passkey");
  out.push(
    f("passkey P(success)/day, window closes after 20 failures (Matter)", matter.probability, "/day", {
      goal,
      note: `${matter.guesses} guesses, modelled (a lockout already closes the window)`,
    }),
  );
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { table } = await import("./report.js");
  process.stdout.write(table(await benchAttacker({ quick: process.argv.includes("--quick") })));
}
