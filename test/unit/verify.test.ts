import { describe, expect, it } from "vitest";
import type {
  AccessoryCore,
  AccessoryEvent,
  AccessoryIdentity,
  BondView as CoreBondView,
  OpenWindowOptions,
} from "../../src/protocol/accessory/types.js";
import { generateKeyPair } from "../../src/protocol/crypto/noise.js";
import { decodeMessage, encodeMessage } from "../../src/protocol/messages/codec.js";
import type { SessionMessage, VerifyStart } from "../../src/protocol/messages/schema.js";
import { seededRandom } from "../../src/protocol/random.js";
import { SessionClient } from "../../src/protocol/session/client.js";
import {
  addBond,
  connect,
  controllerVerify,
  deviceAccept,
  type TestController,
  testController,
  testDevice,
} from "../../src/protocol/session/testing.js";
import { ControllerVerify } from "../../src/protocol/verify/controller.js";
import { createSessionFactory } from "../../src/protocol/verify/handler.js";
import { decodeStartPayload, encodeStartPayload } from "../../src/protocol/verify/payload.js";
import { verifyPrologue } from "../../src/protocol/verify/prologue.js";
import { thrown as caught } from "../helpers/errors.js";

describe("verify (Noise KK, one round trip)", () => {
  it("succeeds for a bonded controller and reports its role", async () => {
    const d = testDevice("v1");
    const c = testController("admin");
    addBond(d, c, "admin");
    const link = connect(d, c);
    expect(link.role).toBe("admin");
    expect(link.session.peer.role).toBe("admin");
    const st = await link.client.status();
    expect(st.role).toBe("admin");
    expect(st.controllerId).toEqual(c.controllerId);
  });

  it("makes a provisional bond permanent on the first verify only", () => {
    const d = testDevice("v2");
    const c = testController("new");
    addBond(d, c, "admin", "provisional");
    const first = connect(d, c);
    expect(first.verifyEvents).toEqual([{ kind: "bondConfirmed", controllerId: c.controllerId }]);
    expect(d.host.find(c.controllerId)?.state).toBe("permanent");
    const second = connect(d, c);
    expect(second.verifyEvents).toEqual([]);
  });

  it("finds the calling bond by trial decryption among several", async () => {
    const d = testDevice("v3");
    const [a, b, u] = [testController("a"), testController("b"), testController("u")];
    addBond(d, a, "admin");
    addBond(d, b, "user");
    addBond(d, u, "user");
    const link = connect(d, u);
    expect(link.session.peer.controllerId).toEqual(u.controllerId);
    expect((await link.client.status()).controllerId).toEqual(u.controllerId);
  });

  it("reports UNKNOWN_PEER on both sides for a controller the device does not know", () => {
    const d = testDevice("v4");
    addBond(d, testController("someone"), "admin");
    const stranger = testController("stranger");
    const err = caught(() => connect(d, stranger));
    expect(err.code).toBe("UNKNOWN_PEER");
    expect(err.message).toBe("this device has forgotten this laptop");
    // The controller side hears it as a cleartext Error message.
    const v = controllerVerify(d, stranger);
    v.start();
    const e2 = caught(() =>
      v.finish(encodeMessage({ type: "Error", code: "UNKNOWN_PEER" }), { clock: stranger.clock }),
    );
    expect(e2.code).toBe("UNKNOWN_PEER");
  });

  it("reports UNKNOWN_PEER with an empty bond table", () => {
    const d = testDevice("v4b");
    expect(caught(() => connect(d, testController("x"))).code).toBe("UNKNOWN_PEER");
  });

  it("reports UNKNOWN_PEER after the bond was removed", async () => {
    const d = testDevice("v5");
    const c = testController("c");
    addBond(d, c, "user");
    const link = connect(d, c);
    await expect(link.client.removePairing()).resolves.toEqual({ removedSelf: true });
    expect(caught(() => connect(d, c)).code).toBe("UNKNOWN_PEER");
  });

  it("binds the device id (prologue) and the accessory key", () => {
    const d = testDevice("v6");
    const c = testController("c");
    addBond(d, c, "admin");
    // A controller that believes it talks to another device id: message 1 does not open.
    const wrongId = new ControllerVerify({
      deviceId: new Uint8Array(8).fill(7),
      identity: c.keys,
      accessoryPublicKey: d.identity.publicKey,
      random: c.random,
    });
    const err = caught(() => deviceAccept(d, wrongId.start()));
    expect(err.code).toBe("UNKNOWN_PEER");
    // A controller holding another accessory's key for this device: same.
    const wrongKey = new ControllerVerify({
      deviceId: d.deviceId,
      identity: c.keys,
      accessoryPublicKey: generateKeyPair(seededRandom("other")).publicKey,
      random: c.random,
    });
    expect(caught(() => deviceAccept(d, wrongKey.start())).code).toBe("UNKNOWN_PEER");
    expect(new TextDecoder().decode(verifyPrologue(d.deviceId).subarray(0, 15))).toBe("OpenClaw-Pair/1");
  });

  it("rejects a tampered VerifyAccept with PROTOCOL_ERROR", () => {
    const d = testDevice("v7");
    const c = testController("c");
    addBond(d, c, "admin");
    const v = controllerVerify(d, c);
    const match = deviceAccept(d, v.start());
    const bad = match.reply.slice();
    bad[bad.length - 1]! ^= 0x01;
    expect(caught(() => v.finish(bad, { clock: c.clock })).code).toBe("PROTOCOL_ERROR");
  });

  it("gives each verify fresh session keys (ephemeral keys, forward secrecy)", () => {
    const d = testDevice("v8");
    const c = testController("c");
    addBond(d, c, "admin");
    const hashes = [0, 1].map(() => {
      const v = controllerVerify(d, c);
      const m = deviceAccept(d, v.start());
      const session = v.finish(m.reply, { clock: c.clock });
      expect(session.handshakeHash).toEqual(m.handshakeHash);
      return Buffer.from(m.handshakeHash).toString("hex");
    });
    expect(hashes[0]).not.toBe(hashes[1]);
  });

  it("has the documented sizes: VerifyStart 53 bytes, VerifyAccept 57 bytes", () => {
    const d = testDevice("v9");
    const c = testController("c");
    addBond(d, c, "user");
    const v = controllerVerify(d, c);
    const start = v.start();
    expect(start.length).toBe(53);
    expect([...start.subarray(0, 5)]).toEqual([0x01, 0x10, 0x01, 0x00, 48]);
    const m = deviceAccept(d, start);
    expect(m.reply.length).toBe(57);
    expect([...m.reply.subarray(0, 5)]).toEqual([0x01, 0x11, 0x01, 0x00, 52]);
    expect(v.finish(m.reply, { clock: c.clock }).role).toBe("user");
  });

  it("keeps handshake payloads minimal and strict", () => {
    expect(encodeStartPayload({ features: 0 })).toEqual(new Uint8Array(0));
    expect(decodeStartPayload(encodeStartPayload({ features: 5 }))).toEqual({ features: 5 });
    expect(caught(() => decodeStartPayload(Uint8Array.of(9, 0, 0))).code).toBe("PROTOCOL_ERROR");
  });

  it("refuses a verify answer out of turn", () => {
    const c = testController("c");
    const v = new ControllerVerify({
      deviceId: new Uint8Array(8),
      identity: c.keys,
      accessoryPublicKey: c.keys.publicKey,
      random: c.random,
    });
    expect(caught(() => v.finish(new Uint8Array(0), { clock: c.clock })).code).toBe("PROTOCOL_ERROR");
  });
});

// ---- the plug into the accessory, against a minimal core ----

function fakeCore(seed: string) {
  const random = seededRandom(seed);
  const identity: AccessoryIdentity = {
    deviceId: random(8),
    staticKey: generateKeyPair(random),
    tagKey: random(16),
  };
  const bonds: CoreBondView[] = [];
  const windows: OpenWindowOptions[] = [];
  let resets = 0;
  const core: AccessoryCore = {
    identity,
    profile: { name: "OpenClaw-TEST", model: "test", firmware: "0" },
    bonds: () => bonds.map((b) => ({ ...b })),
    confirmBond: (id) => {
      const b = bonds.find((x) => Buffer.from(x.controllerId).equals(id));
      if (!b?.provisional) return [];
      b.provisional = false;
      return [{ type: "bond-confirmed", controllerId: Buffer.from(id).toString("hex") }];
    },
    rotateBondKey: (id, key) => {
      const b = bonds.find((x) => Buffer.from(x.controllerId).equals(id));
      if (b) b.controllerStaticPublicKey = key;
      return [{ type: "bonds-changed" }];
    },
    removeBond: (id, by) => {
      const i = bonds.findIndex((x) => Buffer.from(x.controllerId).equals(id));
      if (i >= 0) bonds.splice(i, 1);
      return [{ type: "removed", controllerId: Buffer.from(id).toString("hex"), by }];
    },
    openWindow: (opts, now) => {
      windows.push(opts);
      return {
        code: opts.codeFromController ?? "",
        display: "",
        nonce: new Uint8Array(16),
        expiresAt: now + (opts.ttlMs ?? 0),
        events: [],
      };
    },
    closeWindow: () => [],
    factoryReset: () => {
      bonds.length = 0;
      resets++;
      return [{ type: "factory-reset" }];
    },
    emit: (_e: AccessoryEvent) => {},
  };
  return { core, bonds, windows, random, resets: () => resets };
}

/** The controller's half of verify: `c` calling the fake core's device. */
function coreVerify(core: AccessoryCore, c: TestController): ControllerVerify {
  return new ControllerVerify({
    deviceId: core.identity.deviceId,
    identity: c.keys,
    accessoryPublicKey: core.identity.staticKey.publicKey,
    random: c.random,
  });
}

/** A confirmed user bond for `c`, named "u". */
function permanentUser(c: TestController): CoreBondView {
  return {
    controllerId: c.controllerId,
    controllerStaticPublicKey: c.keys.publicKey,
    role: "user",
    name: "u",
    provisional: false,
    createdAt: 0,
  };
}

describe("createSessionFactory (the accessory plug point)", () => {
  it("verifies, confirms, serves commands and ends on a factory reset", async () => {
    const { core, bonds, windows, random } = fakeCore("core-1");
    const c = testController("admin");
    bonds.push({
      controllerId: c.controllerId,
      controllerStaticPublicKey: c.keys.publicKey,
      role: "admin",
      name: "laptop",
      provisional: true,
      createdAt: 0,
    });
    const handler = createSessionFactory({ random })(core);
    const v = coreVerify(core, c);
    const out = handler.handle(decodeMessage(v.start()) as VerifyStart, 10);
    expect(out.events.map((e) => e.type)).toEqual(["bond-confirmed", "verified"]);
    expect(bonds[0]!.provisional).toBe(false);
    const session = v.finish(out.replies[0]!, { clock: c.clock });
    let lastOut: ReturnType<typeof handler.handle> | undefined;
    const client: SessionClient = new SessionClient({
      channel: session.channel,
      random: c.random,
      role: session.role,
      send: (m) => {
        lastOut = handler.handle(decodeMessage(m) as SessionMessage, 20);
        for (const r of lastOut.replies) client.receive(r);
      },
    });
    const shared = await client.share({ ttlMs: 60_000, role: "user" });
    expect(windows[0]).toMatchObject({
      codeFromController: shared.code,
      role: "user",
      ttlMs: 60_000,
      reason: "share",
    });
    expect(shared.timeLeftMs).toBe(60_000);
    const list = await client.listPairings();
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ self: true, state: "permanent", role: "admin" });
    await client.factoryReset();
    expect(lastOut?.disconnect).toBe(true);
    expect(lastOut?.events).toEqual([{ type: "factory-reset" }]);
    expect(client.state.kind).toBe("closed");
  });

  it("answers an unknown controller with Error UNKNOWN_PEER and keeps the link (a few times)", () => {
    const { core, random } = fakeCore("core-2");
    const handler = createSessionFactory({ random })(core);
    const c = testController("x");
    const v = coreVerify(core, c);
    const out = handler.handle(decodeMessage(v.start()) as VerifyStart, 0);
    expect(out.disconnect).toBeUndefined();
    expect(decodeMessage(out.replies[0]!)).toEqual({ type: "Error", code: "UNKNOWN_PEER" });
    expect(caught(() => v.finish(out.replies[0]!, { clock: c.clock })).code).toBe("UNKNOWN_PEER");
    // Retries are bounded per link: the third unknown verify also drops the link.
    const again = () => {
      const w = coreVerify(core, c);
      return handler.handle(decodeMessage(w.start()) as VerifyStart, 1);
    };
    expect(again().disconnect).toBeUndefined();
    const third = again();
    expect(third.disconnect).toBe(true);
    expect(decodeMessage(third.replies[0]!)).toEqual({ type: "Error", code: "UNKNOWN_PEER" });
  });

  it("answers a tampered session message with Error PROTOCOL_ERROR and drops the link", () => {
    const { core, bonds, random } = fakeCore("core-3");
    const c = testController("u");
    bonds.push(permanentUser(c));
    const handler = createSessionFactory({ random })(core);
    const v = coreVerify(core, c);
    const session = v.finish(handler.handle(decodeMessage(v.start()) as VerifyStart, 0).replies[0]!, {
      clock: c.clock,
    });
    const sealed = decodeMessage(session.channel.seal(Uint8Array.of(1, 0, 1, 1))) as SessionMessage;
    sealed.ciphertext[0]! ^= 0xff;
    const out = handler.handle(sealed, 1);
    expect(out.disconnect).toBe(true);
    expect(decodeMessage(out.replies[0]!)).toMatchObject({ type: "Error", code: "PROTOCOL_ERROR" });
    // Anything after that is refused too.
    const again = handler.handle(
      decodeMessage(session.channel.seal(Uint8Array.of(1, 0, 1, 1))) as SessionMessage,
      2,
    );
    expect(decodeMessage(again.replies[0]!)).toMatchObject({ type: "Error", code: "PROTOCOL_ERROR" });
  });

  it("refuses a Session message before verify", () => {
    const { core, random } = fakeCore("core-4");
    const handler = createSessionFactory({ random })(core);
    const out = handler.handle({ type: "Session", flags: 0, ciphertext: new Uint8Array(16) }, 0);
    expect(out.disconnect).toBe(true);
    expect(decodeMessage(out.replies[0]!)).toMatchObject({ type: "Error", code: "PROTOCOL_ERROR" });
  });

  it("lets the device push app notifications on a verified link", () => {
    const { core, bonds, random } = fakeCore("core-5");
    const c = testController("u");
    bonds.push(permanentUser(c));
    const links: Array<{
      notify: (m: { channel: number; payload: Uint8Array }, now: number) => { replies: Uint8Array[] };
    }> = [];
    const handler = createSessionFactory({ random, onSession: (s) => links.push(s) })(core);
    const v = coreVerify(core, c);
    const s = v.finish(handler.handle(decodeMessage(v.start()) as VerifyStart, 0).replies[0]!, {
      clock: c.clock,
    });
    const client = new SessionClient({ channel: s.channel, random: c.random, role: s.role, send: () => {} });
    const seen: number[] = [];
    client.onNotification((m) => seen.push(m.channel, ...m.payload));
    for (const r of links[0]!.notify({ channel: 2, payload: Uint8Array.of(1) }, 5).replies) client.receive(r);
    expect(seen).toEqual([2, 1]);
  });
});
