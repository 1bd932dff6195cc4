/**
 * The discovery registry on a ManualClock: one entry per device however often it advertises, a steady
 * RSSI, window time left counted down from an info read, bonded devices recognised by their rotating
 * tag (and nobody else's), entries lost when the device goes quiet.
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock/index.js";
import type { RadioAdvert } from "../../src/daemon/core/api.js";
import { type DiscoveryEvent, DiscoveryRegistry } from "../../src/daemon/core/discovery.js";
import { makeTag } from "../../src/protocol/advert.js";
import { toHex as bytesToHex } from "../../src/protocol/bytes.js";
import type { AccessoryInfo } from "../../src/protocol/messages/info.js";
import { seededRandom } from "../../src/protocol/random.js";

const random = seededRandom("discovery");
const TAG_KEY = random(16);
const OTHER_KEY = random(16);
const DEVICE_ID = random(8);
const NONCE = random(16);

function advert(o: Partial<RadioAdvert> & { tag?: Uint8Array; open?: boolean } = {}): RadioAdvert {
  const open = o.open ?? false;
  return {
    id: o.id ?? "aabbccddeeff",
    address: o.address ?? "aa:bb:cc:dd:ee:ff",
    rssi: o.rssi ?? -60,
    name: o.name ?? "OpenClaw-1A2B",
    connectable: true,
    advert: {
      version: 1,
      windowOpen: open,
      hasBonds: !open,
      ...(open ? { noncePrefix: NONCE.slice(0, 8) } : { tag: o.tag ?? makeTag(TAG_KEY, random(3)) }),
    },
  };
}

function openInfo(timeLeftMs: number, attemptsLeft = 5): AccessoryInfo {
  return {
    protocolVersion: 1,
    deviceId: DEVICE_ID,
    name: "OpenClaw-1A2B",
    model: "m",
    firmware: "f",
    window: {
      state: "open",
      format: "passkey",
      codeSource: "device",
      nonce: NONCE,
      iterations: 1000,
      timeLeftMs,
      attemptsLeft,
    },
    bondSlots: { used: 0, total: 8 },
  };
}

function registry(o: { ttlMs?: number; rssiAlpha?: number } = {}) {
  const clock = new ManualClock(0);
  const events: DiscoveryEvent[] = [];
  const reg = new DiscoveryRegistry({ clock, ...o, onEvent: (e) => events.push(e) });
  return { clock, reg, events };
}

describe("discovery registry", () => {
  it("keeps one entry per device however many adverts it sends", () => {
    const { reg, events } = registry();
    for (let i = 0; i < 20; i++) reg.report(advert({ rssi: -60 }));
    reg.report(advert({ id: "112233445566", address: "11:22:33:44:55:66", name: "OpenClaw-9999" }));
    expect(reg.list().map((d) => d.radioId)).toEqual(["112233445566", "aabbccddeeff"].sort());
    expect(events.filter((e) => e.type === "discovered")).toHaveLength(2);
  });

  it("smooths RSSI with an EWMA, so one outlier barely moves it", () => {
    const { reg } = registry({ rssiAlpha: 0.25 });
    reg.report(advert({ rssi: -60 }));
    reg.report(advert({ rssi: -100 }));
    const d = reg.get("aabbccddeeff")!;
    expect(d.rssi).toBe(-70); // 0.25·(−100) + 0.75·(−60)
    expect(d.rssiLast).toBe(-100);
    for (let i = 0; i < 30; i++) reg.report(advert({ rssi: -80 }));
    expect(reg.get("aabbccddeeff")!.rssi).toBe(-80);
  });

  it("reports RSSI-only changes at most once a second, state changes at once", () => {
    const { clock, reg, events } = registry({ rssiAlpha: 1 });
    reg.report(advert({ rssi: -60 }));
    reg.report(advert({ rssi: -61 }));
    reg.report(advert({ rssi: -62 }));
    expect(events.filter((e) => e.type === "updated")).toHaveLength(0);
    clock.advance(1000);
    reg.report(advert({ rssi: -63 }));
    expect(events.filter((e) => e.type === "updated")).toHaveLength(1);
    reg.report(advert({ rssi: -63, open: true }));
    expect(events.filter((e) => e.type === "updated").at(-1)).toMatchObject({ device: { windowOpen: true } });
  });

  it("ages entries out on the clock and reports them lost", () => {
    const { clock, reg, events } = registry({ ttlMs: 10_000 });
    reg.report(advert());
    clock.advance(6000);
    reg.report(advert({ id: "112233445566", address: "11:22:33:44:55:66" }));
    clock.advance(4000);
    expect(events.filter((e) => e.type === "lost").map((e) => e.device.radioId)).toEqual(["aabbccddeeff"]);
    expect(reg.list().map((d) => d.radioId)).toEqual(["112233445566"]);
    clock.advance(6000);
    expect(reg.list()).toEqual([]);
    expect(clock.pending()).toEqual([]);
    // Heard again: discovered again.
    reg.report(advert());
    expect(events.at(-1)?.type).toBe("discovered");
    reg.close();
    expect(clock.size).toBe(0);
  });

  it("a device heard again before its time is not lost", () => {
    const { clock, reg, events } = registry({ ttlMs: 10_000 });
    for (let t = 0; t < 60_000; t += 5000) {
      reg.report(advert());
      clock.advance(5000);
    }
    expect(events.filter((e) => e.type === "lost")).toEqual([]);
  });

  it("resolves a bonded device's rotating tag, each new tag, and nobody else's", () => {
    const { reg } = registry();
    const id = bytesToHex(DEVICE_ID);
    reg.setKnown([{ deviceId: id, tagKey: TAG_KEY, bonded: true }]);
    reg.report(advert({ tag: makeTag(TAG_KEY, Uint8Array.of(1, 2, 3)) }));
    expect(reg.get("aabbccddeeff")).toMatchObject({ deviceId: id, bonded: true });
    reg.report(advert({ tag: makeTag(TAG_KEY, Uint8Array.of(4, 5, 6)) }));
    expect(reg.byDeviceId(id)?.radioId).toBe("aabbccddeeff");
    // A stranger's tag (another key) resolves to nothing.
    reg.report(
      advert({ id: "112233445566", address: "11:22:33:44:55:66", tag: makeTag(OTHER_KEY, random(3)) }),
    );
    expect(reg.get("112233445566")).toMatchObject({ deviceId: null, bonded: false });
    // Forgetting the bond: the tag no longer resolves.
    reg.setKnown([]);
    expect(reg.get("aabbccddeeff")).toMatchObject({ deviceId: null, bonded: false });
  });

  it("keeps a resolved id while the device advertises an open window (no tag)", () => {
    const { reg } = registry();
    const id = bytesToHex(DEVICE_ID);
    reg.setKnown([{ deviceId: id, tagKey: TAG_KEY, bonded: true }]);
    reg.report(advert());
    reg.report(advert({ open: true }));
    expect(reg.get("aabbccddeeff")).toMatchObject({ deviceId: id, windowOpen: true });
  });

  it("counts window time left down from an info read, and forgets it when the window changes", () => {
    const { clock, reg } = registry();
    reg.report(advert({ open: true }));
    expect(reg.get("aabbccddeeff")!.window).toBeNull();
    reg.noteInfo("aabbccddeeff", openInfo(120_000, 4));
    for (let i = 0; i < 6; i++) {
      clock.advance(5000);
      reg.report(advert({ open: true }));
    }
    expect(reg.get("aabbccddeeff")!.window).toEqual({
      state: "open",
      format: "passkey",
      codeSource: "device",
      timeLeftMs: 90_000,
      attemptsLeft: 4,
    });
    expect(reg.get("aabbccddeeff")!.deviceId).toBe(bytesToHex(DEVICE_ID));
    for (let i = 0; i < 40; i++) {
      clock.advance(5000);
      reg.report(advert({ open: true }));
    }
    expect(reg.get("aabbccddeeff")!.window).toMatchObject({ timeLeftMs: 0 });
    reg.report(advert({ open: false }));
    expect(reg.get("aabbccddeeff")!.window).toBeNull();
  });

  it("lists a device that changed its address once, the freshest sighting", () => {
    const { clock, reg } = registry();
    const id = bytesToHex(DEVICE_ID);
    reg.setKnown([{ deviceId: id, tagKey: TAG_KEY, bonded: true }]);
    reg.report(advert());
    clock.advance(1000);
    reg.report(advert({ id: "010203040506", address: "01:02:03:04:05:06" }));
    expect(reg.list().map((d) => d.radioId)).toEqual(["010203040506"]);
  });
});
