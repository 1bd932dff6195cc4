/**
 * The attempt guard survives a power cycle: lock the sim out, kill it, boot it again on the same state
 * directory, and it is still locked out (PROTOCOL §6.2). Real noble and bleno on the virtual air.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { TestAir } from "../../rig/radio.js";
import { startDriver } from "../helpers/driver.js";
import { connected, driverFailure, startSim, useSimAir, wrong } from "./sim-harness.js";

let t: TestAir;
useSimAir((air) => {
  t = air;
});

describe("openclaw sim: the attempt guard across a reboot", () => {
  it("a lockout survives killing the device and booting it again on the same state dir", async () => {
    const args = ["--lockout-after", "3", "--lockout", "60s"];
    const laptop = startDriver(t.spec("laptop-g"));
    const dev = await startSim(t, "dev-g", { args });
    await connected(laptop, dev);
    const code = dev.firstDisplay!.code;
    for (const left of [4, 3]) {
      expect((await driverFailure(laptop.pair(wrong(code)))).details).toEqual({ attemptsLeft: left });
    }
    expect((await driverFailure(laptop.pair(wrong(code)))).code).toBe("LOCKED_OUT");
    await dev.next("locked-out");
    // The guard is on "flash" before the controller hears LOCKED_OUT: 0600, counts only.
    const st = await stat(join(dev.dir, "guard.json"));
    expect(st.mode & 0o777).toBe(0o600);

    // Pull the battery.
    await dev.child.kill();
    await laptop.disconnect().catch(() => {});

    const again = await startSim(t, "dev-g2", { args, dir: dev.dir, expectWindow: false });
    expect(again.ready.id).toBe(dev.ready.id);
    const resumed = await again.next("locked-out");
    expect(resumed.retryAfterMs).toBeGreaterThan(0);
    expect(resumed.retryAfterMs).toBeLessThanOrEqual(60_000);
    const second = startDriver(t.spec("laptop-g2"));
    await connected(second, again);
    expect(await second.info()).toMatchObject({ window: { state: "locked-out" } });
    const err = await driverFailure(second.pair(code));
    expect(err.code).toBe("LOCKED_OUT");
    // The button is refused too: no fresh guesses after a power cycle.
    const refused = await again.child.call("button").catch((e: Error & { code?: string }) => e);
    expect((refused as { code?: string }).code).toBe("LOCKED_OUT");
  }, 60_000);
});
