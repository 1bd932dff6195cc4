/**
 * How much the reliability suite runs. The short form (default) is part of `npm test` and CI: fixed
 * seeds, deterministic, a few seconds. The long form is `npm run test:stress` (OPENCLAW_STRESS=long):
 * every property scaled up so the suite as a whole runs ≥ 10^5 fuzz cases, and the fault matrix
 * repeated over many seeds. OPENCLAW_STRESS_SEED picks another seed for a long exploratory run.
 *
 * Against the daemon: daemon-fault-matrix (cuts), crash-consistency (kill -9), fuzz-rpc (control API), dos.
 */
export const LONG = process.env["OPENCLAW_STRESS"] === "long";

/** A fixed seed in the short form (reproducible in CI); overridable for exploration. */
export const SEED = Number(process.env["OPENCLAW_STRESS_SEED"] ?? 0x0c1a5);

/** Runs for one property: `short` in CI, `long` in the stress run. */
export function runs(short: number, long: number): number {
  return LONG ? long : short;
}

/** A test's time limit: generous in the long form, which is meant to take minutes. */
export function limitMs(shortMs: number, longMs = 30 * 60_000): number {
  return LONG ? longMs : shortMs;
}

/** fast-check parameters for one property. */
export function fcParams(short: number, long: number): { numRuns: number; seed: number; endOnFailure: true } {
  return { numRuns: runs(short, long), seed: SEED, endOnFailure: true };
}
