/**
 * The pairing window as a tester sees it on `openclaw sim`: wrong codes count down and burn the code,
 * a fresh code appears; the window expires on the device's clock; repeated failures lock pairing out
 * for a while; a full bond table refuses new laptops. Real noble and bleno on the virtual air.
 */
import { describe, expect, it } from "vitest";
import type { TestAir } from "../../rig/radio.js";
import { startDriver } from "../helpers/driver.js";
import { connected, driverFailure, failOnce, startSim, useSimAir, wrong } from "./sim-harness.js";

let t: TestAir;
useSimAir((air) => {
  t = air;
});

describe("openclaw sim: the pairing window", () => {
  it("five wrong codes burn the code and show a fresh one, which then pairs", async () => {
    const laptop = startDriver(t.spec("laptop-w"));
    const dev = await startSim(t, "dev-w");
    const code = dev.firstDisplay!.code;
    for (let left = 4; left >= 0; left--) {
      // Each failed exchange ends the link (PROTOCOL §7): every attempt connects afresh.
      const err = await failOnce(laptop, dev, wrong(code));
      expect(err.code).toBe("WRONG_CODE");
      expect(err.details).toEqual({ attemptsLeft: left });
      await dev.next("wrong-code", 3000, (e) => e.attemptsLeft === left);
    }
    await dev.next("window-closed", 3000, (e) => e.reason === "burnt");
    const fresh = await dev.next("display", 3000, (e) => e.reason === "fresh-code");
    expect(fresh.code).not.toBe(code);
    expect(fresh.attemptsLeft).toBe(5);
    // The burnt code is refused without costing the fresh one anything... and the fresh one pairs.
    await laptop.disconnect().catch(() => null);
    await connected(laptop, dev);
    expect(await laptop.pair(fresh.code)).toMatchObject({ role: "admin" });
    await dev.next("bonded");
  }, 60_000);

  it("the window expires on the device's clock (--ttl 30s at 20× device time)", async () => {
    const laptop = startDriver(t.spec("laptop-e"));
    const dev = await startSim(t, "dev-e", { args: ["--ttl", "30s", "--time-scale", "20"] });
    expect(dev.firstDisplay?.expiresInMs).toBe(30_000);
    const closed = await dev.next("window-closed", 5000);
    expect(closed.reason).toBe("expired");
    // Event times are device time: the window closed when its 30 s there were up (not before, and not
    // much after: 5 s of device time is 250 ms of real time here).
    expect(closed.t).toBeGreaterThanOrEqual(dev.firstDisplay!.expiresAt - 1);
    expect(closed.t - dev.firstDisplay!.expiresAt).toBeLessThan(5000);
    await dev.next("advertising", 3000, (e) => !e.windowOpen);
    await connected(laptop, dev);
    expect(await laptop.info()).toMatchObject({ window: { state: "closed" } });
    const err = await driverFailure(laptop.pair(dev.firstDisplay!.code));
    expect(err.code).toBe("WINDOW_CLOSED");
    // The button opens a new window with a new code. (The laptop refused locally: its info said the
    // window is closed, so nothing was sent and the link is still up.)
    const next = await dev.press();
    expect(next.reason).toBe("button");
    expect(await laptop.pair(next.code)).toMatchObject({ role: "admin" });
  }, 60_000);

  it("repeated failures lock pairing out, with the time to wait, then let it go", async () => {
    const laptop = startDriver(t.spec("laptop-l"));
    const dev = await startSim(t, "dev-l", { args: ["--lockout-after", "3", "--lockout", "3s"] });
    const code = dev.firstDisplay!.code;
    for (const left of [4, 3]) {
      expect((await failOnce(laptop, dev, wrong(code))).details).toEqual({ attemptsLeft: left });
    }
    const locked = await failOnce(laptop, dev, wrong(code));
    expect(locked.code).toBe("LOCKED_OUT");
    const retry = (locked.details as { retryAfterMs: number }).retryAfterMs;
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(3000);
    await dev.next("locked-out");
    await dev.next("window-closed", 3000, (e) => e.reason === "locked-out");
    await laptop.disconnect().catch(() => null);
    await connected(laptop, dev);
    expect(await laptop.info()).toMatchObject({ window: { state: "locked-out" } });
    // The button is refused too while locked...
    const refused = await dev.child.call("button").catch((e: Error & { code?: string }) => e);
    expect((refused as { code?: string }).code).toBe("LOCKED_OUT");
    // ...the right code as well (the device does not even run the exchange)...
    expect((await driverFailure(laptop.pair(code))).code).toMatch(/LOCKED_OUT|WINDOW_CLOSED/);
    // ...and after the lockout the button works again.
    await new Promise((r) => setTimeout(r, retry + 200));
    const after = await dev.press();
    await laptop.disconnect().catch(() => null);
    await connected(laptop, dev);
    expect(await laptop.pair(after.code)).toMatchObject({ role: "admin" });
  }, 60_000);

  it("a full bond table refuses a new laptop with BOND_TABLE_FULL (--slots 1)", async () => {
    const first = startDriver(t.spec("laptop-a"));
    const second = startDriver(t.spec("laptop-b"));
    const dev = await startSim(t, "dev-f", { args: ["--slots", "1"] });
    expect(dev.ready.slots).toBe(1);
    await connected(first, dev);
    await first.pair(dev.firstDisplay!.code);
    await dev.next("bonded");
    await first.disconnect();

    const code = (await dev.press()).code;
    await connected(second, dev);
    expect(await second.info()).toMatchObject({ bondSlots: { used: 1, total: 1 } });
    const full = await driverFailure(second.pair(code));
    expect(full.code).toBe("BOND_TABLE_FULL");
    expect(full.details).toEqual({ slots: 1 });
    expect(await dev.command("status")).toMatchObject({ bonds: 1, slots: 1 });
  }, 60_000);
});
