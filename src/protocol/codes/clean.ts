/**
 * The first step of normalising what a person typed, shared by both formats: Unicode compatibility
 * folding (full-width digits and letters from some keyboards and IMEs), upper case, and removal of the
 * separators people add or copy along (spaces of any kind, dashes of any kind, underscores, dots).
 */

/** Far longer than any code plus separators; longer input is refused before any work is done on it. */
export const MAX_INPUT_LENGTH = 64;

// \s covers tabs, newlines, NBSP and the other Unicode spaces; the dash class covers what word processors
// and web pages substitute for "-" (hyphen, non-breaking hyphen, figure dash, en/em dash, minus sign).
const SEPARATORS = /[\s\-_.\u2010-\u2015\u2212\u30FB\uFF0D\uFF3F\uFF0E]/g;

/** Returns the typed text folded to upper case without separators, or undefined if it is not usable text. */
export function cleanInput(input: unknown): string | undefined {
  if (typeof input !== "string" || input.length > MAX_INPUT_LENGTH) return undefined;
  return input.normalize("NFKC").toUpperCase().replace(SEPARATORS, "");
}
