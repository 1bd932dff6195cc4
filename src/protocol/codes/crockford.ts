/**
 * Crockford base32 (https://www.crockford.com/base32.html): the symbol set, the check symbol and the
 * decoding rules for what people type. Only what the long pairing code needs.
 */

/** The 32 data symbols, value = index. I, L, O and U are left out (look-alikes and accidental words). */
export const DATA_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** Check symbols, value = index: the 32 data symbols then `*~$=U` for values 32..36 (mod 37). */
export const CHECK_ALPHABET = `${DATA_ALPHABET}*~$=U`;

/** Crockford's decoding rule for look-alikes; applied to uppercase input only. */
const LOOK_ALIKES: Readonly<Record<string, string>> = { O: "0", I: "1", L: "1" };

export function mapLookAlikes(upper: string): string {
  return upper.replace(/[OIL]/g, (c) => LOOK_ALIKES[c] ?? c);
}

/** Value of a data symbol, or -1 (U and the check-only symbols are not data). */
export function dataValue(symbol: string): number {
  return symbol.length === 1 ? DATA_ALPHABET.indexOf(symbol) : -1;
}

/** Value of a check symbol, or -1. */
export function checkValue(symbol: string): number {
  return symbol.length === 1 ? CHECK_ALPHABET.indexOf(symbol) : -1;
}

/**
 * The check symbol of a data string: the number it encodes (base 32, most significant symbol first),
 * mod 37. Computed by Horner's rule so any length works without big integers. 37 is prime and larger
 * than 32, so changing one symbol (a difference d·32^k with 0 < |d| < 32) or swapping two adjacent
 * different ones (a difference (a−b)·31·32^k) never leaves the value unchanged mod 37.
 */
export function checkSymbol(data: string): string {
  let r = 0;
  for (const c of data) {
    const v = dataValue(c);
    if (v < 0) throw new RangeError("not a Crockford data symbol");
    r = (r * 32 + v) % 37;
  }
  return CHECK_ALPHABET[r]!;
}

/** Encodes a non-negative integer below 32^length as exactly `length` data symbols, most significant first. */
export function encodeBase32(value: number, length: number): string {
  if (!Number.isSafeInteger(value) || value < 0 || value >= 32 ** length) {
    throw new RangeError("value does not fit");
  }
  let out = "";
  let v = value;
  for (let i = 0; i < length; i++) {
    out = DATA_ALPHABET[v % 32]! + out;
    v = Math.floor(v / 32);
  }
  return out;
}
