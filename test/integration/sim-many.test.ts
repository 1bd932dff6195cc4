/**
 * Ten simulated devices advertising at once (each its own process with its own bleno), all found by one
 * laptop scan with distinct ids and names, each with its pairing window open.
 */
import { describe, expect, it } from "vitest";
import type { TestAir } from "../../rig/radio.js";
import { startDriver } from "../helpers/driver.js";
import { startSim, useSimAir } from "./sim-harness.js";

let t: TestAir;
useSimAir((air) => {
  t = air;
});

describe("openclaw sim: many devices", () => {
  it("ten devices advertise at once and are all discovered with distinct ids", async () => {
    const laptop = startDriver(t.spec("laptop-many"));
    const devices = await Promise.all(
      Array.from({ length: 10 }, (_, i) => startSim(t, `many-${i}`, { timeoutMs: 20_000 })),
    );
    await laptop.ready();
    const ids = new Set(devices.map((d) => d.ready.id));
    expect(ids.size).toBe(10);
    const want = new Map(devices.map((d) => [d.ready.name, d]));
    expect(want.size).toBe(10);

    const seen = new Map<string, string>();
    const deadline = Date.now() + 15_000;
    while (seen.size < 10 && Date.now() < deadline) {
      for (const r of await laptop.scan(2000)) {
        if (r.name && want.has(r.name) && r.advert?.windowOpen) seen.set(r.name, r.id);
      }
    }
    expect([...seen.keys()].sort()).toEqual([...want.keys()].sort());
    // Distinct peripherals on air as well (addresses derived from each label).
    expect(new Set(seen.values()).size).toBe(10);

    // Each one is a separate device: pairing one leaves the others untouched.
    const first = devices[0]!;
    await laptop.connect(seen.get(first.ready.name)!);
    expect(await laptop.pair(first.firstDisplay!.code)).toMatchObject({
      deviceId: first.ready.id.toLowerCase(),
    });
  }, 90_000);
});
