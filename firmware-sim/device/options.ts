/**
 * The simulated device's settings, validated once at start-up so a typo is an INVALID_ARGUMENT with a
 * remedy, never a device that silently runs with a 0-second window.
 */
import { OpenClawError } from "../../src/protocol/errors.js";
import { MAX_TEXT } from "../../src/protocol/messages/constants.js";
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
  return new OpenClawError("INVALID_ARGUMENT", { detail, command: "sim" });
}

/** Longest advertised name sent whole; longer ones go out as a Shortened Local Name (PROTOCOL §2.3). */
export const ADVERTISED_NAME_MAX = 13;

/**
 * `--name`: what the device calls itself (info characteristic, GAP name, advertising). Refused rather
 * than cut: empty or blank, control characters, more than MAX_TEXT bytes of UTF-8. Returns a note when
 * scanners will see it shortened (the full name stays in the info characteristic).
 */
export function checkName(text: string): { name: string; note?: string } {
  if (text.trim() === "") throw invalid("--name must not be empty (leave it out for OpenClaw-XXXX)");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(text)) throw invalid("--name must not contain control characters");
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > MAX_TEXT) {
    throw invalid(`--name is ${bytes} bytes of UTF-8; a device name is at most ${MAX_TEXT} (it is not cut)`);
  }
  if (bytes > ADVERTISED_NAME_MAX) {
    return {
      name: text,
      note: `the name is ${bytes} bytes: scanners see it shortened to its first ${ADVERTISED_NAME_MAX} bytes in the advertisement; the full name is in the info characteristic`,
    };
  }
  return { name: text };
}

export function checkWindowTtl(ms: number): number {
  if (ms < WINDOW_TTL_MIN_MS || ms > WINDOW_TTL_MAX_MS) {
    throw invalid(
      `the pairing window must last from 30 s to 15 min, not ${ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`} (--ttl takes 300s, 5m, 120000ms; a bare number is seconds)`,
    );
  }
  return ms;
}
