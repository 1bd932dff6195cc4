/**
 * One lost message never leaves a half bond. The link to `openclaw sim` is cut at every message of
 * pair-setup in both directions (by the laptop, right after it sent or received each one) and at
 * packets spread across the whole exchange (by the air, which silences the link mid-message). Each time
 * the device holds no bond or a provisional one, and a new attempt pairs and verifies. A provisional
 * bond that is never verified expires.
 */
import { describe, expect, it } from "vitest";
import type { TestAir } from "../../rig/radio.js";
import { DriverError, type DriverProcess, type StopAt, startDriver } from "../helpers/driver.js";
import { driverFailure, type SimHandle, startSim, storedBonds, useSimAir } from "./sim-harness.js";

let t: TestAir;
useSimAir((air) => {
  t = air;
});

async function connect(laptop: DriverProcess, dev: SimHandle): Promise<void> {
  const found = await laptop.find(dev.ready.name);
  await laptop.connect(found.id);
}

/** The code to use now: the one on screen if its window is still open, else a fresh one. */
async function currentCode(laptop: DriverProcess, dev: SimHandle, last: string): Promise<string> {
  const info = (await laptop.info()) as { window: { state: string } };
  if (info.window.state === "open") return last;
  return (await dev.press()).code;
}

/** After a cut: no permanent bond appeared, and a fresh attempt pairs and verifies. */
async function recoverAndCheck(
  laptop: DriverProcess,
  dev: SimHandle,
  controllerId: string,
  code: string,
  what: string,
): Promise<string> {
  const bonds = storedBonds(dev.dir);
  expect(bonds.length, what).toBeLessThanOrEqual(1);
  for (const b of bonds) {
    expect(b.controllerId, what).toBe(controllerId);
    expect(b.state.kind, what).toBe("provisional");
  }
  await connect(laptop, dev);
  const use = await currentCode(laptop, dev, code);
  expect(await laptop.pair(use), what).toMatchObject({ role: "admin" });
  await laptop.disconnect();
  await connect(laptop, dev);
  expect(await laptop.verify(), what).toEqual({ role: "admin" });
  expect(
    storedBonds(dev.dir).map((b) => b.state.kind),
    what,
  ).toEqual(["permanent"]);
  // Back to a device with no bonds and an open window for the next round.
  await laptop.removePairing();
  await laptop.disconnect().catch(() => null);
  return (await dev.press()).code;
}

describe("openclaw sim: link loss during pair-setup", () => {
  it("a cut after every pair-setup message, in both directions, leaves no half bond", async () => {
    const laptop = startDriver(t.spec("laptop-c"), { controllerId: "c0".repeat(16) });
    const dev = await startSim(t, "dev-c");
    await laptop.ready();
    let code = dev.firstDisplay!.code;
    const cuts: StopAt[] = [{ sent: 1 }, { received: 1 }, { sent: 2 }, { received: 2 }];
    for (const stopAt of cuts) {
      const what = `cut at ${JSON.stringify(stopAt)}`;
      await connect(laptop, dev);
      expect(await laptop.pair(code, stopAt), what).toBeNull();
      await dev.next("disconnected", 5000);
      code = await recoverAndCheck(laptop, dev, "c0".repeat(16), code, what);
    }
  }, 90_000);

  it("the air silencing the link at packets across the exchange leaves no half bond", async () => {
    const laptop = startDriver(t.spec("laptop-p"), { controllerId: "d1".repeat(16), stepTimeoutMs: 4000 });
    const dev = await startSim(t, "dev-p");
    await laptop.ready();
    let code = dev.firstDisplay!.code;

    // Measure how many link-layer packets one pair-setup takes (after the info read).
    await connect(laptop, dev);
    await laptop.info();
    const packets = () =>
      t.air.counters().reduce((n, c) => n + c.packetsToCentral + c.packetsToPeripheral, 0);
    const before = packets();
    await laptop.pair(code);
    const total = packets() - before;
    expect(total).toBeGreaterThan(4);
    await laptop.disconnect();
    await connect(laptop, dev);
    await laptop.verify();
    await laptop.removePairing();
    await laptop.disconnect().catch(() => null);
    code = (await dev.press()).code;

    // Cut at the first packet, the last, and evenly in between.
    const points = [
      ...new Set([1, 2, ...[0.25, 0.5, 0.75].map((f) => Math.round(total * f)), total - 1, total]),
    ];
    for (const n of points) {
      const what = `air drop at packet ${n} of ${total}`;
      await connect(laptop, dev);
      await laptop.info();
      t.air.setFault("dev-p", { dropAtPacket: n });
      const outcome = await laptop.pair(code).then(
        () => "paired",
        (err: unknown) => (err instanceof DriverError ? err.code : String(err)),
      );
      t.air.setFault("dev-p", {});
      // The cut may land after the laptop already has everything (last packets are acks).
      expect(["paired", "OUT_OF_RANGE", "TIMEOUT", "PROTOCOL_ERROR"], what).toContain(outcome);
      await laptop.disconnect().catch(() => null);
      await dev.next("disconnected", 8000);
      if (outcome === "paired") {
        // The laptop got its bond; the device must hold it (provisional until the first verify).
        expect(
          storedBonds(dev.dir).map((b) => b.state.kind),
          what,
        ).toEqual(["provisional"]);
      }
      code = await recoverAndCheck(laptop, dev, "d1".repeat(16), code, what);
    }
  }, 150_000);

  it("a provisional bond that is never verified expires (--provisional-ttl 60s at 20× device time)", async () => {
    const laptop = startDriver(t.spec("laptop-x"));
    const dev = await startSim(t, "dev-x", { args: ["--provisional-ttl", "60s", "--time-scale", "20"] });
    await laptop.ready();
    await connect(laptop, dev);
    const bonded = await laptop.pair(dev.firstDisplay!.code);
    expect(bonded).not.toBeNull();
    await laptop.disconnect();
    expect(storedBonds(dev.dir).map((b) => b.state.kind)).toEqual(["provisional"]);
    const gone = await dev.next("bond-expired", 10_000);
    expect(gone.peerId).toBe(bonded!.controllerId);
    expect(storedBonds(dev.dir)).toEqual([]);
    await connect(laptop, dev);
    const err = await laptop.verify().catch((e: unknown) => e);
    expect((err as DriverError).code).toBe("UNKNOWN_PEER");
  }, 60_000);

  it("a re-pair cut after the device stored the new bond keeps the laptop's working bond", async () => {
    const laptop = startDriver(t.spec("laptop-rp"), { controllerId: "e1".repeat(16) });
    // A provisional bond lives 120 s of device time here: 6 s of real time.
    const dev = await startSim(t, "dev-rp", { args: ["--provisional-ttl", "120s", "--time-scale", "20"] });
    await laptop.ready();
    await connect(laptop, dev);
    await laptop.pair(dev.firstDisplay!.code);
    await dev.next("bonded");
    await laptop.disconnect();
    await connect(laptop, dev);
    expect(await laptop.verify()).toEqual({ role: "admin" });
    await dev.next("bond-confirmed");
    const working = await laptop.exportBond();
    await laptop.disconnect();

    // Pair again (a person pressed the button to re-pair), but the link drops right after the laptop's
    // last message: the device stored a new provisional bond, the laptop never heard PairSetupDone.
    const code = (await dev.press()).code;
    await connect(laptop, dev);
    expect(await laptop.pair(code, { sent: 2 })).toBeNull();
    await dev.next("bonded", 5000, (e) => e.provisional);
    await dev.next("disconnected", 5000);
    expect(storedBonds(dev.dir).map((b) => b.state.kind)).toEqual(["provisional"]);

    // The bond the laptop still holds keeps working, before and after the new one expires unverified.
    await connect(laptop, dev);
    expect(await laptop.verify()).toEqual({ role: "admin" });
    await laptop.disconnect();
    await dev.next("bond-expired", 15_000);
    expect(storedBonds(dev.dir).map((b) => b.state.kind)).toEqual(["permanent"]);
    await connect(laptop, dev);
    expect(await laptop.verify()).toEqual({ role: "admin" });
    await laptop.disconnect();

    // A re-pair that completes replaces it once the new bond verifies: the old key is refused then.
    const again = (await dev.press()).code;
    await connect(laptop, dev);
    expect(await laptop.pair(again)).toMatchObject({ role: "admin" });
    await laptop.disconnect();
    await connect(laptop, dev);
    expect(await laptop.verify()).toEqual({ role: "admin" });
    await dev.next("bond-confirmed");
    await laptop.disconnect();
    expect(storedBonds(dev.dir).map((b) => b.state.kind)).toEqual(["permanent"]);
    await laptop.importBond(working);
    await connect(laptop, dev);
    expect((await driverFailure(laptop.verify())).code).toBe("UNKNOWN_PEER");
  }, 90_000);
});
