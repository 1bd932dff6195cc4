/**
 * The simulated device's settings, validated once at start-up so a typo is an INVALID_ARGUMENT with a
 * remedy, never a device that silently runs with a 0-second window.
 */
import { OpenClawError } from "../../src/protocol/errors.js";
import type { CodeFormatName } from "./events.js";

export interface DeviceOptions {
  /** Advertised name; default `OpenClaw-XXXX` from the device id. */
  name?: string;
  stateDir: string;
  windowTtlMs: number;
  format: CodeFormatName;
  slots: number;
  /** Wrong codes before a code is burnt and a fresh one shown. */
  maxAttempts: number;
  /** Failures within `lockoutWindowMs` before the device refuses pairing for `lockoutMs`. */
  lockoutThreshold: number;
  lockoutWindowMs: number;
  lockoutMs: number;
  /** How long a provisional bond waits for its first verify before it is dropped. */
  provisionalTtlMs: number;
  /** Largest ATT MTU the device accepts (bleno's own cap is 256). */
  maxMtu: number;
  /** How often the rotating advertising tag changes. */
  tagRotationMs: number;
  /** HCI spec: `unix:PATH?label=x`, `tcp:host:port`, `hci0`; undefined = the default real adapter. */
  hci?: string;
  jsonEvents: boolean;
}

import { DEFAULT_PROVISIONAL_TTL_MS, DEFAULT_SLOTS } from "../../src/protocol/accessory/bonds.js";
import { DEFAULT_POLICY, HOUR_MS } from "../../src/protocol/window/policy.js";

export const WINDOW_TTL_MIN_MS = 30_000;
export const WINDOW_TTL_MAX_MS = 15 * 60_000;

// A simulated device must behave like a real one: its defaults are the protocol's (DESIGN §3).
export const DEFAULTS = {
  windowTtlMs: DEFAULT_POLICY.defaultTtlMs,
  format: "passkey",
  slots: DEFAULT_SLOTS,
  maxAttempts: DEFAULT_POLICY.attemptsPerCode,
  lockoutThreshold: DEFAULT_POLICY.failuresPerHour,
  lockoutWindowMs: HOUR_MS,
  lockoutMs: DEFAULT_POLICY.lockoutBaseMs,
  provisionalTtlMs: DEFAULT_PROVISIONAL_TTL_MS,
  maxMtu: 256,
  tagRotationMs: 15 * 60_000,
} as const satisfies Partial<DeviceOptions>;

function invalid(detail: string): OpenClawError<"INVALID_ARGUMENT"> {
  return new OpenClawError("INVALID_ARGUMENT", { detail });
}

export function checkWindowTtl(ms: number): number {
  if (ms < WINDOW_TTL_MIN_MS || ms > WINDOW_TTL_MAX_MS) {
    throw invalid("the pairing window must last from 30 s to 15 min");
  }
  return ms;
}
