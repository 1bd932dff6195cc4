/** Five bleno peripherals, each in its own process, and one noble central on the virtual air. */
import { describe, expect, it } from "vitest";
import type { Violation } from "../../firmware-sim/air/index.js";
import type { Child } from "../../rig/proc.js";
import { FIXTURE_READ, FIXTURE_SERVICE } from "../../rig/programs/uuids.js";
import {
  type DiscoverEvent,
  discovered,
  type PeripheralEvent,
  startCentral,
  startPeripheral,
  type TestAir,
} from "../../rig/radio.js";
import { useAirSuite } from "../helpers/air-suite.js";

let t: TestAir;
const violations: Violation[] = [];
useAirSuite({
  started: (air) => {
    t = air;
  },
  violations,
});

describe("five peripherals at once", () => {
  it("are all discovered and each connected in turn", async () => {
    const names = [1, 2, 3, 4, 5].map((i) => `Claw-${i}`);
    const [central, ...devs] = await Promise.all([
      startCentral(t, "laptop"),
      ...names.map((n, i) => startPeripheral(t, `dev${i + 1}`, n, 8000)),
    ]);
    const addresses = new Set(t.air.controllers().map((c) => c.address));
    expect(addresses.size).toBe(6);

    await central!.call("scan", { services: [FIXTURE_SERVICE] });
    const found: DiscoverEvent[] = await Promise.all(names.map((n) => discovered(central!, n, 8000)));
    await central!.call("stopScan");
    expect(new Set(found.map((f) => f.address)).size).toBe(5);
    for (const f of found) expect(f.rssi).toBeLessThan(0);

    for (const [i, f] of found.entries()) {
      const dev = devs[i] as Child<PeripheralEvent>;
      await central!.call("connect", { id: f.id });
      await dev.next("accept", 3000, `${names[i]} accepting`);
      await central!.call("discover", { id: f.id });
      const value = await central!.call<string>("read", { id: f.id, char: FIXTURE_READ });
      expect(Buffer.from(value, "hex").toString()).toBe(`hello from ${names[i]}`);
      await central!.call("disconnect", { id: f.id });
      await dev.next("disconnect", 3000, `${names[i]} seeing the disconnect`);
    }
    expect(violations).toEqual([]);
  });
});
