/**
 * The attempt guard as it survives a reboot (PROTOCOL §6.2). The device's monotonic clock restarts at
 * boot, so no timestamp is kept: only counts and the lockout time left. No secrets (no code, no nonce).
 */
import { z } from "zod";

export const GuardSnapshotSchema = z
  .object({
    /** Failures in the sliding hour. */
    failuresInLastHour: z.number().int().min(0).max(1_000_000),
    /** Lockouts since the guard was last reset (sets the next backoff). */
    lockouts: z.number().int().min(0).max(1000),
    /** Time left of a running lockout (0: not locked out). */
    lockedForMs: z
      .number()
      .int()
      .min(0)
      .max(24 * 60 * 60_000),
    /** Attempts that were counted but never settled: a reboot mid-exchange ends them as failures. */
    unsettled: z.number().int().min(0).max(1000).optional(),
  })
  .strict();

export type GuardSnapshot = z.infer<typeof GuardSnapshotSchema>;

export type GuardRestore = { restored: true } | { restored: false; reason: string };
