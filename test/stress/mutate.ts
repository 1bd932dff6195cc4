/**
 * Hostile variants of a valid message: a flipped bit, a byte replaced, cut short, extended, a chunk
 * spliced in, another message of the transcript in its place, or bytes from nowhere.
 */
import fc from "fast-check";
import { concatBytes } from "../../src/protocol/crypto/primitives.js";

export function mutated(base: Uint8Array, others: readonly Uint8Array[] = []): fc.Arbitrary<Uint8Array> {
  const n = Math.max(1, base.length);
  const at = fc.nat({ max: n - 1 });
  const variants: fc.Arbitrary<Uint8Array>[] = [
    fc.tuple(at, fc.integer({ min: 0, max: 7 })).map(([i, bit]) => {
      const b = base.slice();
      if (b.length > 0) b[i % b.length]! ^= 1 << bit;
      return b;
    }),
    fc.tuple(at, fc.integer({ min: 0, max: 255 })).map(([i, v]) => {
      const b = base.slice();
      if (b.length > 0) b[i % b.length] = v;
      return b;
    }),
    at.map((i) => base.slice(0, i)),
    fc.uint8Array({ minLength: 1, maxLength: 64 }).map((tail) => concatBytes(base, tail)),
    fc
      .tuple(at, fc.uint8Array({ minLength: 1, maxLength: 32 }))
      .map(([i, chunk]) => concatBytes(base.subarray(0, i), chunk, base.subarray(i))),
    fc.uint8Array({ minLength: 0, maxLength: 300 }),
  ];
  if (others.length > 0) variants.push(fc.constantFrom(...others));
  return fc.oneof(...variants);
}

/** Runs fn; an OpenClawError is an answer, anything else thrown is a crash (rethrown). */
export function typedOnly<T>(fn: () => T, isTyped: (e: unknown) => boolean): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (isTyped(err)) return undefined;
    throw err;
  }
}
