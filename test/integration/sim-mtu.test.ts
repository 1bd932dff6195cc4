/**
 * The whole protocol at the smallest and a large ATT MTU: 23 (every message and the info read are
 * fragmented into 20-byte frames) and 247. The air runs with strictAtt, so an ATT PDU larger than the
 * negotiated MTU would be flagged as a violation.
 */
import { describe, expect, it } from "vitest";
import type { Violation } from "../../firmware-sim/air/index.js";
import type { TestAir } from "../../rig/radio.js";
import { startDriver } from "../helpers/driver.js";
import { startSim, useSimAir } from "./sim-harness.js";

let t: TestAir;
const violations: Violation[] = [];
useSimAir((air) => {
  t = air;
}, violations);

describe("openclaw sim: ATT MTU", () => {
  for (const mtu of [23, 247]) {
    it(`pair-setup, verify and session at ATT MTU ${mtu}`, async () => {
      const laptop = startDriver(t.spec(`laptop-${mtu}`), { maxMtu: mtu });
      // The device caps the MTU as well, so both sides' limits are exercised.
      const dev = await startSim(t, `dev-${mtu}`, { args: ["--max-mtu", String(mtu)] });
      await laptop.ready();
      const found = await laptop.find(dev.ready.name);
      const link = await laptop.connect(found.id);
      expect(link.mtu).toBe(mtu);
      const seen = await dev.next("mtu", 5000);
      expect(seen.mtu).toBe(mtu);

      // The info payload is longer than 22 bytes: at MTU 23 it takes a read and read blobs.
      const info = (await laptop.info()) as { name: string; window: { state: string } };
      expect(info).toMatchObject({ name: dev.ready.name, window: { state: "open" } });

      const before = t.air.counters().find((c) => c.connected)?.packetsToPeripheral ?? 0;
      expect(await laptop.pair(dev.firstDisplay!.code)).toMatchObject({ role: "admin" });
      const after = t.air.counters().find((c) => c.connected)?.packetsToPeripheral ?? 0;
      // PairSetupStart alone (a 65-byte point plus TLV) needs more than one 20-byte frame at MTU 23.
      if (mtu === 23) expect(after - before).toBeGreaterThan(6);

      await laptop.disconnect();
      const again = await laptop.find(dev.ready.name);
      await laptop.connect(again.id);
      expect(await laptop.verify()).toEqual({ role: "admin" });
      expect(await laptop.app(2, "01")).toBe("01");
      expect(await laptop.listPairings()).toHaveLength(1);
      expect(violations).toEqual([]);
    }, 60_000);
  }
});
