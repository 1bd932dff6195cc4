/**
 * The simulated device through a whole life: pair-setup with the code on its display, verify on
 * reconnect, the device's own functions over the session, remove pairing, factory reset. Real noble
 * (the test driver) and real bleno (`openclaw sim`), each in its own process, on the virtual air.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { TestAir } from "../../rig/radio.js";
import { startDriver } from "../helpers/driver.js";
import { driverFailure, readState, startSim, storedBonds, useSimAir } from "./sim-harness.js";

let t: TestAir;
useSimAir((air) => {
  t = air;
});

describe("openclaw sim: pairing journey", () => {
  it("pairs with the displayed code, verifies on reconnect, runs the claw, removes the pairing", async () => {
    const laptop = startDriver(t.spec("laptop"), { laptopName: "hobbyist laptop" });
    const dev = await startSim(t, "dev1");
    await laptop.ready();
    expect(dev.ready.name).toMatch(/^OpenClaw-[0-9A-F]{4}$/);
    expect(dev.firstDisplay?.code).toMatch(/^\d{3} \d{3}$/);
    expect(dev.firstDisplay?.reason).toBe("boot");

    const found = await laptop.find(dev.ready.name);
    expect(found.advert?.windowOpen).toBe(true);
    await laptop.connect(found.id);
    await dev.next("connected");
    const info = await laptop.info();
    expect(info).toMatchObject({ name: dev.ready.name });

    const bond = await laptop.pair(dev.firstDisplay!.code);
    expect(bond).toMatchObject({ deviceId: dev.ready.id.toLowerCase(), role: "admin" });
    const bonded = await dev.next("bonded");
    expect(bonded).toMatchObject({ role: "admin", provisional: true, name: "hobbyist laptop" });
    await dev.next("window-closed", 2000, (e) => e.reason === "used");

    // On "flash" before the laptop heard PairSetupDone: one provisional bond, owner-only file.
    expect(statSync(join(dev.dir, "device.json")).mode & 0o777).toBe(0o600);
    expect(statSync(dev.dir).mode & 0o777).toBe(0o700);
    expect(storedBonds(dev.dir)).toHaveLength(1);
    // "Paired at" is wall time (people read it), not the process's uptime.
    expect(Math.abs(storedBonds(dev.dir)[0]!.createdAt - Date.now())).toBeLessThan(60_000);

    await laptop.disconnect();
    await dev.next("disconnected");

    // Reconnect: the closed-window advert carries a tag only this laptop resolves.
    const again = await laptop.find(dev.ready.name);
    expect(again.advert).toMatchObject({ windowOpen: false, hasBonds: true });
    expect(again.advert?.resolvedDeviceId).toBe(dev.ready.id.toLowerCase());
    await laptop.connect(again.id);
    expect(await laptop.verify()).toEqual({ role: "admin" });
    await dev.next("verified", 5000, (e) => e.peerId === bonded.peerId);
    await dev.next("bond-confirmed");

    // The device's own functions, authenticated and encrypted.
    expect(await laptop.app(1, "")).toBe("57"); // battery 87 %
    expect(await laptop.app(2, "01")).toBe("01"); // open → open
    await dev.next("app", 3000, (e) => e.op === "claw-open");
    expect(await laptop.app(2, "00")).toBe("01"); // status
    expect(await laptop.app(2, "02")).toBe("00"); // close → closed

    expect(await laptop.removePairing()).toMatchObject({ removedSelf: true });
    await dev.next("removed", 3000, (e) => e.peerId === bonded.peerId);
    expect(storedBonds(dev.dir)).toHaveLength(0);

    // The code is on the display and nowhere else: not in any other event, not on stderr, not on disk.
    const shown = dev.firstDisplay!.code;
    const canonical = shown.replace(/\s/g, "");
    const elsewhere = [
      ...dev.child.events.filter((e) => e.type !== "display").map((e) => JSON.stringify(e)),
      ...dev.child.text,
      dev.child.stderrTail(100_000),
      readFileSync(join(dev.dir, "device.json"), "utf8"),
    ].join("\n");
    expect(elsewhere).not.toContain(canonical);
    expect(elsewhere).not.toContain(shown);

    // The device forgot us: verify says so.
    await laptop.disconnect().catch(() => null);
    const third = await laptop.find(dev.ready.name);
    await laptop.connect(third.id);
    const forgotten = await driverFailure(laptop.verify());
    expect(forgotten.code).toBe("UNKNOWN_PEER");
  }, 60_000);

  it("factory reset erases bonds and identity and comes back as a new device", async () => {
    const laptop = startDriver(t.spec("laptop2"));
    const dev = await startSim(t, "dev2");
    await laptop.ready();
    const found = await laptop.find(dev.ready.name);
    await laptop.connect(found.id);
    await laptop.pair(dev.firstDisplay!.code);
    await laptop.disconnect();
    const back = await laptop.find(dev.ready.name);
    await laptop.connect(back.id);
    await laptop.verify();
    const mark = dev.child.mark();
    await laptop.factoryReset();
    await dev.child.waitFor((e) => e.type === "factory-reset", 5000, "factory-reset", { since: mark });
    const reborn = await dev.child.waitFor((e) => e.type === "ready", 5000, "ready after reset", {
      since: mark,
    });
    expect(reborn["id"]).not.toBe(dev.ready.id);
    // First boot again: no bonds, so a window opens by itself.
    const fresh = await dev.next("display", 5000, (e) => e.reason === "boot");
    expect(fresh.code).toMatch(/^\d{3} \d{3}$/);
    expect(readState(dev.dir).identity.deviceId).toBe(String(reborn["id"]).toLowerCase());
    expect(storedBonds(dev.dir)).toEqual([]);
  }, 60_000);
});
