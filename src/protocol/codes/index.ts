/**
 * Pairing codes: generation, normalisation of what a person types, display, and the PBKDF2 password.
 * The canonical form is what both sides feed to SPAKE2+: "123456" for a passkey, the 8 data symbols and
 * the check symbol ("7K4Q92XMJ") for a long code. Errors never carry the typed text.
 */

import { OpenClawError } from "../errors.js";
import type { RandomBytes } from "../random.js";
import { displayLong, generateLong, normaliseLong } from "./long.js";
import { displayPasskey, generatePasskey, normalisePasskey } from "./passkey.js";

export type CodeFormat = "passkey" | "long";

export const CODE_FORMATS: readonly CodeFormat[] = ["passkey", "long"];

export function generateCode(format: CodeFormat, random: RandomBytes): string {
  return format === "passkey" ? generatePasskey(random) : generateLong(random);
}

/** Throws OpenClawError MALFORMED_CODE{expected} or BAD_CHECK_CHARACTER, and nothing else. */
export function normaliseCode(input: string, format: CodeFormat): string {
  return format === "passkey" ? normalisePasskey(input) : normaliseLong(input);
}

/** Throws MALFORMED_CODE when given anything but a canonical code: display never hides a bad one. */
function requireCanonical(canonical: string, format: CodeFormat): void {
  let ok = false;
  try {
    ok = normaliseCode(canonical, format) === canonical;
  } catch {
    ok = false;
  }
  if (!ok) throw new OpenClawError("MALFORMED_CODE", { expected: format });
}

export function displayCode(canonical: string, format: CodeFormat): string {
  requireCanonical(canonical, format);
  return format === "passkey" ? displayPasskey(canonical) : displayLong(canonical);
}

/**
 * The PBKDF2 password for SPAKE2+ (w0/w1): the ASCII bytes of the canonical form. Anything else is
 * refused, because a non-canonical password would derive different w0/w1 and fail later as WRONG_CODE.
 */
export function codePassword(canonical: string): Uint8Array {
  const format: CodeFormat = canonical.length === 6 ? "passkey" : "long";
  requireCanonical(canonical, format);
  return Uint8Array.from(canonical, (c) => c.charCodeAt(0));
}

export {
  CHECK_ALPHABET,
  DATA_ALPHABET,
  isTrivialLongData,
  LONG_PREFIX,
  trivialLongData,
  UNGENERATED_CHECK_SYMBOLS,
} from "./long.js";
export { isTrivialPasskey, PASSKEY_ACCEPT_BOUND, trivialPasskeys } from "./passkey.js";
