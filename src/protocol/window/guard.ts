/**
 * The attempt guard as it survives a reboot (PROTOCOL §6.2). The device's monotonic clock restarts at
 * boot, so no timestamp is kept: only counts and the lockout time left. No secrets (no code, no nonce).
 */
import { z } from "zod";
import type { WindowPolicy } from "./policy.js";

/** The longest lockout a snapshot can carry (the policy's maximum is at most a day). */
export const MAX_LOCKED_FOR_MS = 24 * 60 * 60_000;

export const GuardSnapshotSchema = z
  .object({
    /** Failures in the sliding hour. */
    failuresInLastHour: z.number().int().min(0).max(1_000_000),
    /** Lockouts since the guard last forgave (sets the next backoff; > 0: the next failure relocks). */
    lockouts: z.number().int().min(0).max(1000),
    /** Time left of a running lockout (0: not locked out). */
    lockedForMs: z.number().int().min(0).max(MAX_LOCKED_FOR_MS),
    /** Attempts that were counted but never settled: a reboot mid-exchange ends them as failures. */
    unsettled: z.number().int().min(0).max(1000).optional(),
  })
  .strict();

export type GuardSnapshot = z.infer<typeof GuardSnapshotSchema>;

/**
 * How a restore went. `restored: false`: the snapshot was unusable and the device started at the limit
 * instead (`lostGuardSnapshot`), locked out for `lockedForMs`.
 */
export type GuardRestore = { restored: true } | { restored: false; reason: string; lockedForMs: number };

/**
 * What a device restores when its stored guard is lost (a corrupt file, a torn flash page): the limit
 * reached just now — failures at the threshold, one lockout behind it, and that lockout running. A lost
 * count costs a legitimate owner one lockout period; it never gives an attacker fresh guesses.
 */
export function lostGuardSnapshot(
  policy: Pick<WindowPolicy, "failuresPerHour" | "lockoutBaseMs">,
): GuardSnapshot {
  return {
    failuresInLastHour: policy.failuresPerHour,
    lockouts: 1,
    lockedForMs: policy.lockoutBaseMs,
    unsettled: 0,
  };
}
