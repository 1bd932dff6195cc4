/** The one hex helper (src/protocol/bytes.ts): what state files, vectors and events are written with. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromHex, hexBytes, toHex } from "../../src/protocol/bytes.js";

describe("hex", () => {
  it("round-trips any bytes, lower case out, either case in", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        const h = toHex(b);
        expect(h).toMatch(/^(?:[0-9a-f]{2})*$/);
        expect(fromHex(h)).toEqual(b);
        expect(fromHex(h.toUpperCase())).toEqual(b);
      }),
    );
  });

  it("reads only the bytes of a view, not the whole buffer under it", () => {
    const whole = Uint8Array.of(1, 2, 3, 4, 5);
    expect(toHex(whole.subarray(1, 3))).toBe("0203");
    expect(toHex(Buffer.from([0xab, 0xcd]).subarray(1))).toBe("cd");
  });

  it("refuses odd lengths and non-hex characters instead of dropping them", () => {
    for (const bad of ["a", "abc", "zz", "0x12", "12 34", "é1"])
      expect(() => fromHex(bad)).toThrow(TypeError);
    expect(fromHex("")).toEqual(new Uint8Array(0));
  });

  it("as a schema: bytes out, an exact length and lower case when asked", () => {
    expect(hexBytes().parse("0A0b")).toEqual(Uint8Array.of(10, 11));
    expect(hexBytes({ lowercase: true }).safeParse("0A0b").success).toBe(false);
    expect(hexBytes({ bytes: 2 }).safeParse("0a0b").success).toBe(true);
    expect(hexBytes({ bytes: 2 }).safeParse("0a").success).toBe(false);
    expect(hexBytes().safeParse(42).success).toBe(false);
  });
});
