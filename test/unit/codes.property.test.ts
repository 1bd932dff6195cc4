/**
 * Property tests for pairing codes: what the generator promises (never trivial, canonical, uniform) and
 * what the check symbol promises (every single substitution and adjacent transposition caught).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkSymbol } from "../../src/protocol/codes/crockford.js";
import {
  CHECK_ALPHABET,
  type CodeFormat,
  DATA_ALPHABET,
  displayCode,
  generateCode,
  isTrivialLongData,
  isTrivialPasskey,
  normaliseCode,
  PASSKEY_ACCEPT_BOUND,
  trivialLongData,
  trivialPasskeys,
  UNGENERATED_CHECK_SYMBOLS,
} from "../../src/protocol/codes/index.js";
import { longFromDraw } from "../../src/protocol/codes/long.js";
import { type ErrorCode, isOpenClawError, OpenClawError } from "../../src/protocol/errors.js";
import { type RandomBytes, seededRandom } from "../../src/protocol/random.js";

const seedArb = fc.uint8Array({ minLength: 8, maxLength: 16 });
const formatArb = fc.constantFrom<CodeFormat>("passkey", "long");

/** A canonical long code built from any 8 data symbols (trivial ones included: typing them must work). */
const longArb = fc
  .array(fc.constantFrom(...DATA_ALPHABET), { minLength: 8, maxLength: 8 })
  .map((a) => a.join(""))
  .map((data) => data + checkSymbol(data));
const passkeyArb = fc.integer({ min: 0, max: 999_999 }).map((n) => String(n).padStart(6, "0"));

function outcome(input: string, format: CodeFormat): string | { error: ErrorCode } {
  try {
    return normaliseCode(input, format);
  } catch (err) {
    if (!isOpenClawError(err)) throw err;
    // Nothing typed reaches the error: it is exactly what the catalogue builds from its fixed details.
    const expectedDetails = err.code === "MALFORMED_CODE" ? { expected: format } : {};
    expect(err.toJSON()).toEqual(new OpenClawError(err.code, expectedDetails as never).toJSON());
    expect(err.cause).toBeUndefined();
    return { error: err.code };
  }
}

/** Re-types a canonical code the way a person might: case, look-alikes, separators, the OCL prefix. */
function noisy(canonical: string, format: CodeFormat): fc.Arbitrary<string> {
  const sep = fc.constantFrom("", "", " ", "-", "_", ".", "  ", "\t", "–", " - ");
  const symbol = (c: string): fc.Arbitrary<string> => {
    const variants =
      c === "0" ? ["0", "O", "o"] : c === "1" ? ["1", "I", "i", "L", "l"] : [c, c.toLowerCase()];
    return fc.constantFrom(...variants);
  };
  const prefix = format === "long" ? fc.constantFrom("", "OCL", "ocl", "0CL", "Ocl", "OC1") : fc.constant("");
  return fc
    .tuple(
      prefix,
      fc.tuple(...[...canonical].map((c) => fc.tuple(sep, symbol(c)))),
      fc.constantFrom("", " ", "\n"),
      fc.constantFrom("", " ", "\t"),
    )
    .map(([p, parts, lead, trail]) => lead + p + parts.map(([s, c]) => s + c).join("") + trail);
}

describe("generated codes", () => {
  it("are never trivial and normalise and display back to themselves", () => {
    fc.assert(
      fc.property(seedArb, formatArb, (seed, format) => {
        const code = generateCode(format, seededRandom(seed));
        expect(format === "passkey" ? isTrivialPasskey(code) : isTrivialLongData(code.slice(0, 8))).toBe(
          false,
        );
        expect(normaliseCode(code, format)).toBe(code);
        expect(normaliseCode(displayCode(code, format), format)).toBe(code);
      }),
      { numRuns: 500 },
    );
  });

  it("skip biased and trivial passkey draws, whatever comes first in the random stream", () => {
    const u24 = (v: number) => Uint8Array.of(v >>> 16, (v >>> 8) & 0xff, v & 0xff);
    const trivial = trivialPasskeys().map(Number);
    // A rejected draw: a trivial passkey (any of its 16 preimages) or a value at or above the bound.
    const rejectedDraw = fc.oneof(
      fc
        .tuple(fc.constantFrom(...trivial), fc.integer({ min: 0, max: 15 }))
        .map(([t, m]) => t + m * 1_000_000),
      fc.integer({ min: PASSKEY_ACCEPT_BOUND, max: 2 ** 24 - 1 }),
    );
    fc.assert(
      fc.property(fc.array(rejectedDraw, { maxLength: 6 }), seedArb, (rejected, seed) => {
        const rest = seededRandom(seed);
        const queue = rejected.map(u24);
        let drawn = 0;
        const random: RandomBytes = (n) => {
          drawn++;
          return queue.shift() ?? rest(n);
        };
        const code = generateCode("passkey", random);
        expect(isTrivialPasskey(code)).toBe(false);
        expect(drawn).toBeGreaterThan(rejected.length);
      }),
    );
  });

  it("accept a long draw exactly when its data is not trivial and its check value is below 32, one code per draw", () => {
    // Rejection sampling over a bijection (draw ↔ data string): every accepted code is equally likely.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 5, maxLength: 5 }), (bytes) => {
        let v = 0;
        for (const b of bytes) v = v * 256 + b;
        const code = longFromDraw(bytes);
        const data = [...v.toString(32).padStart(8, "0")]
          .map((d) => DATA_ALPHABET[Number.parseInt(d, 32)])
          .join("");
        const accept = !isTrivialLongData(data) && v % 37 < 32;
        expect(code).toBe(accept ? data + CHECK_ALPHABET[v % 37] : undefined);
        if (code) expect(UNGENERATED_CHECK_SYMBOLS).not.toContain(code[8]);
      }),
      { numRuns: 2000 },
    );
  });

  it("never end a generated long code in * ~ $ = or U", () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const code = generateCode("long", seededRandom(seed));
        expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{9}$/);
      }),
      { numRuns: 1000 },
    );
  });

  it("skip trivial long draws", () => {
    const trivialData = [
      ...[...DATA_ALPHABET].map((c) => c.repeat(8)),
      ...Array.from({ length: 25 }, (_, i) => DATA_ALPHABET.slice(i, i + 8)),
      ...Array.from({ length: 25 }, (_, i) => [...DATA_ALPHABET.slice(i, i + 8)].reverse().join("")),
    ];
    const toBytes = (data: string) => {
      let v = 0;
      for (const c of data) v = v * 32 + DATA_ALPHABET.indexOf(c);
      return Uint8Array.from({ length: 5 }, (_, i) => Math.floor(v / 256 ** (4 - i)) % 256);
    };
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...trivialData), { maxLength: 4 }), seedArb, (bad, seed) => {
        for (const t of bad) expect(isTrivialLongData(t)).toBe(true);
        const rest = seededRandom(seed);
        const queue = bad.map(toBytes);
        const code = generateCode("long", (n) => queue.shift() ?? rest(n));
        expect(queue).toHaveLength(0);
        expect(isTrivialLongData(code.slice(0, 8))).toBe(false);
      }),
    );
  });
});

describe("trivial long data", () => {
  it("isTrivialLongData agrees with the listed set on any data string", () => {
    const listed = new Set(trivialLongData());
    const dataArb = fc.oneof(
      fc.array(fc.constantFrom(...DATA_ALPHABET), { minLength: 8, maxLength: 8 }).map((a) => a.join("")),
      // Strings near the trivial ones: a trivial string with one symbol changed.
      fc
        .tuple(fc.constantFrom(...listed), fc.nat(7), fc.constantFrom(...DATA_ALPHABET))
        .map(([t, i, c]) => t.slice(0, i) + c + t.slice(i + 1)),
    );
    fc.assert(
      fc.property(dataArb, (d) => {
        expect(isTrivialLongData(d)).toBe(listed.has(d));
      }),
      { numRuns: 2000 },
    );
  });
});

describe("normalisation", () => {
  it("maps noisy re-typing (case, separators, look-alikes, prefix) to the same long code", () => {
    fc.assert(
      fc.property(
        longArb.chain((c) => noisy(c, "long").map((typed) => [c, typed] as const)),
        ([canonical, typed]) => {
          expect(normaliseCode(typed, "long")).toBe(canonical);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("maps noisy re-typing to the same passkey", () => {
    fc.assert(
      fc.property(
        passkeyArb.chain((c) => noisy(c, "passkey").map((typed) => [c, typed] as const)),
        ([canonical, typed]) => {
          expect(normaliseCode(typed, "passkey")).toBe(canonical);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("round-trips display → normalise for any canonical code", () => {
    fc.assert(
      fc.property(longArb, (c) => {
        expect(normaliseCode(displayCode(c, "long"), "long")).toBe(c);
      }),
    );
    fc.assert(
      fc.property(passkeyArb, (c) => {
        expect(normaliseCode(displayCode(c, "passkey"), "passkey")).toBe(c);
      }),
    );
  });

  it("catches every single-symbol substitution in a long code (exhaustive over positions and symbols)", () => {
    fc.assert(
      fc.property(longArb, (code) => {
        for (let pos = 0; pos < code.length; pos++) {
          const alphabet = pos < 8 ? DATA_ALPHABET : CHECK_ALPHABET;
          for (const s of alphabet) {
            if (s === code[pos]) continue;
            const typo = code.slice(0, pos) + s + code.slice(pos + 1);
            expect(outcome(typo, "long")).toEqual({ error: "BAD_CHECK_CHARACTER" });
          }
          // A check-only symbol (or U) in a data position is not even well-formed.
          if (pos < 8) {
            for (const s of "*~$=U") {
              expect(outcome(code.slice(0, pos) + s + code.slice(pos + 1), "long")).toEqual({
                error: "MALFORMED_CODE",
              });
            }
          }
        }
      }),
      { numRuns: 100 },
    );
  });

  it("catches every transposition of adjacent different symbols, the check symbol included", () => {
    fc.assert(
      fc.property(longArb, (code) => {
        for (let i = 0; i + 1 < code.length; i++) {
          const a = code[i]!;
          const b = code[i + 1]!;
          if (a === b) continue;
          const swapped = code.slice(0, i) + b + a + code.slice(i + 2);
          const result = outcome(swapped, "long");
          // A check-only symbol moved into the data is malformed; every other swap is a check mismatch.
          const expected = DATA_ALPHABET.includes(b) ? "BAD_CHECK_CHARACTER" : "MALFORMED_CODE";
          expect(result).toEqual({ error: expected });
        }
      }),
      { numRuns: 500 },
    );
  });

  it("never throws anything but OpenClawError, and what it returns is canonical", () => {
    const interesting = fc.string({
      unit: fc.constantFrom(..."0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcxyzoil*~$=u -_.\t–#é１Ｏ\u0000"),
      maxLength: 20,
    });
    const anything = fc.oneof(
      interesting,
      fc.string({ unit: "binary", maxLength: 80 }),
      fc.string({ maxLength: 80 }),
    );
    fc.assert(
      fc.property(anything, formatArb, (input, format) => {
        const r = outcome(input, format);
        if (typeof r === "string") {
          expect(normaliseCode(r, format)).toBe(r);
          expect(r).toMatch(
            format === "passkey" ? /^[0-9]{6}$/ : /^[0-9A-HJKMNP-TV-Z]{8}[0-9A-HJKMNP-TV-Z*~$=U]$/,
          );
        } else {
          expect(["MALFORMED_CODE", "BAD_CHECK_CHARACTER"]).toContain(r.error);
          if (format === "passkey") expect(r.error).toBe("MALFORMED_CODE");
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe("distribution (seeded, so the verdict is deterministic)", () => {
  /** Pearson's chi-squared statistic against a uniform distribution over `bins`. */
  function chiSquared(counts: number[], total: number): number {
    const expected = total / counts.length;
    return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
  }

  // Critical values of the chi-squared distribution at p = 0.001 (9 and 31 degrees of freedom).
  const CRITICAL_DF9 = 27.877;
  const CRITICAL_DF31 = 61.098;
  // Large enough that the modulo bias a naive `v mod 10^6` would have is detected (see the last test).
  const PASSKEY_SAMPLE = 200_000;

  it("passkey first and last digits are uniform", () => {
    const random = seededRandom("codes.property chi-squared passkey");
    const n = PASSKEY_SAMPLE;
    const first = new Array<number>(10).fill(0);
    const last = new Array<number>(10).fill(0);
    for (let i = 0; i < n; i++) {
      const c = generateCode("passkey", random);
      first[Number(c[0])]!++;
      last[Number(c[5])]!++;
    }
    expect(chiSquared(first, n)).toBeLessThan(CRITICAL_DF9);
    expect(chiSquared(last, n)).toBeLessThan(CRITICAL_DF9);
  });

  it("long-code first and last data symbols are uniform", () => {
    const random = seededRandom("codes.property chi-squared long");
    const n = 32_000;
    const first = new Array<number>(32).fill(0);
    const last = new Array<number>(32).fill(0);
    for (let i = 0; i < n; i++) {
      const c = generateCode("long", random);
      first[DATA_ALPHABET.indexOf(c[0]!)]!++;
      last[DATA_ALPHABET.indexOf(c[7]!)]!++;
    }
    expect(chiSquared(first, n)).toBeLessThan(CRITICAL_DF31);
    expect(chiSquared(last, n)).toBeLessThan(CRITICAL_DF31);
  });

  it("the test has teeth: the modulo-biased passkey mapping fails it", () => {
    // v mod 10^6 over all 24-bit v without rejection: digits 0–6 lead 17 of 16 times as often. Count
    // the exact preimages (no sampling) scaled to the sample size used above.
    const first = new Array<number>(10).fill(0);
    for (let v = 0; v < 2 ** 24; v += 1) first[Math.floor((v % 1_000_000) / 100_000)]!++;
    const scale = 200_000 / 2 ** 24;
    expect(
      chiSquared(
        first.map((c) => c * scale),
        200_000,
      ),
    ).toBeGreaterThan(CRITICAL_DF9);
  });
});
