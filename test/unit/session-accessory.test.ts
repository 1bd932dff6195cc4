/**
 * Verify and session through the real accessory and controller objects (the Accessory with
 * this module's session factory, Controller pair-setup), both roles in memory, fake time.
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock/index.js";
import { Accessory, type AccessoryLink } from "../../src/protocol/accessory/accessory.js";
import { generateAccessoryIdentity } from "../../src/protocol/accessory/identity.js";
import type { AccessoryEvent } from "../../src/protocol/accessory/types.js";
import type { ControllerBond } from "../../src/protocol/controller/bond-record.js";
import { Controller } from "../../src/protocol/controller/controller.js";
import { OpenClawError } from "../../src/protocol/errors.js";
import { decodeInfo } from "../../src/protocol/messages/info.js";
import { seededRandom } from "../../src/protocol/random.js";
import type { SessionClient } from "../../src/protocol/session/client.js";
import { verifyExchange } from "../../src/protocol/verify/exchange.js";
import { createSessionFactory, linkSessionOf } from "../../src/protocol/verify/handler.js";
import { rejection, thrown } from "../helpers/errors.js";

function world(seed: string) {
  const random = seededRandom(`acc:${seed}`);
  const clock = new ManualClock(10_000);
  const events: AccessoryEvent[] = [];
  const accessory = new Accessory({
    identity: generateAccessoryIdentity(random),
    profile: { name: "OpenClaw-TEST", model: "claw-1", firmware: "1.0.0" },
    random,
    session: createSessionFactory({
      random,
      app: {
        onAppRequest: (peer, m) => Uint8Array.of(m.channel, peer.role === "admin" ? 1 : 2),
      },
    }),
  });
  return { accessory, clock, events, random };
}

type World = ReturnType<typeof world>;

function pair(w: World, name: string, code: string): ControllerBond {
  const controller = new Controller({
    controllerId: seededRandom(`id:${name}`)(16),
    name,
    random: seededRandom(`ctl:${name}`),
  });
  const link = w.accessory.connect();
  const ps = controller.pairSetup(decodeInfo(w.accessory.infoBytes(w.clock.now())), code);
  let inbox = [ps.firstMessage];
  for (let i = 0; i < 10; i++) {
    const next: Uint8Array[] = [];
    for (const m of inbox) {
      const out = link.handle(m, w.clock.now());
      w.events.push(...out.events);
      for (const r of out.replies) {
        const step = ps.handle(r);
        if (step.outcome?.kind === "ok") {
          link.close(w.clock.now());
          return step.outcome.value;
        }
        if (step.outcome?.kind === "failed") throw step.outcome.error;
        next.push(...step.replies);
      }
    }
    inbox = next;
  }
  throw new Error("pair-setup did not finish");
}

interface Connected {
  client: SessionClient;
  role: string;
  link: AccessoryLink;
  disconnected: () => boolean;
}

function verify(w: World, bond: ControllerBond): Connected {
  const link = w.accessory.connect();
  let disconnected = false;
  let client: SessionClient | undefined;
  const deliver = (m: Uint8Array) => {
    const out = link.handle(m, w.clock.now());
    w.events.push(...out.events);
    if (out.disconnect) disconnected = true;
    for (const r of out.replies) {
      try {
        client?.receive(r);
      } catch {
        // pending calls already carry the error
      }
    }
  };
  const ex = verifyExchange(bond, {
    random: seededRandom(`v:${Buffer.from(bond.controllerId).toString("hex")}:${w.clock.now()}`),
    clock: w.clock,
    send: deliver,
  });
  const out = link.handle(ex.firstMessage, w.clock.now());
  w.events.push(...out.events);
  const step = ex.handle(out.replies[0]!);
  if (step.outcome?.kind !== "ok") throw step.outcome?.error ?? new Error("no outcome");
  client = step.outcome.value.client;
  return { client, role: step.outcome.value.role, link, disconnected: () => disconnected };
}

describe("verify and session on the real accessory", () => {
  it("pairs, confirms the provisional bond on first verify, and serves commands", async () => {
    const w = world("1");
    const { code } = w.accessory.openWindow({ reason: "button" }, w.clock.now());
    const bond = pair(w, "alice", code);
    expect(w.accessory.bondTable.list()[0]?.state.kind).toBe("provisional");
    const a = verify(w, bond);
    expect(a.role).toBe("admin");
    expect(w.accessory.bondTable.list()[0]?.state.kind).toBe("permanent");
    expect(w.events.map((e) => e.type)).toContain("bond-confirmed");
    const st = await a.client.status();
    expect(st).toMatchObject({
      role: "admin",
      bondSlots: { used: 1, total: 8 },
      window: { state: "closed" },
    });
    expect(await a.client.appRequest(7, new Uint8Array(0))).toEqual(Uint8Array.of(7, 1));
  });

  it("share: a second laptop pairs with the admin's code and gets the user role", async () => {
    const w = world("2");
    const first = pair(w, "alice", w.accessory.openWindow({ reason: "button" }, w.clock.now()).code);
    const a = verify(w, first);
    const shared = await a.client.share({ ttlMs: 120_000 });
    expect((await a.client.status()).window).toEqual({ state: "open", timeLeftMs: 120_000 });
    // The window is open with the admin's code; the device did not make one up.
    const info = decodeInfo(w.accessory.infoBytes(w.clock.now()));
    expect(info.window).toMatchObject({ state: "open", codeSource: "controller" });
    w.clock.advance(30_000);
    const second = pair(w, "bob", shared.display);
    expect(second.role).toBe("user");
    const b = verify(w, second);
    expect(b.role).toBe("user");
    expect(await b.client.appRequest(1, new Uint8Array(0))).toEqual(Uint8Array.of(1, 2));
    const denied = await rejection(b.client.listPairings());
    expect(denied.code).toBe("NOT_PERMITTED");
    expect(b.disconnected()).toBe(false);
    const list = await a.client.listPairings();
    expect(list.map((p) => [p.name, p.role, p.state, p.self])).toEqual([
      ["alice", "admin", "permanent", true],
      ["bob", "user", "permanent", false],
    ]);
  });

  it("admin removes a user: that laptop is forgotten (UNKNOWN_PEER)", async () => {
    const w = world("3");
    const alice = pair(w, "alice", w.accessory.openWindow({ reason: "button" }, w.clock.now()).code);
    const a = verify(w, alice);
    const bob = pair(w, "bob", (await a.client.share({ ttlMs: 60_000 })).code);
    verify(w, bob);
    expect(await a.client.removePairing(bob.controllerId)).toEqual({ removedSelf: false });
    expect(w.events.map((e) => e.type)).toContain("removed");
    const err = thrown(() => verify(w, bob));
    expect(err.code).toBe("UNKNOWN_PEER");
    expect(err.remedy).toMatch(/forget the device/i);
  });

  it("a live session whose bond is removed from another link ends with UNKNOWN_PEER", async () => {
    const w = world("3b");
    const alice = pair(w, "alice", w.accessory.openWindow({ reason: "button" }, w.clock.now()).code);
    const a = verify(w, alice);
    const bob = pair(w, "bob", (await a.client.share({ ttlMs: 60_000 })).code);
    const b = verify(w, bob);
    expect((await b.client.status()).role).toBe("user");
    await a.client.removePairing(bob.controllerId);
    const err = await rejection(b.client.status());
    expect(err.code).toBe("UNKNOWN_PEER");
    expect(b.disconnected()).toBe(true);
    expect(b.client.state.kind).toBe("closed");
    expect((await a.client.status()).bondSlots.used).toBe(1);
  });

  it("the device pushes app notifications on a verified link", () => {
    const w = world("3c");
    const alice = pair(w, "alice", w.accessory.openWindow({ reason: "button" }, w.clock.now()).code);
    const a = verify(w, alice);
    const seen: number[] = [];
    a.client.onNotification((m) => seen.push(m.channel, ...m.payload));
    const ls = linkSessionOf(a.link.session);
    expect(ls?.peer.role).toBe("admin");
    for (const r of ls!.notify({ channel: 2, payload: Uint8Array.of(0, 1) }, w.clock.now()).replies) {
      a.client.receive(r);
    }
    expect(seen).toEqual([2, 0, 1]);
    expect(linkSessionOf(w.accessory.connect().session)).toBeUndefined();
    a.link.close(w.clock.now());
    expect(ls!.open).toBe(false);
    expect(ls!.notify({ channel: 2, payload: Uint8Array.of(1) }, w.clock.now()).replies).toEqual([]);
  });

  it("rotate: the new key verifies, the old one is unknown", async () => {
    const w = world("4");
    const alice = pair(w, "alice", w.accessory.openWindow({ reason: "button" }, w.clock.now()).code);
    const a = verify(w, alice);
    const { keyPair } = await a.client.rotate();
    expect(w.events.map((e) => e.type)).toContain("bonds-changed");
    expect(thrown(() => verify(w, alice)).code).toBe("UNKNOWN_PEER");
    const b = verify(w, { ...alice, controllerStaticKey: keyPair });
    expect(b.role).toBe("admin");
  });

  it("factory reset wipes bonds and identity and drops the link", async () => {
    const w = world("5");
    const alice = pair(w, "alice", w.accessory.openWindow({ reason: "button" }, w.clock.now()).code);
    const oldKey = w.accessory.identity.staticKey.publicKey;
    const a = verify(w, alice);
    await a.client.factoryReset();
    expect(a.disconnected()).toBe(true);
    expect(w.accessory.bondTable.used).toBe(0);
    expect(w.accessory.identity.staticKey.publicKey).not.toEqual(oldKey);
    expect(w.events.map((e) => e.type)).toEqual(
      expect.arrayContaining(["factory-reset", "identity-changed"]),
    );
    expect(thrown(() => verify(w, alice)).code).toBe("UNKNOWN_PEER");
  });

  it("a provisional bond that is never verified expires", () => {
    const w = world("6");
    const alice = pair(w, "alice", w.accessory.openWindow({ reason: "button" }, w.clock.now()).code);
    w.clock.advance(5 * 60_000);
    w.accessory.tick(w.clock.now());
    expect(thrown(() => verify(w, alice)).code).toBe("UNKNOWN_PEER");
  });

  it("user removes itself; the link is dropped", async () => {
    const w = world("7");
    const alice = pair(w, "alice", w.accessory.openWindow({ reason: "button" }, w.clock.now()).code);
    const a = verify(w, alice);
    const bob = pair(w, "bob", (await a.client.share({ ttlMs: 60_000 })).code);
    const b = verify(w, bob);
    expect(await b.client.removePairing()).toEqual({ removedSelf: true });
    expect(b.disconnected()).toBe(true);
    expect(b.client.state.kind).toBe("closed");
    expect(w.accessory.bondTable.used).toBe(1);
    expect(thrown(() => verify(w, bob)).code).toBe("UNKNOWN_PEER");
    expect(new OpenClawError("UNKNOWN_PEER", {}).message).toBe("this device has forgotten this laptop");
  });
});
