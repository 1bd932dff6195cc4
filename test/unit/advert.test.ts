import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  advertisedName,
  buildAdvertising,
  isOpenClaw,
  LEGACY_AD_MAX,
  makeTag,
  parseAdStructures,
  parseAdvertising,
  parseManufacturerData,
  resolveTag,
  rotateTag,
  TAG_LEN,
} from "../../src/protocol/advert.js";
import { SERVICE_UUID } from "../../src/protocol/gatt.js";
import { seededRandom } from "../../src/protocol/random.js";

const random = seededRandom("advert-test");
const deviceId = Uint8Array.from([1, 2, 3, 4, 5, 6, 0xab, 0xcd]);
const nonce = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
const tagKey = random(16);

describe("advertising payloads", () => {
  it("names the device OpenClaw-XXXX from the last bytes of its id", () => {
    expect(advertisedName(deviceId)).toBe("OpenClaw-ABCD");
  });

  it("fits each payload in 31 bytes, open or closed, with or without Tx power", () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.boolean(),
        fc.option(fc.integer({ min: -127, max: 20 }), { nil: undefined }),
        fc.string({ maxLength: 40 }),
        (open, bonds, tx, name) => {
          const p = buildAdvertising({
            name: name || advertisedName(deviceId),
            version: 1,
            windowOpen: open,
            hasBonds: bonds,
            nonce,
            tag: rotateTag(tagKey, random),
            ...(tx === undefined ? {} : { txPowerDbm: tx }),
          });
          expect(p.advertisement.length).toBeLessThanOrEqual(LEGACY_AD_MAX);
          expect(p.scanResponse.length).toBeLessThanOrEqual(LEGACY_AD_MAX);
        },
      ),
    );
    const p = buildAdvertising({
      name: "OpenClaw-ABCD",
      version: 1,
      windowOpen: true,
      hasBonds: false,
      nonce,
      txPowerDbm: 4,
    });
    expect(p.advertisement.length).toBe(24);
    expect(p.scanResponse.length).toBe(31);
  });

  it("round-trips an open window with the nonce prefix", () => {
    const p = buildAdvertising({
      name: "OpenClaw-ABCD",
      version: 1,
      windowOpen: true,
      hasBonds: true,
      nonce,
      txPowerDbm: -8,
    });
    const parsed = parseAdvertising(p.advertisement, p.scanResponse);
    expect(parsed.name).toBe("OpenClaw-ABCD");
    expect(parsed.serviceUuids).toEqual([SERVICE_UUID]);
    expect(parsed.txPowerDbm).toBe(-8);
    expect(parsed.openclaw).toEqual({
      version: 1,
      windowOpen: true,
      hasBonds: true,
      noncePrefix: nonce.subarray(0, 8),
    });
  });

  it("round-trips a closed window with a tag only the bonded controller resolves", () => {
    const tag = rotateTag(tagKey, random);
    const p = buildAdvertising({ name: "OpenClaw-ABCD", version: 1, windowOpen: false, hasBonds: true, tag });
    const parsed = parseAdvertising(p.advertisement, p.scanResponse);
    expect(parsed.openclaw).toEqual({ version: 1, windowOpen: false, hasBonds: true, tag });
    const others = [random(16), random(16)];
    expect(resolveTag(parsed.openclaw!.tag!, [...others, tagKey])).toBe(2);
    expect(resolveTag(parsed.openclaw!.tag!, others)).toBe(-1);
  });

  it("rotates tags unlinkably: a fresh prand gives unrelated bytes, both resolve", () => {
    const t1 = makeTag(tagKey, Uint8Array.of(1, 2, 3));
    const t2 = makeTag(tagKey, Uint8Array.of(1, 2, 4));
    expect(t1.length).toBe(TAG_LEN);
    expect(Buffer.compare(t1.subarray(3), t2.subarray(3))).not.toBe(0);
    expect(resolveTag(t1, [tagKey])).toBe(0);
    expect(resolveTag(t2, [tagKey])).toBe(0);
    const forged = t1.slice();
    forged[7]! ^= 1;
    expect(resolveTag(forged, [tagKey])).toBe(-1);
    expect(resolveTag(t1.subarray(0, 7), [tagKey])).toBe(-1);
  });

  it("shortens a long name instead of overflowing", () => {
    const p = buildAdvertising({
      name: "OpenClaw-Kitchen-Claw",
      version: 1,
      windowOpen: true,
      hasBonds: false,
      nonce,
    });
    const parsed = parseAdvertising(p.advertisement, p.scanResponse);
    expect(parsed.name).toBe("OpenClaw-Kitc");
    expect(parseAdStructures(p.scanResponse)[0]!.type).toBe(0x08);
  });

  it("parses noble's manufacturerData and recognises OpenClaw devices", () => {
    const p = buildAdvertising({
      name: "OpenClaw-ABCD",
      version: 1,
      windowOpen: true,
      hasBonds: false,
      nonce,
    });
    const mfr = parseAdStructures(p.scanResponse).find((s) => s.type === 0xff)!.data;
    expect(parseManufacturerData(mfr)?.windowOpen).toBe(true);
    expect(isOpenClaw({ serviceUuids: [SERVICE_UUID] })).toBe(true);
    expect(isOpenClaw({ serviceUuids: ["180d"], manufacturerData: Uint8Array.of(0x4c, 0, 1, 2) })).toBe(
      false,
    );
    expect(isOpenClaw({ manufacturerData: mfr })).toBe(true);
  });

  it("never throws on hostile advertising bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 31 }), fc.uint8Array({ maxLength: 31 }), (a, s) => {
        const parsed = parseAdvertising(a, s);
        expect(Array.isArray(parsed.serviceUuids)).toBe(true);
        parseManufacturerData(a);
      }),
    );
  });

  it("refuses to advertise an open window without its nonce or a closed one without a tag", () => {
    expect(() => buildAdvertising({ name: "x", version: 1, windowOpen: true, hasBonds: false })).toThrow(
      RangeError,
    );
    expect(() => buildAdvertising({ name: "x", version: 1, windowOpen: false, hasBonds: false })).toThrow(
      RangeError,
    );
  });
});
