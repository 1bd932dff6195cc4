/**
 * The daemon's core in-process: real accessories (the role the sim runs) over in-memory links, a
 * ManualClock, seeded randomness, and the real bond store and audit log (src/store) in a temp dir,
 * read back from disk. What a user depends on: pairing leaves both sides bonded (or neither), a crash
 * anywhere leaves no half bond, wrong codes say how many attempts are left, forget reports each side.
 */
import { describe, expect, it } from "vitest";
import { PAIR_STEPS } from "../../src/daemon/core/api.js";
import type { MemoryDevice } from "../../src/daemon/core/testing/memory-air.js";
import type { OpenClawPaths } from "../../src/store/paths.js";
import { sampleKey } from "../../src/store/testing.js";
import {
  deviceBond,
  idOf,
  LAPTOP_HEX,
  LAPTOP_ID,
  onDisk,
  useWorlds,
  type World,
  wrong,
} from "../helpers/daemon-world.js";
import { rejection } from "../helpers/errors.js";

const world = useWorlds();

describe("pairing", () => {
  it("pairs: every step in order, both sides hold a permanent bond, the session stays open", async () => {
    const w = await world();
    const dev = w.device("one");
    const l = await w.laptop();
    const steps: string[] = [];
    const r = await l.core.pair(undefined, { code: async () => dev.code!, onStep: (s) => steps.push(s) });

    expect(steps).toEqual(["exchanging-keys", "confirming", "storing", "verifying"]);
    const coreSteps = l.events.flatMap((e) => (e.type === "pairing-step" ? [e.step] : []));
    expect(coreSteps).toEqual([...PAIR_STEPS]);
    expect(r.replaced).toBe(false);
    expect(r.bond).toMatchObject({ deviceId: dev.deviceId, name: dev.name, role: "admin", inRange: true });
    const disk = await onDisk(w, l.paths);
    expect(disk.list().map(idOf)).toEqual([dev.deviceId]);
    expect(disk.list()[0]!.lastVerifiedAt).toBe(w.clock.wallNow());
    expect(disk.candidates()).toEqual([]);
    expect(deviceBond(dev)).toMatchObject({ provisional: false, role: "admin", name: "test laptop" });
    expect(await l.audit()).toEqual(["pair-attempt", "paired"]);
    expect(l.events.map((e) => e.type)).toContain("bonded");

    // The session from pairing is reused: a command costs no new connection and no new verify.
    const verifies = dev.events.filter((e) => e.type === "verified").length;
    const st = await l.core.status(dev.deviceId);
    expect(st).toMatchObject({ deviceId: dev.deviceId, role: "admin", controllerId: LAPTOP_HEX });
    expect(l.central.connects).toHaveLength(1);
    expect(dev.events.filter((e) => e.type === "verified")).toHaveLength(verifies);
    expect(l.core.sessions()).toHaveLength(1);
  });

  it("a wrong code says how many attempts are left, reconnects after the device hangs up, and the right code still pairs", async () => {
    const w = await world();
    const dev = w.device("wrong");
    const l = await w.laptop();
    const p = await l.core.preparePair(dev.name);
    expect(p.target.window).toMatchObject({ state: "open", attemptsLeft: 5, format: "passkey" });
    const code = dev.code!;
    for (const left of [4, 3, 2]) {
      const err = await rejection(p.attempt(wrong(code)));
      expect(err.code).toBe("WRONG_CODE");
      expect(err.details).toEqual({ attemptsLeft: left });
      expect(p.state).toBe("ready");
      expect(p.target.window).toMatchObject({ state: "open", attemptsLeft: left });
    }
    // A typo in the format costs nothing.
    expect((await rejection(p.attempt("12345"))).code).toBe("MALFORMED_CODE");
    expect(p.target.window).toMatchObject({ attemptsLeft: 2 });
    await p.attempt(code);
    // The device hangs up after each failed exchange (PROTOCOL §7.1); a local typo costs no connection.
    expect(l.central.connects).toHaveLength(4);
    expect(deviceBond(dev)?.provisional).toBe(false);
    const failed = (await l.auditEvents()).filter((e) => e.type === "pair-failed").map((e) => e.code);
    expect(failed).toEqual(["WRONG_CODE", "WRONG_CODE", "WRONG_CODE", "MALFORMED_CODE"]);
  });

  it("after the last attempt the device shows a fresh code; the pairing sees it and pairs with it", async () => {
    const w = await world();
    const dev = w.device("burnt");
    const l = await w.laptop();
    const seen: Array<number | undefined> = [];
    const first = dev.code!;
    let n = 0;
    const r = await l.core.pair(dev.name.toLowerCase(), {
      code: async (_t, last) => {
        seen.push(last?.is("WRONG_CODE") ? last.details.attemptsLeft : undefined);
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
    await w.advance(121_000);
    const err = await rejection(p.attempt(code));
    expect(["CODE_EXPIRED", "WINDOW_CLOSED"]).toContain(err.code);
    expect(deviceBond(dev)).toBeUndefined();
    expect((await onDisk(w, l.paths)).candidates()).toEqual([]);
    await w.advance(6 * 60_000);
    expect(p.state).toBe("cancelled");
    expect(dev.connections).toBe(0);
  });

  it("a device not in pairing mode is WINDOW_CLOSED before any code is asked", async () => {
    const w = await world();
    const dev = w.device("closed");
    const l = await w.laptop();
    await l.core.pair(dev.name, { code: async () => dev.code! });
    await w.advance(1000);
    expect((await rejection(l.core.preparePair(dev.name))).code).toBe("WINDOW_CLOSED");
    let asked = false;
    const err = await rejection(
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
    const keyOnDisk = async () =>
      (await onDisk(w, l.paths)).get(dev.deviceId)!.record.controllerStaticKey.publicKey;
    const oldKey = await keyOnDisk();

    dev.press();
    const p = await l.core.preparePair(dev.deviceId);
    expect(p.target.alreadyBonded).toBe(true);
    expect((await rejection(p.attempt(wrong(dev.code!)))).code).toBe("WRONG_CODE");
    await p.cancel();
    expect(await keyOnDisk()).toEqual(oldKey);
    expect(await l.core.status(dev.deviceId)).toMatchObject({ role: "admin" });

    dev.press();
    const r = await l.core.pair(dev.deviceId, { code: async () => dev.code! });
    expect(r.replaced).toBe(true);
    expect(await keyOnDisk()).not.toEqual(oldKey);
    expect((await onDisk(w, l.paths)).list()).toHaveLength(1);
    expect(dev.bonds()).toHaveLength(1);
    expect(await l.core.status(dev.deviceId)).toMatchObject({ role: "admin" });
  });
});

describe("a crash part-way through pairing leaves no half bond", () => {
  /** Pairs with the laptop dying in the store call `op`; returns the dead laptop's state dir. */
  async function crashDuringPairing(
    w: World,
    dev: MemoryDevice,
    at: { op: "putCandidate" | "commitCandidate"; mode: "hang" | "hang-after" },
  ): Promise<OpenClawPaths> {
    const a = await w.laptop();
    a.store.failNext(at.op, at.mode);
    const p = await a.core.preparePair(dev.name);
    void p.attempt(dev.code!);
    await w.advance(0);
    // The process dies: its links drop without a goodbye, nothing else of it runs.
    a.central.powerOff();
    await w.advance(0);
    return a.paths;
  }

  it("after the candidate was stored: the restarted laptop tries it once, and both sides end bonded", async () => {
    const w = await world();
    const dev = w.device("crash-1");
    const paths = await crashDuringPairing(w, dev, { op: "putCandidate", mode: "hang-after" });
    const disk = await onDisk(w, paths);
    expect(disk.candidates()).toHaveLength(1);
    expect(disk.list()).toEqual([]);
    expect(deviceBond(dev)?.provisional).toBe(true);

    // Restarted on the same state dir: the device is heard (its tag resolves with the candidate's
    // key), the candidate verifies and is committed.
    const b = await w.laptop({ paths, seed: "b" });
    await w.advance(1000);
    const after = await onDisk(w, paths);
    expect(after.candidates()).toEqual([]);
    expect(after.list().map(idOf)).toEqual([dev.deviceId]);
    expect(deviceBond(dev)?.provisional).toBe(false);
    expect(await b.audit()).toEqual(["pair-attempt", "paired"]);
    expect(await b.core.status(dev.deviceId)).toMatchObject({ role: "admin" });
  });

  it("after the candidate was stored, the device's provisional bond expired: the candidate is dropped", async () => {
    const w = await world();
    const dev = w.device("crash-2");
    const paths = await crashDuringPairing(w, dev, { op: "putCandidate", mode: "hang-after" });
    await w.advance(5 * 60_000 + 1000); // the provisional bond expires on the device
    expect(deviceBond(dev)).toBeUndefined();

    const b = await w.laptop({ paths, seed: "b" });
    // Heard by its tag (the candidate's tag key resolves it): one verify, refused, candidate dropped.
    await w.advance(1000);
    const after = await onDisk(w, paths);
    expect(after.candidates()).toEqual([]);
    expect(after.list()).toEqual([]);
    expect(dev.bonds()).toEqual([]);
    const audit = await b.auditEvents();
    expect(audit.at(-1)).toMatchObject({ type: "pair-failed", deviceId: dev.deviceId, code: "UNKNOWN_PEER" });
    expect((await rejection(w.settle(b.core.status(dev.deviceId)))).code).toBe("NO_SUCH_DEVICE");
  });

  it("after the first verify, before the commit: the restarted laptop commits (device already permanent)", async () => {
    const w = await world();
    const dev = w.device("crash-3");
    const paths = await crashDuringPairing(w, dev, { op: "commitCandidate", mode: "hang" });
    expect((await onDisk(w, paths)).candidates()).toHaveLength(1);
    expect(deviceBond(dev)?.provisional).toBe(false);
    const b = await w.laptop({ paths, seed: "b" });
    expect(await w.settle(b.core.status(dev.deviceId))).toMatchObject({ role: "admin" });
    const after = await onDisk(w, paths);
    expect(after.candidates()).toEqual([]);
    expect(after.list().map(idOf)).toEqual([dev.deviceId]);
  });

  it("the store refusing the candidate fails the pairing; the device's provisional bond then expires", async () => {
    const w = await world();
    const dev = w.device("crash-4");
    const l = await w.laptop();
    l.store.failNext("putCandidate", "throw", new Error("disk full"));
    const err = await l.core.pair(dev.name, { code: async () => dev.code! }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((await onDisk(w, l.paths)).list()).toEqual([]);
    expect(deviceBond(dev)?.provisional).toBe(true);
    await w.advance(5 * 60_000 + 1000);
    expect(deviceBond(dev)).toBeUndefined();
  });
});

describe("the first verify after pair-setup", () => {
  it("refused by the device: nothing is kept here, the old bond (if any) stays", async () => {
    const w = await world();
    const dev = w.device("verify-refused");
    const l = await w.laptop();
    const err = await rejection(
      l.core.pair(dev.name, {
        code: async () => dev.code!,
        // The device loses the fresh bond between pair-setup and the first verify.
        onStep: (s) => {
          if (s === "storing") dev.accessory.removeBond(LAPTOP_ID, "test", w.clock.now());
        },
      }),
    );
    expect(err.code).toBe("UNKNOWN_PEER");
    const disk = await onDisk(w, l.paths);
    expect(disk.list()).toEqual([]);
    expect(disk.candidates()).toEqual([]);
    expect(dev.bonds()).toEqual([]);
    expect(l.events.some((e) => e.type === "bonded")).toBe(false);
  });

  it("unanswered (link lost): the candidate is kept for one try at the next contact", async () => {
    const w = await world();
    const dev = w.device("verify-lost");
    const l = await w.laptop();
    const err = await rejection(
      l.core.pair(dev.name, {
        code: async () => dev.code!,
        onStep: (s) => {
          if (s === "verifying") dev.dropLinks();
        },
      }),
    );
    expect(err.code).toBe("OUT_OF_RANGE");
    expect((await onDisk(w, l.paths)).candidates()).toHaveLength(1);
    // The next contact (the device is heard again) settles it: both sides bonded.
    expect(await w.settle(l.core.status(dev.deviceId))).toMatchObject({ role: "admin" });
    const disk = await onDisk(w, l.paths);
    expect(disk.candidates()).toEqual([]);
    expect(disk.list().map(idOf)).toEqual([dev.deviceId]);
    expect(deviceBond(dev)?.provisional).toBe(false);
  });

  it("cut short by a cancel (the CLI hung up: Ctrl-C, kill): the candidate is kept, the next contact bonds both sides", async () => {
    const w = await world();
    const dev = w.device("verify-cancelled");
    const l = await w.laptop();
    const p = await l.core.preparePair(dev.name);
    // The device has confirmed the bond and its verify answer is on its way when the control API
    // cancels the attempt (what it does when the client's connection closes).
    const push = dev.events.push.bind(dev.events);
    dev.events.push = (...e) => {
      if (e.some((x) => x.type === "bond-confirmed")) void p.cancel();
      return push(...e);
    };
    const err = await rejection(p.attempt(dev.code!));
    // Our own hang-up is no verdict from the device.
    expect(err.code).toBe("OUT_OF_RANGE");
    expect(deviceBond(dev)?.provisional).toBe(false);
    expect(p.state).toBe("cancelled");
    expect((await onDisk(w, l.paths)).candidates()).toHaveLength(1);
    expect(await l.audit()).not.toContain("candidate-dropped");
    expect(await w.settle(l.core.status(dev.deviceId))).toMatchObject({ role: "admin" });
    const disk = await onDisk(w, l.paths);
    expect(disk.candidates()).toEqual([]);
    expect(disk.list().map(idOf)).toEqual([dev.deviceId]);
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
    expect((await onDisk(w, l.paths)).list()).toEqual([]);
    expect(l.events.some((e) => e.type === "removed")).toBe(true);
    const removed = (await l.auditEvents()).filter((e) => e.type === "removed");
    expect(removed).toEqual([
      expect.objectContaining({ deviceId: dev.deviceId, where: "device", outcome: "removed" }),
      expect.objectContaining({ deviceId: dev.deviceId, where: "local", outcome: "removed" }),
    ]);
    expect((await rejection(l.core.status(dev.deviceId))).code).toBe("NOT_BONDED");
  });

  it("unreachable: removed here, the stale bond on the device explained", async () => {
    const w = await world();
    const dev = w.device("forget-2");
    const l = await w.laptop();
    await l.core.pair(dev.name, { code: async () => dev.code! });
    dev.inRange = false;
    await w.advance(15_000); // lost from the scan
    expect(l.core.devices()).toEqual([]);
    const [o] = await w.settle(l.core.forget(dev.deviceId));
    expect(o).toMatchObject({ device: "unreachable", local: "removed" });
    expect(o!.staleBondRemedy).toMatch(/admin laptop.*pairing list.*HID.*factory-reset/);
    expect(o!.error?.code).toBe("OUT_OF_RANGE");
    expect(deviceBond(dev)).toBeDefined();
    expect((await onDisk(w, l.paths)).list()).toEqual([]);
    const removed = (await l.auditEvents()).filter((e) => e.type === "removed");
    expect(removed.map((e) => [e.where, e.outcome])).toEqual([
      ["device", "unreachable"],
      ["local", "removed"],
    ]);
  });

  it("just out of range (still in the scan list): one short connect, no retries, then removed here", async () => {
    const w = await world();
    const dev = w.device("forget-2b");
    const l = await w.laptop();
    await l.core.pair(dev.name, { code: async () => dev.code! });
    await w.advance(30_000); // the pairing's session idles out: forget must connect
    dev.inRange = false;
    expect(l.core.devices().map((d) => d.deviceId)).toEqual([dev.deviceId]); // heard a moment ago
    const connectsBefore = l.central.connects.length;
    const started = w.clock.now();
    const [o] = await w.settle(l.core.forget(dev.deviceId));
    expect(o).toMatchObject({ device: "unreachable", local: "removed" });
    expect(o!.staleBondRemedy).toMatch(/still holds this laptop's pairing/);
    // One attempt with the short deadline (the default budget is 3 attempts of 10 s plus backoff).
    expect(l.central.connects.length - connectsBefore).toBe(1);
    expect(o!.error).toMatchObject({ code: "TIMEOUT", details: { afterMs: 3000 } });
    // On the clock: the wait to hear it (1.5 s) and no backoff sleeps.
    expect(w.clock.now() - started).toBeLessThanOrEqual(1500);
    expect((await onDisk(w, l.paths)).list()).toEqual([]);
  });

  it("in range: forget hears it again and removes the pairing on the device", async () => {
    const w = await world();
    const dev = w.device("forget-2c");
    const l = await w.laptop();
    await l.core.pair(dev.name, { code: async () => dev.code! });
    await w.advance(30_000);
    const [o] = await w.settle(l.core.forget(dev.deviceId));
    expect(o).toMatchObject({ device: "removed", local: "removed", staleBondRemedy: null });
    expect(deviceBond(dev)).toBeUndefined();
  });

  it("already gone: the device had forgotten us", async () => {
    const w = await world();
    const dev = w.device("forget-3");
    const l = await w.laptop();
    await l.core.pair(dev.name, { code: async () => dev.code! });
    await w.advance(60_000);
    expect(l.core.sessions()).toEqual([]); // idled out
    dev.accessory.removeBond(LAPTOP_ID, "another admin", w.clock.now());
    // settle: forget waits (on the clock) to hear the device before it connects.
    const [o] = await w.settle(l.core.forget(dev.deviceId));
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
    const removed = (await l.auditEvents()).filter((e) => e.type === "removed");
    expect(removed.map((e) => [e.where, e.outcome])).toEqual([["local", "removed"]]);
  });
});

describe("a key rotation whose answer was lost (the store's two phases; the rotate command is next)", () => {
  // As the rotate command will: the new key is saved as pending before it goes out, and the device
  // either took it (the answer was lost) or never got it. The next verify, after a restart from disk,
  // must find the key the device holds and keep only that one.
  for (const took of [true, false]) {
    it(`the device ${took ? "took" : "never got"} the new key: the next verify settles it on disk`, async () => {
      const w = await world();
      const dev = w.device(`rotate-${took}`);
      const l = await w.laptop();
      await l.core.pair(dev.name, { code: async () => dev.code! });
      const next = sampleKey(`rotate-${took}`);
      const before = (await onDisk(w, l.paths)).get(dev.deviceId)!.record.controllerStaticKey;
      await l.bonds.beginRotation(dev.deviceId, next);
      if (took) dev.accessory.rotateBondKey(LAPTOP_ID, next.publicKey, w.clock.now());
      await l.core.close();

      const b = await w.laptop({ paths: l.paths, seed: "b" });
      expect((await onDisk(w, l.paths)).get(dev.deviceId)!.record.pendingStaticKey).toBeDefined();
      expect(await w.settle(b.core.status(dev.deviceId))).toMatchObject({ role: "admin" });
      const settled = (await onDisk(w, l.paths)).get(dev.deviceId)!.record;
      expect(settled.pendingStaticKey).toBeUndefined();
      expect(Buffer.from(settled.controllerStaticKey.publicKey)).toEqual(
        Buffer.from(took ? next.publicKey : before.publicKey),
      );
      expect(Buffer.from(deviceBond(dev)!.controllerStaticPublicKey)).toEqual(
        Buffer.from(settled.controllerStaticKey.publicKey),
      );
      expect(await b.audit()).not.toContain("verify-failed");
    });
  }
});

describe("a device that forgot this laptop", () => {
  it("is reported as UNKNOWN_PEER with the catalogue's words", async () => {
    const w = await world();
    const dev = w.device("forgot");
    const l = await w.laptop();
    await l.core.pair(dev.name, { code: async () => dev.code! });
    await w.advance(60_000);
    dev.accessory.removeBond(LAPTOP_ID, "another admin", w.clock.now());
    const err = await rejection(l.core.claw(dev.deviceId, "open"));
    expect(err.code).toBe("UNKNOWN_PEER");
    expect(err.message).toBe("this device has forgotten this laptop");
    expect(err.remedy).toMatch(/forget the device here.*pair again/i);
    expect(l.events.some((e) => e.type === "error" && e.error.code === "UNKNOWN_PEER")).toBe(true);
    expect((await l.auditEvents()).at(-1)).toMatchObject({
      type: "verify-failed",
      deviceId: dev.deviceId,
      code: "UNKNOWN_PEER",
    });
  });
});

describe("a device that was factory-reset", () => {
  it("says it has forgotten this laptop; pairing again works and the old bond is forgotten as already gone", async () => {
    const w = await world();
    const dev = w.device("reset");
    const l = await w.laptop();
    await l.core.pair(dev.name, { code: async () => dev.code! });
    const oldId = dev.deviceId;
    await w.advance(60_000);
    dev.factoryReset(); // a new identity, no bonds, a boot window: its adverts no longer carry our tag
    expect(dev.deviceId).not.toBe(oldId);
    await w.advance(1000);
    const err = await rejection(w.settle(l.core.status(oldId)));
    expect(err.code).toBe("UNKNOWN_PEER");
    expect(err.message).toBe("this device has forgotten this laptop");

    const r = await l.core.pair(undefined, { code: async () => dev.code! });
    expect(r.bond.deviceId).toBe(dev.deviceId);
    expect(await l.core.claw(dev.deviceId, "open")).toEqual({ claw: "open" });
    const [o] = await w.settle(l.core.forget(oldId));
    expect(o).toMatchObject({ deviceId: oldId, device: "already-gone", local: "removed" });
    expect((await onDisk(w, l.paths)).list().map(idOf)).toEqual([dev.deviceId]);
    expect(deviceBond(dev)?.provisional).toBe(false);
  });
});

describe("a restarted laptop", () => {
  it("keeps the device's address in the bond file, so it still tells a reset device from an absent one", async () => {
    const w = await world();
    const dev = w.device("restart-reset");
    const l = await w.laptop();
    await l.core.pair(dev.name, { code: async () => dev.code! });
    const pairedAt = w.clock.wallNow();
    const [seen] = (await onDisk(w, l.paths)).list();
    expect(seen?.lastSeen).toEqual({ address: dev.address, radioId: dev.radioId, at: pairedAt });
    await w.advance(60_000);
    await l.core.status(dev.deviceId); // a verify on a fresh link records it again
    const verifiedAt = w.clock.wallNow();
    expect((await onDisk(w, l.paths)).list()[0]?.lastSeen?.at).toBe(verifiedAt);
    await l.core.close();

    const oldId = dev.deviceId;
    dev.factoryReset();
    await w.advance(1000);
    const b = await w.laptop({ paths: l.paths, seed: "b" });
    // `devices` after the restart: the address it last answered at, though it is not heard by its tag.
    const [bond] = await b.core.bonds();
    expect(bond).toMatchObject({
      deviceId: oldId,
      inRange: false,
      address: dev.address,
      lastSeenAt: verifiedAt,
    });
    const err = await rejection(w.settle(b.core.status(oldId)));
    expect(err.code).toBe("UNKNOWN_PEER");
  });
});

describe("sessions", () => {
  it("close after the idle time; the next command reconnects and verifies", async () => {
    const w = await world();
    const dev = w.device("idle");
    const l = await w.laptop({ options: { sessionIdleMs: 20_000 } });
    await l.core.pair(dev.name, { code: async () => dev.code! });
    expect(await l.core.claw(dev.name, "open")).toEqual({ claw: "open" });
    await w.advance(19_000);
    expect(dev.connections).toBe(1);
    await w.advance(2000);
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
    await w.advance(2000);
    dev.inRange = false; // connect attempts time out...
    const p = l.core.status(dev.deviceId);
    await w.advance(0);
    expect(l.central.connects).toHaveLength(2);
    dev.inRange = true; // ...until it is back
    expect(await w.settle(p)).toMatchObject({ role: "admin" });
    expect(l.central.connects).toHaveLength(3);
  });

  it("serve two devices at once, each on its own link", async () => {
    const w = await world();
    const d1 = w.device("two-a");
    const l = await w.laptop();
    await l.core.pair(d1.name, { code: async () => d1.code! });
    const d2 = w.device("two-b");
    await w.advance(1000);
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
    expect(d1.bonds()).toEqual([]);
    expect(d2.bonds()).toEqual([]);
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
