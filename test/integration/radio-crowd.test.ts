/**
 * A crowd of foreign advertisers that keep changing address (phones, watches: rig/crowd.ts) around the
 * daemon's scan path with the real noble (rig/programs/scan-path.ts): each address is held while it is
 * heard and forgotten, in noble's own tables too, once it has been quiet for the TTL; an OpenClaw device
 * that keeps advertising is never forgotten and stays listed. Without this a daemon kept ≈ 1.2 kB per
 * address it ever heard (bench "scan memory").
 */
import { describe, expect, it } from "vitest";
import { Crowd } from "../../rig/crowd.js";
import { type ChildEvent, spawnProgram } from "../../rig/proc.js";
import type { TestAir } from "../../rig/radio.js";
import { startSim, useSimAir } from "./sim-harness.js";

let t: TestAir;
useSimAir((air) => {
  t = air;
});

interface Held {
  noblePeripherals: number | null;
  centralPeripherals: number;
}

describe("scan memory in a crowd of rotating addresses (real noble)", () => {
  it("forgets each foreign address once quiet for the TTL and keeps the device still advertising", async () => {
    const sim = await startSim(t, "crowd-dev");
    const scan = spawnProgram<ChildEvent>("rig/programs/scan-path.js", {
      name: "crowd-scan",
      hci: t.spec("crowd-scan"),
      args: ["--peripheral-ttl-ms", "1000"],
    });
    await scan.next("ready", 10_000);
    const held = async (): Promise<Held> => {
      const m = await scan.call<Held>("memory", {}, 10_000);
      return { noblePeripherals: m.noblePeripherals, centralPeripherals: m.centralPeripherals };
    };

    const crowd = await Crowd.start(t.path, { members: 6 });
    let during: Held;
    try {
      await crowd.until(120);
      during = await held();
    } finally {
      await crowd.stop();
    }
    // The crowd was heard: noble entered its addresses.
    expect(during.noblePeripherals).toBeGreaterThan(20);

    // Two sweeps after the crowd left: only the sim is left, in Central and in noble.
    await expect
      .poll(held, { timeout: 6000, interval: 250 })
      .toEqual({ noblePeripherals: 1, centralPeripherals: 1 });
    const m = await scan.call<{ raw: number; devices: number }>(
      "measure",
      { ms: 500, addresses: [String(sim.ready.address)] },
      10_000,
    );
    expect(m.raw).toBeGreaterThan(0);
    expect(m.devices).toBe(1);
    await scan.kill();
  }, 40_000);
});
