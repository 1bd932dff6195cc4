import { createHash } from "node:crypto";

/**
 * What the pure protocol code needs from the outside world, injected so tests can drive it with a fake
 * clock and fixed randomness. Nothing in src/protocol reads Date, performance or crypto.randomBytes.
 */

/** A monotonic clock in milliseconds. Never the wall clock: a wall-clock jump must not change expiry. */
export interface MonotonicClock {
  now(): number;
}

/** Returns n uniformly random bytes. */
export type RandomBytes = (n: number) => Uint8Array;

export interface ProtocolEnv {
  clock: MonotonicClock;
  random: RandomBytes;
}

/** A clock a test moves by hand. */
export class FakeClock implements MonotonicClock {
  constructor(private t = 0) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    if (ms < 0) throw new RangeError("a monotonic clock never goes back");
    this.t += ms;
  }
}

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
