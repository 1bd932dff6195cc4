/**
 * The laptop's GATT handle cache (src/radio/gatt-cache.ts) with the real noble (the test driver, i.e.
 * src/radio/central.ts) and the real bleno on the virtual air: a second connection to a device finds no
 * discovery PDU on the air, and a device whose GATT moved (an update added a service before ours) still
 * connects and reads correctly, by the fallback to full discovery.
 */
import { describe, expect, it } from "vitest";
import type { AttPduEvent, Violation } from "../../firmware-sim/air/index.js";
import { type Child, type ChildEvent, spawnProgram } from "../../rig/proc.js";
import type { TestAir } from "../../rig/radio.js";
import { useAirSuite } from "../helpers/air-suite.js";
import { startDriver } from "../helpers/driver.js";

let t: TestAir;
const violations: Violation[] = [];
useAirSuite({
  started: (air) => {
    t = air;
  },
  violations,
  killAfterEach: true,
});

/** Read By Group Type, Read By Type and Find Information requests: what discovery asks. */
const DISCOVERY = new Set([0x10, 0x08, 0x04]);

function attCounter(peripheral: string) {
  const requests: number[] = [];
  const on = (e: AttPduEvent) => {
    if (e.peripheral === peripheral && e.fromCentral && e.opcode !== undefined) requests.push(e.opcode);
  };
  t.air.on("att", on);
  return {
    /** Discovery requests since the last take(). */
    take(): number {
      const n = requests.filter((op) => DISCOVERY.has(op)).length;
      requests.length = 0;
      return n;
    },
    stop: () => t.air.off("att", on),
  };
}

async function startDevice(label: string): Promise<Child<ChildEvent & { [k: string]: unknown }>> {
  const dev = spawnProgram<ChildEvent & { [k: string]: unknown }>("test/fixtures/gatt-device.js", {
    name: label,
    hci: t.spec(label),
    args: [label],
  });
  await dev.waitFor((e) => e.type === "state" && e.state === "poweredOn", 5000, `${label} poweredOn`);
  await dev.call("advertise", {}, 5000);
  return dev;
}

describe("GATT handle cache over the air", () => {
  it("reconnects on cached handles without discovery, and falls back when the device's GATT moved", async () => {
    const dev = await startDevice("gatt-dev");
    const laptop = startDriver(t.spec("gatt-laptop"), { name: "gatt-laptop" });
    const att = attCounter("gatt-dev");
    try {
      const { id } = await laptop.find("gatt-dev");
      const session = async (firmware: string) => {
        const subscribed = dev.next("subscribe", 5000, "the device seeing tx subscribed");
        await laptop.connect(id);
        await subscribed;
        expect((await laptop.info()).firmware).toBe(firmware);
        await laptop.disconnect();
        await dev.next("disconnect", 5000);
      };

      await session("1.0.0");
      expect(att.take()).toBeGreaterThan(0); // first contact: full discovery

      await session("1.0.0");
      expect(att.take()).toBe(0); // cached: not one discovery PDU

      // An update moves every handle of ours (by 3, 5, 7 and 9 attributes: a service and 1-4 characteristics): the cached CCCD write is refused,
      // the laptop discovers again on the same link, and the new layout is cached in turn. Nothing of
      // the device is written on the way (a stale handle that took the write would show here).
      for (const extra of [1, 2, 3, 4]) {
        await dev.call("relayout", { extra });
        await session("1.0.0");
        expect(att.take(), `fallback with ${extra} more`).toBeGreaterThan(0);
        await session("1.0.0");
        expect(att.take(), `cached again with ${extra} more`).toBe(0);
      }
      expect(dev.events.filter((e) => e.type === "write" || e.type === "fillerWrite")).toEqual([]);

      // A different firmware version read from info: the next connection discovers again.
      await dev.call("setFirmware", { firmware: "1.1.0" });
      await session("1.1.0");
      expect(att.take()).toBe(0); // the handles still held; the info read drops them
      await session("1.1.0");
      expect(att.take()).toBeGreaterThan(0);
      await session("1.1.0");
      expect(att.take()).toBe(0);
      expect(violations).toEqual([]);
    } finally {
      att.stop();
    }
  }, 90_000);
});
