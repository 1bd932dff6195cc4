/**
 * The attempt guard survives a power cycle (PROTOCOL §6.2): lock the sim out, read what it stored, kill
 * it with SIGKILL (no chance to save on the way out), boot it again on the same state directory, and it
 * is still locked out. A guard file that cannot be read starts the device at the limit (locked out), not
 * with a fresh set of guesses. Real noble and bleno on the virtual air.
 */
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { TestAir } from "../../rig/radio.js";
import { startDriver } from "../helpers/driver.js";
import {
  connected,
  driverFailure,
  errorEvents,
  failOnce,
  killHard,
  readState,
  startSim,
  useSimAir,
  wrong,
} from "./sim-harness.js";

let t: TestAir;
useSimAir((air) => {
  t = air;
});

/** The attempt guard as the device has it on "flash". */
const storedGuard = (dir: string) => readState(dir).guard;

describe("openclaw sim: the attempt guard across a reboot", () => {
  it("a lockout is on disk while it runs, and survives kill -9 and a boot on the same state dir", async () => {
    const args = ["--lockout-after", "3", "--lockout", "60s"];
    const laptop = startDriver(t.spec("laptop-g"));
    const dev = await startSim(t, "dev-g", { args });
    const code = dev.firstDisplay!.code;
    for (const left of [4, 3]) {
      expect((await failOnce(laptop, dev, wrong(code))).details).toEqual({ attemptsLeft: left });
    }
    expect((await failOnce(laptop, dev, wrong(code))).code).toBe("LOCKED_OUT");
    await dev.next("locked-out");
    // The guard is on "flash" before the controller hears LOCKED_OUT: 0600, counts only, the lockout in it.
    expect(statSync(join(dev.dir, "device.json")).mode & 0o777).toBe(0o600);
    const stored = storedGuard(dev.dir);
    expect(stored).toMatchObject({ failuresInLastHour: 3, lockouts: 1, unsettled: 0 });
    expect(Number.isInteger(stored.lockedForMs)).toBe(true);
    expect(stored.lockedForMs).toBeGreaterThan(50_000);
    expect(stored.lockedForMs).toBeLessThanOrEqual(60_000);
    // Every save succeeded: no STORAGE (or any other) error was reported on the way.
    expect(errorEvents(dev)).toEqual([]);

    // Pull the battery.
    await killHard(dev);
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
    expect(errorEvents(again)).toEqual([]);
  }, 60_000);

  it("a guard file that does not read back starts the device at the limit, locked out", async () => {
    const args = ["--lockout-after", "20", "--lockout", "60s"];
    const laptop = startDriver(t.spec("laptop-gc"));
    const dev = await startSim(t, "dev-gc", { args });
    const code = dev.firstDisplay!.code;
    expect((await failOnce(laptop, dev, wrong(code))).code).toBe("WRONG_CODE");
    expect(storedGuard(dev.dir).failuresInLastHour).toBe(1);
    await killHard(dev);
    await laptop.disconnect().catch(() => {});

    // A damaged flash page: the count of failures is lost (identity and bonds are fine).
    const state = readState(dev.dir);
    writeFileSync(
      join(dev.dir, "device.json"),
      JSON.stringify({ ...state, guard: { failuresInLastHour: "?" } }),
    );
    const again = await startSim(t, "dev-gc2", { args, dir: dev.dir, expectWindow: false });
    expect(again.ready.id).toBe(dev.ready.id);
    const warning = await again.next("warning", 5000, (e) => /locked/i.test(e.message));
    expect(warning.message).toContain("device.json");
    // On disk at the limit at once: a second power cycle gives no fresh guesses either.
    expect(readState(dev.dir).guard).toMatchObject({ failuresInLastHour: 20, lockouts: 1 });
    const locked = await again.next("locked-out");
    expect(locked.retryAfterMs).toBeGreaterThan(0);
    const refused = await again.child.call("button").catch((e: Error & { code?: string }) => e);
    expect((refused as { code?: string }).code).toBe("LOCKED_OUT");
    await connected(laptop, again);
    expect((await driverFailure(laptop.pair(code))).code).toBe("LOCKED_OUT");
  }, 60_000);
});
