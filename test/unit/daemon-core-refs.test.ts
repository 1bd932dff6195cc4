/**
 * Device references as a person types them: an id, an id prefix, a name or an address, matched against
 * this laptop's bonds and what the scan hears. Exact matches beat prefixes; anything ambiguous lists
 * the candidates instead of guessing.
 */
import { describe, expect, it } from "vitest";
import type { BondInfo, DiscoveredDevice } from "../../src/daemon/core/api.js";
import { deviceCandidates, matchDevice } from "../../src/daemon/core/refs.js";
import { thrown } from "../helpers/errors.js";

function bond(deviceId: string, name: string): BondInfo {
  return {
    deviceId,
    name,
    model: "m",
    firmware: "f",
    role: "admin",
    pairedAt: 0,
    lastVerifiedAt: null,
    address: null,
    lastSeenAt: null,
    inRange: false,
    radioId: null,
    rssi: null,
    connected: false,
  };
}

function seen(radioId: string, name: string | null, deviceId: string | null = null): DiscoveredDevice {
  return {
    radioId,
    address: radioId.match(/../g)!.join(":"),
    name,
    rssi: -60,
    rssiLast: -60,
    lastSeen: 0,
    connectable: true,
    protocolVersion: 1,
    windowOpen: deviceId === null,
    hasBonds: deviceId !== null,
    window: null,
    deviceId,
    bonded: deviceId !== null,
  };
}

const bonds = [bond("a1b2c3d4e5f60718", "kitchen claw"), bond("a1b2ffff00001111", "OpenClaw-1111")];
const heard = [
  seen("aabbccddeeff", "kitchen claw", "a1b2c3d4e5f60718"),
  seen("112233445566", "OpenClaw-7A7A"),
  seen("665544332211", "OpenClaw-7A7A"),
];
const all = deviceCandidates(bonds, heard);

const refused = (ref: string) => thrown(() => matchDevice(ref, all));

describe("device references", () => {
  it("merges a bonded device with its sighting (one candidate, with its address)", () => {
    expect(all).toHaveLength(4);
    const k = all.find((c) => c.deviceId === "a1b2c3d4e5f60718")!;
    expect(k).toMatchObject({ radioId: "aabbccddeeff", address: "aa:bb:cc:dd:ee:ff", name: "kitchen claw" });
    expect(k.bond).not.toBeNull();
    expect(k.discovered).not.toBeNull();
  });

  it("resolves an id, an id prefix, a name (any case) and an address (with or without colons)", () => {
    expect(matchDevice("a1b2c3d4e5f60718", all).deviceId).toBe("a1b2c3d4e5f60718");
    expect(matchDevice("A1B2C3", all).deviceId).toBe("a1b2c3d4e5f60718");
    expect(matchDevice("Kitchen Claw", all).deviceId).toBe("a1b2c3d4e5f60718");
    expect(matchDevice("AA:BB:CC:DD:EE:FF", all).deviceId).toBe("a1b2c3d4e5f60718");
    expect(matchDevice("112233445566", all)).toMatchObject({ radioId: "112233445566", bond: null });
    expect(matchDevice("openclaw-1111", all)).toMatchObject({ deviceId: "a1b2ffff00001111", radioId: null });
  });

  it("an exact name beats an id prefix", () => {
    const c = deviceCandidates([bond("abcd000000000000", "x"), bond("1234000000000000", "abcd")], []);
    expect(matchDevice("abcd", c).deviceId).toBe("1234000000000000");
  });

  it("an ambiguous prefix or name lists the candidates", () => {
    const p = refused("a1b2");
    expect(p.code).toBe("AMBIGUOUS_DEVICE");
    expect(p.details).toEqual({
      query: "a1b2",
      candidates: ["kitchen claw (a1b2c3d4e5f60718)", "OpenClaw-1111 (a1b2ffff00001111)"],
    });
    const n = refused("openclaw-7a7a");
    expect(n.code).toBe("AMBIGUOUS_DEVICE");
    expect(n.message).toContain("matches 2 devices");
    expect(n.details).toMatchObject({
      candidates: ["OpenClaw-7A7A (11:22:33:44:55:66)", "OpenClaw-7A7A (66:55:44:33:22:11)"],
    });
  });

  it("nothing matching is NO_SUCH_DEVICE naming what was typed", () => {
    const e = refused("garage");
    expect(e.code).toBe("NO_SUCH_DEVICE");
    expect(e.message).toBe('no device matches "garage"');
    expect(refused("  ").code).toBe("NO_SUCH_DEVICE");
    expect(refused("ff").code).toBe("NO_SUCH_DEVICE");
  });
});
