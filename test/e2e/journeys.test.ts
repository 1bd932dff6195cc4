/**
 * The hobbyist's journeys, end to end: the built CLI → a daemon it starts on demand → real noble → the
 * virtual air → a simulated device (real bleno) in its own process. What they see: the JSON documents
 * (and exit codes) a script sees, the device's own events, and the files on disk.
 */
import { describe, expect, it } from "vitest";
import type { TestAir } from "../../rig/radio.js";
import { wrong } from "../integration/sim-harness.js";
import { codeOf, errorOf, Laptop, sim, useE2E } from "./harness.js";

let t: TestAir;
useE2E((air) => {
  t = air;
});

describe("pair, use and forget a device", { timeout: 60_000 }, () => {
  it("pairs after a wrong code, lists it, verifies it, opens its claw, reads its battery, forgets it on both sides", async () => {
    const dev = await sim(t, "j1-dev");
    const laptop = new Laptop(t, "j1-laptop");
    const code = codeOf(dev.firstDisplay!);
    const id = dev.ready.id.toLowerCase();

    const bad = await laptop.pair(dev.ready.name, wrong(code));
    expect(bad.code).toBe(1);
    const err = errorOf(bad.doc);
    expect(err.code).toBe("WRONG_CODE");
    expect(err.details).toEqual({ attemptsLeft: 4 });
    expect(err.remedy).toMatch(/Check the code/);

    const ok = await laptop.pair(dev.ready.name, code);
    expect(ok.code, ok.r.stderr).toBe(0);
    expect(ok.doc).toMatchObject({
      bond: { deviceId: id, name: dev.ready.name, role: "admin" },
      replaced: false,
    });
    await dev.next("bonded", 10_000);

    const devices = await laptop.json<{ bonds: Array<Record<string, unknown>> }>(["devices"]);
    expect(devices.code).toBe(0);
    expect(devices.doc.bonds).toHaveLength(1);
    expect(devices.doc.bonds[0]).toMatchObject({ deviceId: id, role: "admin", inRange: true });

    const status = await laptop.json(["status", dev.ready.name]);
    expect(status.code, status.r.stderr).toBe(0);
    expect(status.doc).toMatchObject({ deviceId: id, role: "admin", bondSlots: { used: 1, total: 8 } });

    const claw = await laptop.json(["claw", id.slice(0, 6), "open"]);
    expect(claw.code, claw.r.stderr).toBe(0);
    expect(claw.doc).toMatchObject({ claw: "open" });
    await dev.next("app", 10_000, (e) => e.op === "claw-open");
    expect((await laptop.json(["claw", dev.ready.name, "status"])).doc).toMatchObject({ claw: "open" });
    const battery = await laptop.json<{ percent: number }>(["battery", dev.ready.name]);
    expect(battery.doc.percent).toBeGreaterThan(0);

    // People see words and a table, not JSON.
    const human = await laptop.run(["devices"]);
    expect(human.stdout).toMatch(
      new RegExp(`${dev.ready.name}\\s+${id}\\s+${dev.ready.address}\\s+admin`, "i"),
    );

    const forgot = await laptop.json<{ results: Array<Record<string, unknown>> }>(["forget", dev.ready.name]);
    expect(forgot.code, forgot.r.stderr).toBe(0);
    expect(forgot.doc.results).toEqual([
      expect.objectContaining({ deviceId: id, device: "removed", local: "removed", staleBondRemedy: null }),
    ]);
    await dev.next("removed", 10_000);
    expect((await laptop.json<{ bonds: unknown[] }>(["devices"])).doc.bonds).toEqual([]);
    expect((await dev.command("status")) as unknown).toBeDefined();
    const st = await dev.next("status", 5000);
    expect(st.bonds).toBe(0);
  });

  it("forgets a device that is out of range: removed here, the stale bond on the device explained", async () => {
    const dev = await sim(t, "j2-dev");
    const laptop = new Laptop(t, "j2-laptop");
    expect((await laptop.pair(dev.ready.name, codeOf(dev.firstDisplay!))).code).toBe(0);
    await dev.next("bonded", 10_000);
    const home = t.air.controllers().find((c) => c.label === "j2-dev")!.position;
    t.air.move("j2-dev", { x: home.x + 2000, y: home.y });
    try {
      const r = await laptop.json<{ results: Array<Record<string, unknown>> }>(["forget", dev.ready.name], {
        timeoutMs: 90_000,
      });
      expect(r.code, r.r.stderr).toBe(0);
      expect(r.doc.results[0]).toMatchObject({ device: "unreachable", local: "removed" });
      expect(String(r.doc.results[0]!["staleBondRemedy"])).toMatch(/still holds this laptop's pairing/);
      const human = await laptop.run(["devices"]);
      expect(human.stdout).toMatch(/not paired with any device/);
    } finally {
      t.air.move("j2-dev", home);
    }
    // The device still lists the bond: that is the stale bond the output explained.
    await dev.command("status");
    expect((await dev.next("status", 5000)).bonds).toBe(1);
  }, 120_000);

  it("says the device has forgotten this laptop after its factory reset, and pairing again works", async () => {
    const dev = await sim(t, "j3-dev");
    const laptop = new Laptop(t, "j3-laptop");
    expect((await laptop.pair(dev.ready.name, codeOf(dev.firstDisplay!))).code).toBe(0);
    await dev.next("bonded", 10_000);
    const id = dev.ready.id.toLowerCase();

    await dev.command("factory-reset");
    await dev.next("factory-reset", 10_000);
    const fresh = await dev.next("display", 10_000);
    const ready = dev.child.events.filter((e) => e.type === "ready").at(-1) as
      | { id: string; name: string }
      | undefined;
    void ready;

    const status = await laptop.run(["status", id]);
    expect(status.code).toBe(1);
    expect(status.stderr).toMatch(/this device has forgotten this laptop/);
    expect(status.stderr).toMatch(/pair again/);

    const forgot = await laptop.json<{ results: Array<Record<string, unknown>> }>(["forget", id]);
    expect(forgot.code, forgot.r.stderr).toBe(0);
    expect(forgot.doc.results[0]).toMatchObject({ device: "already-gone", local: "removed" });

    const again = await laptop.pair(undefined, codeOf(fresh));
    expect(again.code, again.r.stderr).toBe(0);
    const st = await laptop.json(["status", (again.doc as { bond: { deviceId: string } }).bond.deviceId]);
    expect(st.code, st.r.stderr).toBe(0);
  });
});
