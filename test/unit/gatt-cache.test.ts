import { describe, expect, it } from "vitest";
import { type CachedGatt, GattCache, propertyNames } from "../../src/radio/gatt-cache.js";

const entry = (advertVersion: number | null): CachedGatt => ({
  advertVersion,
  service: { uuid: "s", startHandle: 10, endHandle: 20 },
  characteristics: [{ uuid: "t", startHandle: 11, valueHandle: 12, endHandle: 13, properties: 0x10 }],
  txCccd: 13,
});

describe("GattCache", () => {
  it("keeps a device's handles until its advertised protocol version changes", () => {
    const c = new GattCache();
    c.set("dev", entry(1));
    expect(c.get("dev", 1)?.txCccd).toBe(13);
    expect(c.get("dev", 2)).toBeUndefined();
    expect(c.get("dev", 1)).toBeUndefined(); // dropped, not just hidden
  });

  it("drops the handles when the firmware read from info differs from the last one, not the first time", () => {
    const c = new GattCache();
    c.set("dev", entry(null));
    c.noteFirmware("dev", "1.0.0");
    c.noteFirmware("dev", "1.0.0");
    expect(c.has("dev")).toBe(true);
    c.noteFirmware("dev", "1.1.0");
    expect(c.has("dev")).toBe(false);
    c.set("dev", entry(null));
    c.noteFirmware("other", "9");
    expect(c.has("dev")).toBe(true);
  });

  it("forgets on request", () => {
    const c = new GattCache();
    c.set("dev", entry(null));
    c.forget("dev");
    expect(c.get("dev", null)).toBeUndefined();
  });

  it("names property bits as noble does", () => {
    expect(propertyNames(0x02 | 0x04 | 0x08 | 0x10)).toEqual([
      "read",
      "writeWithoutResponse",
      "write",
      "notify",
    ]);
  });
});
