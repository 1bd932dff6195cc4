/**
 * The `long` format: 8 Crockford base32 data symbols (40 random bits) and one check symbol, canonical
 * `7K4Q92XMJ`, shown `OCL-7K4Q-92XM-J`.
 *
 * Generation takes 5 random bytes per draw as a 40-bit big-endian integer and writes it as 8 symbols of
 * 5 bits each: a bijection between draws and data strings. A draw is redrawn when its data is trivial
 * (see isTrivialLongData) or when its check symbol would be one of `*~$=U` (check values 32..36): those
 * look like a display glitch and are special to shells. Rejection keeps the result uniform over every
 * accepted code (no modulo bias); it costs 5 of 37 codes (log2(37/32) ≈ 0.21 bits of 40). The check
 * scheme itself is unchanged, so a typed code ending in one of them still validates.
 *
 * Worked check symbol, by hand, for 7K4Q92XM (values 7 19 4 23 9 2 29 20), r ← (32·r + v) mod 37:
 *   7 → 243 mod 37 = 21 → 676 mod 37 = 10 → 343 mod 37 = 10 → 329 mod 37 = 33
 *     → 1058 mod 37 = 22 → 733 mod 37 = 30 → 980 mod 37 = 18 = "J".
 * So OCL-7K4Q-92XM-J is valid, and OCL-7K4Q-92XM-R (the example in DESIGN.md) has a bad check symbol.
 */

import { OpenClawError } from "../errors.js";
import type { RandomBytes } from "../random.js";
import { cleanInput } from "./clean.js";
import {
  CHECK_ALPHABET,
  checkSymbol,
  checkValue,
  DATA_ALPHABET,
  dataValue,
  encodeBase32,
  mapLookAlikes,
} from "./crockford.js";

export const LONG_DATA_LENGTH = 8;
/** Random bytes per draw: 8 symbols × 5 bits = 40 bits. */
export const LONG_DRAW_BYTES = 5;
/** The optional prefix shown on displays; after look-alike mapping "OCL" reads "0C1". */
export const LONG_PREFIX = "OCL";
const MAPPED_PREFIX = mapLookAlikes(LONG_PREFIX);

/**
 * Trivial long codes, never generated: 8 equal symbols (00000000 … ZZZZZZZZ, 32 strings) and 8
 * consecutive symbols of the alphabet ascending (01234567 … RSTVWXYZ) or descending (76543210 …
 * ZYXWVTSR), 25 each, without wrap-around: 82 of 2^40 data strings.
 */
export function isTrivialLongData(data: string): boolean {
  if (data.length !== LONG_DATA_LENGTH) return false;
  const values = [...data].map(dataValue);
  if (values.some((v) => v < 0)) return false;
  const step = values[1]! - values[0]!;
  if (step !== 0 && step !== 1 && step !== -1) return false;
  return values.every((v, i) => i === 0 || v - values[i - 1]! === step);
}

/** The whole trivial set of data strings, sorted (for tests and vectors). */
export function trivialLongData(): string[] {
  const out = new Set<string>();
  for (const c of DATA_ALPHABET) out.add(c.repeat(LONG_DATA_LENGTH));
  for (let i = 0; i + LONG_DATA_LENGTH <= DATA_ALPHABET.length; i++) {
    const run = DATA_ALPHABET.slice(i, i + LONG_DATA_LENGTH);
    out.add(run);
    out.add([...run].reverse().join(""));
  }
  return [...out].sort();
}

/** Check symbols never generated (values 32..36): they read as glitches and are shell-special. */
export const UNGENERATED_CHECK_SYMBOLS = CHECK_ALPHABET.slice(DATA_ALPHABET.length);

/**
 * One draw: 5 bytes → data symbols + check symbol, or undefined when the draw is rejected (trivial
 * data, or a check symbol from UNGENERATED_CHECK_SYMBOLS).
 */
export function longFromDraw(bytes: Uint8Array): string | undefined {
  if (bytes.length !== LONG_DRAW_BYTES) throw new RangeError("a long-code draw is 5 bytes");
  let v = 0;
  for (const b of bytes) v = v * 256 + b;
  const data = encodeBase32(v, LONG_DATA_LENGTH);
  const check = checkSymbol(data);
  if (isTrivialLongData(data) || UNGENERATED_CHECK_SYMBOLS.includes(check)) return undefined;
  return data + check;
}

const MAX_DRAWS = 1000;

export function generateLong(random: RandomBytes): string {
  for (let i = 0; i < MAX_DRAWS; i++) {
    const code = longFromDraw(random(LONG_DRAW_BYTES));
    if (code !== undefined) return code;
  }
  throw new Error("random source keeps returning rejected values");
}

function malformed(): OpenClawError<"MALFORMED_CODE"> {
  return new OpenClawError("MALFORMED_CODE", { expected: "long" });
}

/**
 * What a person typed → the canonical 9 symbols. Case, separators and the optional OCL prefix are
 * ignored, O reads 0 and I/L read 1 (Crockford's decoding rules). U is valid only as the check symbol.
 * A well-formed code whose check symbol does not match is BAD_CHECK_CHARACTER, decided here before any
 * attempt is spent on the device.
 */
export function normaliseLong(input: string): string {
  const cleaned = cleanInput(input);
  if (cleaned === undefined) throw malformed();
  let code = mapLookAlikes(cleaned);
  // Only a 12-symbol string can carry the prefix; a 9-symbol code starting with 0C1 is left alone.
  if (code.length === LONG_DATA_LENGTH + 1 + MAPPED_PREFIX.length && code.startsWith(MAPPED_PREFIX)) {
    code = code.slice(MAPPED_PREFIX.length);
  }
  if (code.length !== LONG_DATA_LENGTH + 1) throw malformed();
  const data = code.slice(0, LONG_DATA_LENGTH);
  const check = code.slice(LONG_DATA_LENGTH);
  if ([...data].some((c) => dataValue(c) < 0) || checkValue(check) < 0) throw malformed();
  if (checkSymbol(data) !== check) throw new OpenClawError("BAD_CHECK_CHARACTER", {});
  return code;
}

export function displayLong(canonical: string): string {
  return `${LONG_PREFIX}-${canonical.slice(0, 4)}-${canonical.slice(4, 8)}-${canonical.slice(8)}`;
}

export { CHECK_ALPHABET, DATA_ALPHABET };
