/**
 * Limits of the pairing window and the attempt guard. Defaults are the product's (DESIGN §3); a device
 * may tune them within the bounds checked here (INVALID_ARGUMENT otherwise).
 */
import { OpenClawError } from "../errors.js";
import { MAX_PBKDF2_ITERATIONS, MIN_PBKDF2_ITERATIONS } from "../messages/constants.js";

export const DEFAULT_TTL_MS = 120_000;
export const MIN_TTL_MS = 30_000;
export const MAX_TTL_MS = 15 * 60_000;
export const HOUR_MS = 60 * 60_000;

export interface WindowPolicy {
  /** Window length when the opener does not say. */
  defaultTtlMs: number;
  /** Wrong codes before a code is burnt. */
  attemptsPerCode: number;
  /**
   * Failures inside a sliding hour that lock pairing out. After a lockout, every further failure locks
   * out again until an hour passes with neither a failure nor a lockout (counted from the lockout's end).
   */
  failuresPerHour: number;
  /** First lockout; each further lockout doubles it, up to lockoutMaxMs. */
  lockoutBaseMs: number;
  lockoutMaxMs: number;
  /** PBKDF2 iterations published in the info payload (1000..100000). */
  iterations: number;
}

export const DEFAULT_POLICY: WindowPolicy = {
  defaultTtlMs: DEFAULT_TTL_MS,
  attemptsPerCode: 5,
  failuresPerHour: 20,
  lockoutBaseMs: 60_000,
  lockoutMaxMs: HOUR_MS,
  iterations: 1000,
};

function invalid(detail: string): OpenClawError<"INVALID_ARGUMENT"> {
  return new OpenClawError("INVALID_ARGUMENT", { detail });
}

export function checkTtl(ttlMs: number): number {
  if (!Number.isInteger(ttlMs) || ttlMs < MIN_TTL_MS || ttlMs > MAX_TTL_MS) {
    throw invalid(`the pairing window must last 30 s to 15 min (got ${ttlMs} ms)`);
  }
  return ttlMs;
}

export function makePolicy(p: Partial<WindowPolicy> = {}): WindowPolicy {
  const policy = { ...DEFAULT_POLICY, ...p };
  checkTtl(policy.defaultTtlMs);
  const intIn = (v: number, lo: number, hi: number, what: string) => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw invalid(`${what} must be ${lo}..${hi}`);
  };
  intIn(policy.attemptsPerCode, 1, 20, "attempts per code");
  intIn(policy.failuresPerHour, 1, 1000, "failures per hour");
  intIn(policy.lockoutBaseMs, 1000, HOUR_MS, "lockout");
  intIn(policy.lockoutMaxMs, policy.lockoutBaseMs, 24 * HOUR_MS, "maximum lockout");
  intIn(policy.iterations, MIN_PBKDF2_ITERATIONS, MAX_PBKDF2_ITERATIONS, "PBKDF2 iterations");
  return policy;
}
