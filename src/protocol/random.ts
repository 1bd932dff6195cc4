import { createHash } from "node:crypto";

/**
 * Randomness, injected like the clock (src/clock) so the pure protocol code runs with fixed bytes in
 * tests, benches and vector transcripts. Nothing in src/protocol calls crypto.randomBytes itself.
 */

/** Returns n uniformly random bytes. */
export type RandomBytes = (n: number) => Uint8Array;

/**
 * Deterministic randomness for tests, benches and vector transcripts: SHA-256 in counter mode over a
 * seed (block i = SHA-256(seed || i as u32 BE)), a stream any firmware author can reproduce.
 */
export function seededRandom(seed: string | Uint8Array): RandomBytes {
  const seedBytes = typeof seed === "string" ? new TextEncoder().encode(seed) : seed;
  let counter = 0;
  let pool = new Uint8Array(0);
  return (n: number) => {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (pool.length === 0) {
        const block = new Uint8Array(seedBytes.length + 4);
        block.set(seedBytes);
        new DataView(block.buffer).setUint32(seedBytes.length, counter++);
        pool = new Uint8Array(createHash("sha256").update(block).digest());
      }
      const take = Math.min(pool.length, n - filled);
      out.set(pool.subarray(0, take), filled);
      pool = pool.subarray(take);
      filled += take;
    }
    return out;
  };
}
