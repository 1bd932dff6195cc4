/**
 * The `passkey` format: 6 decimal digits, shown `123 456`.
 *
 * Generation is uniform over the non-trivial passkeys. Each draw takes 3 random bytes as a big-endian
 * integer v in [0, 2^24). 2^24 = 16 777 216 is not a multiple of 10^6, so `v mod 10^6` alone would favour
 * 000000–777215 (17 preimages instead of 16). The acceptance bound is the largest multiple of 10^6 not
 * above 2^24: floor(2^24 / 10^6) · 10^6 = 16 000 000. A draw with v < 16 000 000 gives v mod 10^6, each
 * passkey from exactly 16 values of v; a draw at or above the bound is discarded (probability
 * 777 216 / 2^24 ≈ 4.6 %) and 3 fresh bytes are drawn. A trivial passkey is discarded the same way,
 * which keeps the result uniform over the rest.
 */

import { OpenClawError } from "../errors.js";
import type { RandomBytes } from "../random.js";
import { cleanInput } from "./clean.js";
import { mapLookAlikes } from "./crockford.js";

export const PASSKEY_DIGITS = 6;
export const PASSKEY_SPACE = 1_000_000;
/** Random bytes per draw. */
export const PASSKEY_DRAW_BYTES = 3;
/** Draws at or above this value are rejected: floor(2^24 / 10^6) · 10^6. */
export const PASSKEY_ACCEPT_BOUND = Math.floor(2 ** 24 / PASSKEY_SPACE) * PASSKEY_SPACE;

/**
 * The trivial passkeys, the ones a person or an attacker tries first: every digit steps from the one
 * before by the same amount s ∈ {0, +1, −1} mod 10. That is the 10 repeated digits (000000 … 999999),
 * the 10 ascending runs (012345, 123456, … 456789, 567890, … 901234) and the 10 descending runs
 * (987654, … 543210, 432109, … 098765): 30 passkeys, wrap-around included because 890123 or 098765 is
 * as guessable as 123456.
 */
export function isTrivialPasskey(code: string): boolean {
  if (!/^[0-9]{6}$/.test(code)) return false;
  const step = (code.charCodeAt(1) - code.charCodeAt(0) + 10) % 10;
  if (step !== 0 && step !== 1 && step !== 9) return false;
  for (let i = 1; i < code.length; i++) {
    if ((code.charCodeAt(i) - code.charCodeAt(i - 1) + 10) % 10 !== step) return false;
  }
  return true;
}

/** The whole trivial set, in ascending order (for tests and vectors). */
export function trivialPasskeys(): string[] {
  const out = new Set<string>();
  for (const step of [0, 1, 9]) {
    for (let first = 0; first < 10; first++) {
      let s = "";
      for (let i = 0; i < PASSKEY_DIGITS; i++) s += String((first + step * i) % 10);
      out.add(s);
    }
  }
  return [...out].sort();
}

/**
 * One draw: 3 bytes → a passkey, or undefined when the draw is rejected (above the bound, or trivial).
 * Exposed so the no-bias argument can be checked exhaustively over all 2^24 draws.
 */
export function passkeyFromDraw(bytes: Uint8Array): string | undefined {
  if (bytes.length !== PASSKEY_DRAW_BYTES) throw new RangeError("a passkey draw is 3 bytes");
  const v = (bytes[0]! << 16) | (bytes[1]! << 8) | bytes[2]!;
  if (v >= PASSKEY_ACCEPT_BOUND) return undefined;
  const code = String(v % PASSKEY_SPACE).padStart(PASSKEY_DIGITS, "0");
  return isTrivialPasskey(code) ? undefined : code;
}

/** A bound on draws so a broken random source fails loudly instead of looping forever. */
const MAX_DRAWS = 1000;

export function generatePasskey(random: RandomBytes): string {
  for (let i = 0; i < MAX_DRAWS; i++) {
    const code = passkeyFromDraw(random(PASSKEY_DRAW_BYTES));
    if (code !== undefined) return code;
  }
  // Probability of reaching this with a working source is below 10^-1300: the source is broken.
  throw new Error("random source keeps returning rejected values");
}

/**
 * What a person typed → the canonical 6 digits. Separators, case and Unicode width are ignored (see
 * clean.ts). Decision: the Crockford look-alikes are accepted here too (O → 0, I and L → 1), because a
 * passkey is digits only, so "12O 456" can only mean 120456 and refusing it helps nobody. Other
 * look-alikes (S/5, B/8, Z/2) are not guessed: a wrong guess would spend one of the five attempts, while
 * MALFORMED_CODE costs nothing and asks the person to look again.
 */
export function normalisePasskey(input: string): string {
  const cleaned = cleanInput(input);
  const code = cleaned === undefined ? undefined : mapLookAlikes(cleaned);
  if (code === undefined || !/^[0-9]{6}$/.test(code)) {
    throw new OpenClawError("MALFORMED_CODE", { expected: "passkey" });
  }
  return code;
}

export function displayPasskey(canonical: string): string {
  return `${canonical.slice(0, 3)} ${canonical.slice(3)}`;
}
