/**
 * The daemon's core in-process: real accessories (the role the sim runs) over in-memory links, a
 * ManualClock, seeded randomness, an in-memory store. What a user depends on: pairing leaves both
 * sides bonded (or neither), wrong codes say how many attempts are left, forget reports each side.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ClawApp } from "../../firmware-sim/device/app.js";
import { ManualClock } from "../../src/clock/index.js";
import type { CoreEvent, CoreOptions, DaemonCore } from "../../src/daemon/core/api.js";
import { createDaemonCore } from "../../src/daemon/core/core.js";
import {
  MemoryAir,
  type MemoryCentral,
  type MemoryDevice,
} from "../../src/daemon/core/testing/memory-air.js";
import { MemoryAuditLog, MemoryBondStore } from "../../src/daemon/core/testing/memory-store.js";
import { settle } from "../../src/daemon/core/testing/settle.js";
import { seededRandom } from "../../src/protocol/env.js";
import { isOpenClawError, type OpenClawError } from "../../src/protocol/errors.js";

const LAPTOP_ID = seededRandom("laptop-id")(16);
const LAPTOP_HEX = Buffer.from(LAPTOP_ID).toString("hex");

interface Laptop {
  core: DaemonCore;
  central: MemoryCentral;
  store: MemoryBondStore;
  audit: MemoryAuditLog;
  events: CoreEvent[];
}

interface World {
  clock: ManualClock;
  air: MemoryAir;
  laptop(o?: { store?: MemoryBondStore; options?: CoreOptions; seed?: string }): Promise<Laptop>;
  device(seed: string): MemoryDevice;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function world(): Promise<World> {
  const clock = new ManualClock(1000);
  const air = new MemoryAir({ clock });
  cleanups.push(() => air.close());
  return {
    clock,
    air,
    device: (seed) => air.addDevice({ seed, app: new ClawApp(() => {}) }),
    async laptop(o = {}) {
      const store = o.store ?? new MemoryBondStore(clock);
      const audit = new MemoryAuditLog();
      const central = air.central();
      const core = createDaemonCore({
        radio: central,
        store,
        audit,
        identity: { controllerId: LAPTOP_ID, name: "test laptop" },
        clock,
        random: seededRandom(`core:${o.seed ?? "a"}`),
        options: o.options ?? {},
      });
      const events: CoreEvent[] = [];
      core.on((e) => events.push(e));
      await core.start();
      cleanups.push(() => core.close());
      // One advertising round: every device in range is in the registry.
      await clock.advanceAsync(air.advertIntervalMs);
      return { core, central, store, audit, events };
    },
  };
}

async function failure(p: Promise<unknown>): Promise<OpenClawError> {
  try {
    await p;
  } catch (err) {
    if (isOpenClawError(err)) return err;
    throw err;
  }
  throw new Error("expected an OpenClawError");
}

/** A well-formed passkey that is not the device's. */
const wrong = (code: string) => code.replace(/\d/g, (d) => String((Number(d) + 1) % 10));

function deviceBond(dev: MemoryDevice) {
  return dev.bonds().find((b) => Buffer.from(b.controllerId).toString("hex") === LAPTOP_HEX);
}

describe("pairing", () => {
  it("pairs: every step in order, both sides hold a permanent bond, the session stays open", async () => {
    const w = await world();
    const dev = w.device("one");
    const l = await w.laptop();
    const steps: string[] = [];
    const r = await l.core.pair(undefined, { code: async () => dev.code!, onStep: (s) => steps.push(s) });

    expect(steps).toEqual(["exchanging-keys", "confirming", "storing", "verifying"]);
    const coreSteps = l.events.flatMap((e) => (e.type === "pairing-step" ? [e.step] : []));
    expect(coreSteps).toEqual([
      "connecting",
      "reading-info",
      "exchanging-keys",
      "confirming",
      "storing",
      "verifying",
    ]);
    expect(r.replaced).toBe(false);
    expect(r.bond).toMatchObject({ deviceId: dev.deviceId, name: dev.name, role: "admin", inRange: true });
    expect(l.store.list().map((b) => Buffer.from(b.record.deviceId).toString("hex"))).toEqual([dev.deviceId]);
    expect(l.store.candidates()).toEqual([]);
    expect(deviceBond(dev)).toMatchObject({ provisional: false, role: "admin", name: "test laptop" });
    expect(l.audit.types()).toEqual(["pair-attempt", "paired"]);
    expect(l.events.map((e) => e.type)).toContain("bonded");

    // The session from pairing is reused: a command costs no new connection and no new verify.
    const verifies = dev.events.filter((e) => e.type === "verified").length;
    const st = await l.core.status(dev.deviceId);
    expect(st).toMatchObject({ deviceId: dev.deviceId, role: "admin", controllerId: LAPTOP_HEX });
    expect(l.central.connects).toHaveLength(1);
    expect(dev.events.filter((e) => e.type === "verified")).toHaveLength(verifies);
    expect(l.core.sessions()).toHaveLength(1);
  });

  it("a wrong code says how many attempts are left, keeps the link, and the right code still pairs", async () => {
    const w = await world();
    const dev = w.device("wrong");
    const l = await w.laptop();
    const p = await l.core.preparePair(dev.name);
    expect(p.target.window).toMatchObject({ state: "open", attemptsLeft: 5, format: "passkey" });
    const code = dev.code!;
    for (const left of [4, 3, 2]) {
      const err = await failure(p.attempt(wrong(code)));
      expect(err.code).toBe("WRONG_CODE");
      expect(err.details).toEqual({ attemptsLeft: left });
      expect(p.state).toBe("ready");
      expect(p.target.window).toMatchObject({ state: "open", attemptsLeft: left });
    }
    // A typo in the format costs nothing.
    expect((await failure(p.attempt("12345"))).code).toBe("MALFORMED_CODE");
    expect(p.target.window).toMatchObject({ attemptsLeft: 2 });
    await p.attempt(code);
    expect(l.central.connects).toHaveLength(1);
    expect(deviceBond(dev)?.provisional).toBe(false);
    expect(
      l.audit.events.filter((e) => e.type === "pair-failed").map((e) => ("code" in e ? e.code : "")),
    ).toEqual(["WRONG_CODE", "WRONG_CODE", "WRONG_CODE", "MALFORMED_CODE"]);
  });

  it("after the last attempt the device shows a fresh code; the pairing sees it and pairs with it", async () => {
    const w = await world();
    const dev = w.device("burnt");
    const l = await w.laptop();
    const seen: Array<number | undefined> = [];
    const first = dev.code!;
    let n = 0;
    const r = await l.core.pair(dev.name.toLowerCase(), {
      code: async (t, last) => {
        seen.push(last && last.is("WRONG_CODE") ? last.details.attemptsLeft : undefined);
        return n++ < 5 ? wrong(first) : dev.code!;
      },
    });
    expect(seen).toEqual([undefined, 4, 3, 2, 1, 0]);
    expect(dev.code).toBeUndefined(); // used
    expect(r.bond.deviceId).toBe(dev.deviceId);
  });

  it("an expired window is reported as such, and the idle pairing hangs up by itself", async () => {
    const w = await world();
    const dev = w.device("expiry");
    const l = await w.laptop();
    const p = await l.core.preparePair(dev.name);
    const code = dev.code!;
    await w.clock.advanceAsync(121_000);
    const err = await failure(p.attempt(code));
    expect(["CODE_EXPIRED", "WINDOW_CLOSED"]).toContain(err.code);
    expect(deviceBond(dev)).toBeUndefined();
    expect(l.store.candidates()).toEqual([]);
    await w.clock.advanceAsync(6 * 60_000);
    expect(p.state).toBe("cancelled");
    expect(dev.connections).toBe(0);
  });

  it("a device not in pairing mode is WINDOW_CLOSED before any code is asked", async () => {
    const w = await world();
    const dev = w.device("closed");
    const l = await w.laptop();
    await l.core.pair(dev.name, { code: async () => dev.code! });
    await w.clock.advanceAsync(1000);
    expect((await failure(l.core.preparePair(dev.name))).code).toBe("WINDOW_CLOSED");
    let asked = false;
    const err = await failure(
      l.core.pair(dev.name, {
        code: async () => {
          asked = true;
          return "000000";
        },
      }),
    );
    expect(err.code).toBe("WINDOW_CLOSED");
    expect(asked).toBe(false);
  });

  it("a failed re-pair keeps the old bond working; a successful one replaces it", async () => {
    const w = await world();
    const dev = w.device("repair");
    const l = await w.laptop();
    await l.core.pair(dev.name, { code: async () => dev.code! });
    const oldKey = l.store.get(dev.deviceId)!.record.controllerStaticKey.publicKey;

    dev.press();
    const p = await l.core.preparePair(dev.deviceId);
    expect(p.target.alreadyBonded).toBe(true);
    expect((await failure(p.attempt(wrong(dev.code!)))).code).toBe("WRONG_CODE");
    await p.cancel();
    expect(l.store.get(dev.deviceId)!.record.controllerStaticKey.publicKey).toEqual(oldKey);
    expect(await l.core.status(dev.deviceId)).toMatchObject({ role: "admin" });

    dev.press();
    const r = await l.core.pair(dev.deviceId, { code: async () => dev.code! });
    expect(r.replaced).toBe(true);
    expect(l.store.get(dev.deviceId)!.record.controllerStaticKey.publicKey).not.toEqual(oldKey);
    expect(l.store.list()).toHaveLength(1);
    expect(dev.bonds()).toHaveLength(1);
    expect(await l.core.status(dev.deviceId)).toMatchObject({ role: "admin" });
  });
});

describe("a crash part-way through pairing leaves no half bond", () => {
  /** Pairs with the laptop dying at `when`; returns what a restarted laptop would load. */
  async function crashDuringPairing(
    w: World,
    dev: MemoryDevice,
    at: { op: "putCandidate" | "commitCandidate"; mode: "hang" | "hang-after" },
  ) {
    const store = new MemoryBondStore(w.clock);
    const a = await w.laptop({ store });
    store.failNext(at.op, at.mode);
    const p = await a.core.preparePair(dev.name);
    void p.attempt(dev.code!);
    await w.clock.advanceAsync(0);
    // The process dies: its links drop without a goodbye, nothing else runs.
    a.central.powerOff();
    await w.clock.advanceAsync(0);
    return store.snapshot();
  }

  it("after the candidate was stored: the restarted laptop tries it once, and both sides end bonded", async () => {
    const w = await world();
    const dev = w.device("crash-1");
    const disk = await crashDuringPairing(w, dev, { op: "putCandidate", mode: "hang-after" });
    expect(disk.candidates.size).toBe(1);
    expect(disk.bonds.size).toBe(0);
    expect(deviceBond(dev)?.provisional).toBe(true);

    const b = await w.laptop({ store: new MemoryBondStore(w.clock, disk), seed: "b" });
    // The device is heard (its tag resolves with the candidate's key): the candidate is settled.
    await settle(
      w.clock,
      (async () => {
        while (b.store.candidates().length > 0) await w.clock.advanceAsync(100);
      })(),
    );
    expect(b.store.list()).toHaveLength(1);
    expect(deviceBond(dev)?.provisional).toBe(false);
    expect(b.audit.types()).toEqual(["paired"]);
    expect(await b.core.status(dev.deviceId)).toMatchObject({ role: "admin" });
  });

  it("after the candidate was stored, the device's provisional bond expired: the candidate is dropped", async () => {
    const w = await world();
    const dev = w.device("crash-2");
    const disk = await crashDuringPairing(w, dev, { op: "putCandidate", mode: "hang-after" });
    await w.clock.advanceAsync(5 * 60_000 + 1000); // the provisional bond expires on the device
    expect(deviceBond(dev)).toBeUndefined();

    const b = await w.laptop({ store: new MemoryBondStore(w.clock, disk), seed: "b" });
    // Heard by its tag (the candidate's tag key resolves it): one verify, refused, candidate dropped.
    await w.clock.advanceAsync(1000);
    expect(b.store.candidates()).toEqual([]);
    expect(b.store.list()).toEqual([]);
    expect(dev.bonds()).toEqual([]);
    expect(b.audit.events).toEqual([
      { type: "candidate-dropped", deviceId: dev.deviceId, code: "UNKNOWN_PEER" },
    ]);
    expect((await failure(settle(w.clock, b.core.status(dev.deviceId)))).code).toBe("NO_SUCH_DEVICE");
  });

  it("after the first verify, before the commit: the restarted laptop commits (device already permanent)", async () => {
    const w = await world();
    const dev = w.device("crash-3");
    const disk = await crashDuringPairing(w, dev, { op: "commitCandidate", mode: "hang" });
    expect(disk.candidates.size).toBe(1);
    expect(deviceBond(dev)?.provisional).toBe(false);
    const b = await w.laptop({ store: new MemoryBondStore(w.clock, disk), seed: "b" });
    expect(await settle(w.clock, b.core.status(dev.deviceId))).toMatchObject({ role: "admin" });
    expect(b.store.candidates()).toEqual([]);
    expect(b.store.list()).toHaveLength(1);
  });
});

describe("forget", () => {
  it("reachable: removed on the device, then here", async () => {
    const w = await world();
    const dev = w.device("forget-1");
    const l = await w.laptop();
    await l.core.pair(dev.name, { code: async () => dev.code! });
    const [o] = await l.core.forget(dev.name);
    expect(o).toMatchObject({
      deviceId: dev.deviceId,
      device: "removed",
      local: "removed",
      staleBondRemedy: null,
    });
    expect(dev.bonds()).toEqual([]);
    expect(l.store.list()).toEqual([]);
    expect(l.events.some((e) => e.type === "removed")).toBe(true);
    expect(l.audit.events.filter((e) => e.type === "removed")).toEqual([
      { type: "removed", deviceId: dev.deviceId, where: "device", outcome: "removed" },
      { type: "removed", deviceId: dev.deviceId, where: "local", outcome: "removed" },
    ]);
    expect((await failure(l.core.status(dev.deviceId))).code).toBe("NOT_BONDED");
  });

  it("unreachable: removed here, the stale bond on the device explained", async () => {
    const w = await world();
    const dev = w.device("forget-2");
    const l = await w.laptop();
    await l.core.pair(dev.name, { code: async () => dev.code! });
    dev.inRange = false;
    await w.clock.advanceAsync(15_000); // lost from the scan
    expect(l.core.devices()).toEqual([]);
    const [o] = await settle(w.clock, l.core.forget(dev.deviceId));
    expect(o).toMatchObject({ device: "unreachable", local: "removed" });
    expect(o!.staleBondRemedy).toMatch(/admin laptop.*pairing list.*HID.*factory-reset/);
    expect(o!.error?.code).toBe("OUT_OF_RANGE");
    expect(deviceBond(dev)).toBeDefined();
    expect(l.store.list()).toEqual([]);
  });

  it("already gone: the device had forgotten us", async () => {
    const w = await world();
    const dev = w.device("forget-3");
    const l = await w.laptop();
    await l.core.pair(dev.name, { code: async () => dev.code! });
    await settle(w.clock, new Promise((r) => w.clock.setTimeout("test wait", 60_000, () => r(null))));
    expect(l.core.sessions()).toEqual([]); // idled out
    dev.accessory.removeBond(LAPTOP_ID, "another admin", w.clock.now());
    const [o] = await l.core.forget(dev.deviceId);
    expect(o).toMatchObject({ device: "already-gone", local: "removed", staleBondRemedy: null });
  });

  it("localOnly: nothing is sent, the stale bond is explained", async () => {
    const w = await world();
    const dev = w.device("forget-4");
    const l = await w.laptop();
    await l.core.pair(dev.name, { code: async () => dev.code! });
    const [o] = await l.core.forget({ all: true }, { localOnly: true });
    expect(o).toMatchObject({ device: "skipped", local: "removed" });
    expect(o!.staleBondRemedy).not.toBeNull();
    expect(deviceBond(dev)).toBeDefined();
  });
});

describe("a device that forgot this laptop", () => {
  it("is reported as UNKNOWN_PEER with the catalogue's words", async () => {
    const w = await world();
    const dev = w.device("forgot");
    const l = await w.laptop();
    await l.core.pair(dev.name, { code: async () => dev.code! });
    await w.clock.advanceAsync(60_000);
    dev.accessory.removeBond(LAPTOP_ID, "another admin", w.clock.now());
    const err = await failure(l.core.claw(dev.deviceId, "open"));
    expect(err.code).toBe("UNKNOWN_PEER");
    expect(err.message).toBe("this device has forgotten this laptop");
    expect(err.remedy).toMatch(/forget the device here.*pair again/i);
    expect(l.events.some((e) => e.type === "error" && e.error.code === "UNKNOWN_PEER")).toBe(true);
    expect(l.audit.events.at(-1)).toEqual({
      type: "verify-failed",
      deviceId: dev.deviceId,
      code: "UNKNOWN_PEER",
    });
  });
});

describe("sessions", () => {
  it("close after the idle time; the next command reconnects and verifies", async () => {
    const w = await world();
    const dev = w.device("idle");
    const l = await w.laptop({ options: { sessionIdleMs: 20_000 } });
    await l.core.pair(dev.name, { code: async () => dev.code! });
    expect(await l.core.claw(dev.name, "open")).toEqual({ claw: "open" });
    await w.clock.advanceAsync(19_000);
    expect(dev.connections).toBe(1);
    await w.clock.advanceAsync(2000);
    expect(dev.connections).toBe(0);
    expect(w.clock.pending().map((t) => t.name)).not.toContain(expect.stringMatching(/^session idle/));
    expect(await l.core.claw(dev.name, "status")).toEqual({ claw: "open" });
    expect(await l.core.battery(dev.name)).toEqual({ percent: 87 });
    expect(l.central.connects).toHaveLength(2);
  });

  it("retry the connection with backoff when the device is briefly unreachable", async () => {
    const w = await world();
    const dev = w.device("backoff");
    const l = await w.laptop({ options: { sessionIdleMs: 1000, reconnectBackoffMs: [500, 2000] } });
    await l.core.pair(dev.name, { code: async () => dev.code! });
    await w.clock.advanceAsync(2000);
    dev.inRange = false; // connect attempts time out...
    const p = l.core.status(dev.deviceId);
    await w.clock.advanceAsync(0);
    dev.inRange = true; // ...until it is back
    expect(await settle(w.clock, p)).toMatchObject({ role: "admin" });
    expect(l.central.connects.length).toBe(3);
  });

  it("serve two devices at once, each on its own link", async () => {
    const w = await world();
    const d1 = w.device("two-a");
    const l = await w.laptop();
    await l.core.pair(d1.name, { code: async () => d1.code! });
    const d2 = w.device("two-b");
    await w.clock.advanceAsync(1000);
    await l.core.pair(d2.name, { code: async () => d2.code! });
    const [a, b] = await Promise.all([l.core.claw(d1.name, "open"), l.core.claw(d2.name, "close")]);
    expect(a).toEqual({ claw: "open" });
    expect(b).toEqual({ claw: "closed" });
    expect(l.central.links).toBe(2);
    expect(
      l.core
        .sessions()
        .map((s) => s.deviceId)
        .sort(),
    ).toEqual([d1.deviceId, d2.deviceId].sort());
    const bonds = await l.core.bonds();
    expect(bonds.map((x) => x.connected)).toEqual([true, true]);
    const outcomes = await l.core.forget({ all: true });
    expect(outcomes.map((o) => o.device)).toEqual(["removed", "removed"]);
  });

  it("close() leaves no timer and no link behind", async () => {
    const w = await world();
    const dev = w.device("close");
    const l = await w.laptop();
    await l.core.pair(dev.name, { code: async () => dev.code! });
    await l.core.close();
    expect(dev.connections).toBe(0);
    const ours = w.clock.pending().filter((t) => !/^device |^memory air/.test(t.name));
    expect(ours).toEqual([]);
  });
});
