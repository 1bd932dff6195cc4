import { describe, expect, it } from "vitest";
import {
  compactUuid,
  GATT_UUIDS_DASHED,
  INFO_CHAR_UUID,
  RX_CHAR_UUID,
  SERVICE_UUID,
  TX_CHAR_UUID,
  uuidFromLeBytes,
  uuidToLeBytes,
} from "../../src/protocol/gatt.js";

describe("GATT profile", () => {
  it("has fixed, distinct 128-bit UUIDs in noble/bleno form", () => {
    const all = [SERVICE_UUID, INFO_CHAR_UUID, RX_CHAR_UUID, TX_CHAR_UUID];
    for (const u of all) expect(u).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(all).size).toBe(4);
    // Changing these breaks every device in the field: pin them.
    expect(SERVICE_UUID).toBe("dd960001f4de414d99f6c24409c64cfe");
    expect(GATT_UUIDS_DASHED.tx).toBe("dd960004-f4de-414d-99f6-c24409c64cfe");
    expect(compactUuid(GATT_UUIDS_DASHED.rx)).toBe(RX_CHAR_UUID);
  });

  it("converts to and from little-endian advertising bytes", () => {
    const le = uuidToLeBytes(SERVICE_UUID);
    expect(le[0]).toBe(0xfe);
    expect(le[15]).toBe(0xdd);
    expect(uuidFromLeBytes(le)).toBe(SERVICE_UUID);
    expect(() => uuidToLeBytes("1234")).toThrow(RangeError);
  });
});
