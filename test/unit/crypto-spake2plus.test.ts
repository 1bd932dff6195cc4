import { p256 } from "@noble/curves/nist.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromHex, toHex } from "../../src/protocol/bytes.js";
import {
  DEFAULT_PBKDF2_ITERATIONS,
  deriveW0W1,
  registrationRecord,
  SPAKE2PLUS_M,
  Spake2PlusProver,
  Spake2PlusVerifier,
  spake2plusKeySchedule,
  spake2plusProverZV,
  spake2plusTranscript,
  spake2plusVerifierZV,
} from "../../src/protocol/crypto/spake2plus.js";
import { isOpenClawError } from "../../src/protocol/errors.js";
import { seededRandom } from "../../src/protocol/random.js";
import { expectProtocolError } from "../helpers/errors.js";
import { RFC9383_VECTOR } from "../helpers/published-vectors.js";

const RFC = RFC9383_VECTOR;
const h = fromHex;
const noRandom = (): Uint8Array => {
  throw new Error("no randomness expected");
};
const rfcIds = { context: h(RFC.context), idProver: h(RFC.idProver), idVerifier: h(RFC.idVerifier) };

/** The RFC vector's prover (x fixed), as a controller would run it. */
function rfcProver(): Spake2PlusProver {
  return new Spake2PlusProver({
    ...rfcIds,
    random: noRandom,
    w0: h(RFC.w0),
    w1: h(RFC.w1),
    scalar: h(RFC.x),
  });
}

/** The RFC vector's verifier (y fixed), as a device would run it. */
function rfcVerifier(): Spake2PlusVerifier {
  return new Spake2PlusVerifier({
    ...rfcIds,
    random: noRandom,
    w0: h(RFC.w0),
    L: h(RFC.L),
    scalar: h(RFC.y),
  });
}

function expectInvalidArgument(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(isOpenClawError(err) && err.code).toBe("INVALID_ARGUMENT");
    return;
  }
  throw new Error("expected INVALID_ARGUMENT");
}

describe("SPAKE2+ RFC 9383 vector", () => {
  it("both roles reproduce shares, confirmations and K_shared byte for byte", () => {
    expect(toHex(registrationRecord(h(RFC.w1)))).toBe(RFC.L);
    const prover = rfcProver();
    const verifier = rfcVerifier();
    const X = prover.start();
    expect(toHex(X)).toBe(RFC.X);
    const { shareV, confirmV } = verifier.respond(X);
    expect(toHex(shareV)).toBe(RFC.Y);
    expect(toHex(confirmV)).toBe(RFC.confirmV);
    const p = prover.finish(shareV, confirmV);
    expect(p && toHex(p.confirmP)).toBe(RFC.confirmP);
    expect(p && toHex(p.kShared)).toBe(RFC.K_shared);
    const v = verifier.finish(h(RFC.confirmP));
    expect(v && toHex(v.kShared)).toBe(RFC.K_shared);
  });

  it("reproduces Z, V, TT and the key schedule from either side", () => {
    const fromProver = spake2plusProverZV(h(RFC.w0), h(RFC.w1), h(RFC.x), h(RFC.Y));
    const fromVerifier = spake2plusVerifierZV(h(RFC.w0), h(RFC.L), h(RFC.y), h(RFC.X));
    for (const zv of [fromProver, fromVerifier]) {
      expect(zv && toHex(zv.Z)).toBe(RFC.Z);
      expect(zv && toHex(zv.V)).toBe(RFC.V);
    }
    const TT = spake2plusTranscript({
      ...rfcIds,
      shareP: h(RFC.X),
      shareV: h(RFC.Y),
      Z: h(RFC.Z),
      V: h(RFC.V),
      w0: h(RFC.w0),
    });
    // TT starts with len(Context) as 8 bytes little-endian, and ends with len(w0) || w0.
    expect(toHex(TT.subarray(0, 8))).toBe("3800000000000000");
    expect(toHex(TT.subarray(TT.length - 40))).toBe(`2000000000000000${RFC.w0}`);
    const k = spake2plusKeySchedule(TT, h(RFC.X), h(RFC.Y));
    expect(toHex(k.K_main)).toBe(RFC.K_main);
    expect(toHex(k.K_confirmP)).toBe(RFC.K_confirmP);
    expect(toHex(k.K_confirmV)).toBe(RFC.K_confirmV);
    expect(toHex(k.K_shared)).toBe(RFC.K_shared);
  });
});

describe("deriveW0W1 (Matter-style PBKDF2)", () => {
  it("matches Matter's published test verifier (passcode 20202021, 'SPAKE2P Key Salt', 1000 iterations)", () => {
    const passcode = Buffer.alloc(4);
    passcode.writeUInt32LE(20202021);
    const { w0, w1 } = deriveW0W1(passcode, new TextEncoder().encode("SPAKE2P Key Salt"), 1000);
    expect(Buffer.concat([w0, registrationRecord(w1)]).toString("base64")).toBe(
      "uWFwqugDNGiEck/po7KHwwMwwqZgN10XuyBajPGuyzUEV/iree4lOrao5GuwnlQ65CJzbeUB49s31EH+NEkg0JVI5MGCQGMMT/SRPFNRODm3wH/MBiehuFc6FJ/NH6Rmzw==",
    );
  });

  it("defaults to 1000 iterations and enforces iterations and salt length", () => {
    expect(DEFAULT_PBKDF2_ITERATIONS).toBe(1000);
    const pw = new TextEncoder().encode("123456");
    const salt16 = new Uint8Array(16);
    expect(deriveW0W1(pw, salt16, 1000).w0).toHaveLength(32);
    expect(deriveW0W1(pw, new Uint8Array(32), 1000).w1).toHaveLength(32);
    expectInvalidArgument(() => deriveW0W1(pw, salt16, 999));
    expectInvalidArgument(() => deriveW0W1(pw, salt16, 1000.5));
    expectInvalidArgument(() => deriveW0W1(pw, salt16, Number.NaN));
    expectInvalidArgument(() => deriveW0W1(pw, salt16, 100_001));
    expectInvalidArgument(() => deriveW0W1(pw, new Uint8Array(15), 1000));
    expectInvalidArgument(() => deriveW0W1(pw, new Uint8Array(33), 1000));
  });
});

const enc = new TextEncoder();

function pair(opts: { proverCode: string; verifierCode: string; seed: string; salt?: Uint8Array }) {
  const salt = opts.salt ?? new Uint8Array(16).fill(7);
  const ids = {
    context: enc.encode("OpenClaw-Pair/1 test"),
    idProver: enc.encode("laptop"),
    idVerifier: enc.encode("claw"),
  };
  const pw = deriveW0W1(enc.encode(opts.proverCode), salt, 1000);
  const vw = deriveW0W1(enc.encode(opts.verifierCode), salt, 1000);
  const prover = new Spake2PlusProver({ ...ids, random: seededRandom(`${opts.seed}/p`), ...pw });
  const verifier = new Spake2PlusVerifier({
    ...ids,
    random: seededRandom(`${opts.seed}/v`),
    w0: vw.w0,
    L: registrationRecord(vw.w1),
  });
  return { prover, verifier, ids, pw };
}

describe("SPAKE2+ roles against each other", () => {
  it("agree on K_shared with random scalars (property)", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 12 }),
        fc.string(),
        fc.uint8Array({ minLength: 16, maxLength: 32 }),
        (code, seed, salt) => {
          const { prover, verifier } = pair({ proverCode: code, verifierCode: code, seed, salt });
          const r = verifier.respond(prover.start());
          const p = prover.finish(r.shareV, r.confirmV);
          expect(p).not.toBeNull();
          const v = verifier.finish(p!.confirmP);
          expect(v).not.toBeNull();
          expect(toHex(v!.kShared)).toBe(toHex(p!.kShared));
        },
      ),
      { numRuns: 25 },
    );
  });

  it("a wrong code fails both confirmations", () => {
    const { prover, verifier, ids, pw } = pair({
      proverCode: "123456",
      verifierCode: "123457",
      seed: "wrong",
    });
    const X = prover.start();
    const r = verifier.respond(X);
    expect(prover.finish(r.shareV, r.confirmV)).toBeNull();
    // What a prover holding the wrong code would send as confirmP (it computes it even if it ignores confirmV).
    const x = h(`${"0".repeat(63)}1`);
    const fixed = new Spake2PlusProver({ ...ids, random: noRandom, ...pw, scalar: x });
    const X2 = fixed.start();
    const verifier2 = pair({ proverCode: "x", verifierCode: "123457", seed: "wrong2" }).verifier;
    const r2 = verifier2.respond(X2);
    const zv = spake2plusProverZV(pw.w0, pw.w1, x, r2.shareV)!;
    const keys = spake2plusKeySchedule(
      spake2plusTranscript({ ...ids, shareP: X2, shareV: r2.shareV, ...zv, w0: pw.w0 }),
      X2,
      r2.shareV,
    );
    expect(verifier2.finish(keys.confirmP)).toBeNull();
  });

  it("different contexts (another device or window) fail the confirmation", () => {
    const a = pair({ proverCode: "123456", verifierCode: "123456", seed: "ctx" });
    const ids = {
      context: enc.encode("OpenClaw-Pair/1 other"),
      idProver: enc.encode("laptop"),
      idVerifier: enc.encode("claw"),
    };
    const prover = new Spake2PlusProver({ ...ids, random: seededRandom("ctx/p"), ...a.pw });
    const r = a.verifier.respond(prover.start());
    expect(prover.finish(r.shareV, r.confirmV)).toBeNull();
  });

  it("tampered confirmations are rejected", () => {
    const { prover, verifier } = pair({ proverCode: "123456", verifierCode: "123456", seed: "tamper" });
    const r = verifier.respond(prover.start());
    const badV = r.confirmV.slice();
    badV[0]! ^= 1;
    expect(prover.finish(r.shareV, badV)).toBeNull();
    expect(verifier.finish(new Uint8Array(32))).toBeNull();
  });

  it("a truncated confirmation is rejected, not thrown", () => {
    const { prover, verifier } = pair({ proverCode: "123456", verifierCode: "123456", seed: "short" });
    const r = verifier.respond(prover.start());
    const p = prover.finish(r.shareV, r.confirmV)!;
    expect(verifier.finish(p.confirmP.subarray(0, 31))).toBeNull();
  });

  it("steps out of order throw PROTOCOL_ERROR", () => {
    const { prover, verifier } = pair({ proverCode: "1", verifierCode: "1", seed: "order" });
    expectProtocolError(() => prover.finish(new Uint8Array(65), new Uint8Array(32)));
    expectProtocolError(() => verifier.finish(new Uint8Array(32)));
    const X = prover.start();
    expectProtocolError(() => prover.start());
    verifier.respond(X);
    expectProtocolError(() => verifier.respond(X));
  });
});

describe("SPAKE2+ invalid points", () => {
  const goodX = h(RFC.X);
  const offCurve = goodX.slice();
  offCurve[64]! ^= 1;
  const compressed = p256.Point.fromBytes(goodX).toBytes(true);
  const coordinateTooBig = new Uint8Array(65).fill(0xff);
  coordinateTooBig[0] = 4;
  const cases: [string, Uint8Array][] = [
    ["off the curve", offCurve],
    ["identity (0x00)", new Uint8Array([0])],
    ["all zeros, 65 bytes", new Uint8Array(65)],
    ["compressed", compressed],
    ["truncated", goodX.subarray(0, 64)],
    ["too long", new Uint8Array([...goodX, 0])],
    ["coordinates >= p", coordinateTooBig],
    ["empty", new Uint8Array(0)],
  ];

  it.each(cases)("the verifier rejects a shareP that is %s", (_, share) => {
    const verifier = rfcVerifier();
    expectProtocolError(() => verifier.respond(share));
  });

  it.each(cases)("the prover rejects a shareV that is %s", (_, share) => {
    const prover = rfcProver();
    prover.start();
    expectProtocolError(() => prover.finish(share, h(RFC.confirmV)));
  });

  it("X = w0*M (a correct w0 guess) gets an ordinary-looking answer, not an error oracle", () => {
    const w0 = h(RFC.w0);
    const X = p256.Point.fromBytes(SPAKE2PLUS_M)
      .multiply(BigInt(`0x${RFC.w0}`))
      .toBytes(false);
    const verifier = new Spake2PlusVerifier({
      ...rfcIds,
      random: seededRandom("degenerate"),
      w0,
      L: h(RFC.L),
    });
    const r = verifier.respond(X);
    expect(r.shareV).toHaveLength(65);
    expect(r.confirmV).toHaveLength(32);
    expect(verifier.finish(new Uint8Array(32))).toBeNull();
  });

  it("error messages carry no secret material", () => {
    const verifier = rfcVerifier();
    const err = expectProtocolError(() => verifier.respond(offCurve));
    for (const secret of [RFC.w0, RFC.w1, RFC.y]) expect(err.message).not.toContain(secret.slice(0, 8));
  });
});

describe("SPAKE2+ tampering (property)", () => {
  it("a bit flipped in either share is refused or fails the confirmation, never agrees", () => {
    fc.assert(
      fc.property(fc.nat(65 * 8 - 1), fc.boolean(), (bit, inShareP) => {
        const { prover, verifier } = pair({
          proverCode: "424242",
          verifierCode: "424242",
          seed: `flip-${bit}`,
        });
        const flip = (b: Uint8Array) => {
          const c = b.slice();
          c[bit >> 3]! ^= 1 << (bit & 7);
          return c;
        };
        const X = prover.start();
        let r: { shareV: Uint8Array; confirmV: Uint8Array };
        try {
          r = verifier.respond(inShareP ? flip(X) : X);
        } catch (err) {
          expect(isOpenClawError(err) && err.code).toBe("PROTOCOL_ERROR");
          return;
        }
        try {
          expect(prover.finish(inShareP ? r.shareV : flip(r.shareV), r.confirmV)).toBeNull();
        } catch (err) {
          expect(isOpenClawError(err) && err.code).toBe("PROTOCOL_ERROR");
        }
      }),
      { numRuns: 40 },
    );
  });
});
