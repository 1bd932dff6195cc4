/**
 * The controller's bond record: its JSON form (v2 with a pending key, v1 still read) and the two-phase
 * key rotation of PROTOCOL.md §9.4, run against a device that either took the new key or never saw it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toHex as bytesToHex } from "../../src/protocol/bytes.js";
import {
  BOND_RECORD_VERSION,
  beginRotation,
  bondRecordFromJson,
  bondRecordToJson,
  type ControllerBond,
  verifiedWith,
  verifyKeys,
} from "../../src/protocol/controller/bond-record.js";
import { generateKeyPair, type KeyPair } from "../../src/protocol/crypto/noise.js";
import { isOpenClawError } from "../../src/protocol/errors.js";
import { seededRandom } from "../../src/protocol/random.js";
import {
  addBond,
  connect,
  type TestController,
  testController,
  testDevice,
} from "../../src/protocol/session/testing.js";
import { sampleBond } from "../../src/store/testing.js";
import { thrown } from "../helpers/errors.js";

const bondFor = (seed: string) => sampleBond(seed);

const roundTrip = (b: ControllerBond) => bondRecordFromJson(JSON.parse(JSON.stringify(bondRecordToJson(b))));

describe("bond record JSON", () => {
  it("writes version 2 and round-trips with and without a pending key", () => {
    const b = bondFor("rt");
    expect(bondRecordToJson(b).version).toBe(BOND_RECORD_VERSION);
    expect(bondRecordToJson(b)).not.toHaveProperty("pendingStaticPublicKey");
    expect(roundTrip(b)).toEqual(b);
    const rotating = beginRotation(b, generateKeyPair(seededRandom("new")));
    expect(roundTrip(rotating)).toEqual(rotating);
    expect(roundTrip(rotating).pendingStaticKey).toBeDefined();
  });

  it("still reads version 1 records (no rotation state)", () => {
    const b = bondFor("v1");
    const { pendingStaticPrivateKey: _a, pendingStaticPublicKey: _b, ...v2 } = bondRecordToJson(b);
    expect(bondRecordFromJson({ ...v2, version: 1 })).toEqual(b);
    // …but a v1 record cannot carry v2 fields.
    const withPending = bondRecordToJson(beginRotation(b, generateKeyPair(seededRandom("p"))));
    expect(thrown(() => bondRecordFromJson({ ...withPending, version: 1 })).code).toBe("PROTOCOL_ERROR");
  });

  it("refuses half a pending key and unknown versions", () => {
    const json = bondRecordToJson(beginRotation(bondFor("half"), generateKeyPair(seededRandom("p"))));
    const { pendingStaticPrivateKey: _, ...half } = json;
    expect(thrown(() => bondRecordFromJson(half)).code).toBe("PROTOCOL_ERROR");
    expect(thrown(() => bondRecordFromJson({ ...json, version: 3 })).code).toBe("PROTOCOL_ERROR");
    expect(thrown(() => bondRecordFromJson(null)).code).toBe("PROTOCOL_ERROR");
  });

  it("never puts a key's hex in the error for a damaged record", () => {
    const fields = [
      "controllerStaticPrivateKey",
      "controllerStaticPublicKey",
      "pendingStaticPrivateKey",
      "pendingStaticPublicKey",
      "tagKey",
    ] as const;
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.constantFrom(...fields),
        fc.nat(63),
        (key, field, at) => {
          const json: Record<string, unknown> = bondRecordToJson(
            beginRotation(bondFor("redact"), { privateKey: key, publicKey: key.map((v) => v ^ 0x5a) }),
          );
          const secrets = fields.map((f) => json[f] as string);
          // Damage one field (a non-hex character at some place), or drop another.
          const v = json[field] as string;
          json[field] = `${v.slice(0, at % v.length)}Z${v.slice((at % v.length) + 1)}`;
          let message = "";
          try {
            bondRecordFromJson(json);
          } catch (err) {
            message = isOpenClawError(err) ? `${err.message} ${JSON.stringify(err.details)}` : String(err);
          }
          expect(message).not.toBe("");
          for (const s of secrets) {
            expect(message).not.toContain(s);
            expect(message).not.toContain(s.slice(0, 16));
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("two-phase rotation (pure)", () => {
  const b = bondFor("rot");
  const k1 = generateKeyPair(seededRandom("k1"));

  it("beginRotation keeps the current key and records the new one as pending", () => {
    const r = beginRotation(b, k1);
    expect(r.controllerStaticKey).toEqual(b.controllerStaticKey);
    expect(r.pendingStaticKey).toEqual(k1);
    expect(b.pendingStaticKey).toBeUndefined(); // the input is not changed
    expect(verifyKeys(b)).toEqual([b.controllerStaticKey]);
    expect(verifyKeys(r)).toEqual([k1, b.controllerStaticKey]);
  });

  it("refuses a second rotation before the first is settled, the same key, a zero or short key", () => {
    const r = beginRotation(b, k1);
    expect(thrown(() => beginRotation(r, generateKeyPair(seededRandom("k2")))).code).toBe("INVALID_ARGUMENT");
    expect(thrown(() => beginRotation(b, b.controllerStaticKey)).code).toBe("INVALID_ARGUMENT");
    const zero = { privateKey: new Uint8Array(32), publicKey: new Uint8Array(32) };
    expect(thrown(() => beginRotation(b, zero)).code).toBe("INVALID_ARGUMENT");
    const short = { privateKey: new Uint8Array(31).fill(1), publicKey: new Uint8Array(31).fill(1) };
    expect(thrown(() => beginRotation(b, short)).code).toBe("INVALID_ARGUMENT");
  });

  it("verifiedWith promotes a pending key that verified, drops it when the old key verified", () => {
    const r = beginRotation(b, k1);
    const promoted = verifiedWith(r, k1);
    expect(promoted.controllerStaticKey).toEqual(k1);
    expect(promoted.pendingStaticKey).toBeUndefined();
    expect("pendingStaticKey" in promoted).toBe(false);
    const dropped = verifiedWith(r, b.controllerStaticKey);
    expect(dropped).toEqual(b);
    expect(verifiedWith(b, b.controllerStaticKey)).toEqual(b);
    expect(thrown(() => verifiedWith(b, k1)).code).toBe("INTERNAL");
  });
});

describe("two-phase rotation against a device", () => {
  /** Tries each key verifyKeys gives, as the daemon will; returns the key that verified. */
  function verifyAny(d: ReturnType<typeof testDevice>, c: TestController, bond: ControllerBond): KeyPair {
    for (const keys of verifyKeys(bond)) {
      try {
        connect(d, { ...c, keys });
        return keys;
      } catch (err) {
        if (!isOpenClawError(err) || err.code !== "UNKNOWN_PEER") throw err;
      }
    }
    throw new Error("no key verified");
  }

  function setup(seed: string) {
    const d = testDevice(seed);
    const c = testController(seed);
    addBond(d, c, "admin");
    const bond: ControllerBond = {
      ...bondFor(seed),
      controllerStaticKey: c.keys,
      controllerId: c.controllerId,
    };
    return { d, c, bond };
  }

  it("the device took the new key but the response was lost: the pending key verifies and is promoted", () => {
    const { d, c, bond } = setup("lost-response");
    const next = generateKeyPair(seededRandom("next"));
    const pending = beginRotation(bond, next); // persisted before sending
    const link = connect(d, c, { manual: true });
    void link.client.rotate(next).catch(() => {});
    // The request reaches the device; its response never reaches us.
    for (const m of link.queue.splice(0)) link.session.handle(m);
    expect(thrown(() => connect(d, c)).code).toBe("UNKNOWN_PEER"); // the old key is gone on the device
    const used = verifyAny(d, c, pending);
    expect(bytesToHex(used.publicKey)).toBe(bytesToHex(next.publicKey));
    const settled = verifiedWith(pending, used);
    expect(settled.controllerStaticKey).toEqual(next);
    expect(verifyAny(d, c, settled)).toEqual(next);
  });

  it("the rotate never reached the device: the old key verifies and the pending one is dropped", () => {
    const { d, c, bond } = setup("never-sent");
    const pending = beginRotation(bond, generateKeyPair(seededRandom("next")));
    const used = verifyAny(d, c, pending);
    expect(used).toEqual(c.keys);
    const settled = verifiedWith(pending, used);
    expect(settled).toEqual(bond);
  });
});
