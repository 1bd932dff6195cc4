import { describe, expect, it } from "vitest";
import { codePassword, normaliseCode } from "../../src/protocol/codes/index.js";
import {
  deriveW0W1,
  registrationRecord,
  Spake2PlusProver,
  Spake2PlusVerifier,
} from "../../src/protocol/crypto/spake2plus.js";
import { OpenClawError } from "../../src/protocol/errors.js";
import { decodeMessage, encodeMessage } from "../../src/protocol/messages/codec.js";
import { MAX_MESSAGE } from "../../src/protocol/messages/constants.js";
import { seededRandom } from "../../src/protocol/random.js";
import type { AppHandler } from "../../src/protocol/session/accessory.js";
import { SecureChannel } from "../../src/protocol/session/channel.js";
import { encodeErrorBody } from "../../src/protocol/session/error-body.js";
import { SESSION_FLAG_REKEY } from "../../src/protocol/session/limits.js";
import { encodePayload } from "../../src/protocol/session/payload.js";
import {
  addBond,
  connect,
  controllerVerify,
  deviceAccept,
  type TestController,
  type TestDevice,
  testController,
  testDevice,
} from "../../src/protocol/session/testing.js";
import { openClientSession } from "../../src/protocol/verify/controller.js";
import { rejection, thrown } from "../helpers/errors.js";

/** A device with an admin and a user bond. */
function household(seed: string, app?: AppHandler) {
  const d = testDevice(seed, { app });
  const admin = testController(`${seed}:admin`);
  const user = testController(`${seed}:user`);
  addBond(d, admin, "admin");
  addBond(d, user, "user");
  return { d, admin, user };
}

/**
 * `c` verified with `d` by hand: the controller's session client (its sends dropped) and the device's
 * raw SecureChannel, to seal what a well-behaved device never would.
 */
function handMadeSession(d: TestDevice, c: TestController) {
  const v = controllerVerify(d, c);
  const m = deviceAccept(d, v.start());
  const { client } = openClientSession(v, m.reply, {
    clock: c.clock,
    random: c.random,
    send: () => {},
  });
  const device = new SecureChannel({ send: m.send, recv: m.recv, clock: d.clock });
  return { client, device };
}

/**
 * Pair-setup for a second controller with a code shown on the admin's laptop, done the way the
 * accessory's window does it (its own nonce, PBKDF2 → w0/L, SPAKE2+): checks the shared code works.
 */
function pairWithSharedCode(d: TestDevice, typed: string, newcomer: TestController): boolean {
  const shared = d.host.shared;
  if (!shared) throw new Error("no shared window");
  const nonce = d.random(16);
  const dev = deriveW0W1(codePassword(shared.code), nonce, 1000);
  const verifier = new Spake2PlusVerifier({
    context: nonce,
    idProver: newcomer.controllerId,
    idVerifier: d.deviceId,
    random: d.random,
    w0: dev.w0,
    L: registrationRecord(dev.w1),
  });
  const mine = deriveW0W1(codePassword(normaliseCode(typed, shared.format)), nonce, 1000);
  const prover = new Spake2PlusProver({
    context: nonce,
    idProver: newcomer.controllerId,
    idVerifier: d.deviceId,
    random: newcomer.random,
    ...mine,
  });
  const { shareV, confirmV } = verifier.respond(prover.start());
  const fin = prover.finish(shareV, confirmV);
  if (!fin || !verifier.finish(fin.confirmP)) return false;
  addBond(d, newcomer, shared.role, "provisional");
  d.host.shared = undefined;
  return true;
}

describe("session commands", () => {
  it("status round trip for admin and user", async () => {
    const { d, admin, user } = household("s1");
    const a = connect(d, admin);
    expect(await a.client.status()).toEqual({
      role: "admin",
      controllerId: admin.controllerId,
      bondSlots: { used: 2, total: 8 },
      window: { state: "closed" },
    });
    const u = connect(d, user);
    expect((await u.client.status()).role).toBe("user");
  });

  it("lists pairings for an admin, marking its own", async () => {
    const { d, admin, user } = household("s2");
    const list = await connect(d, admin).client.listPairings();
    expect(list).toEqual([
      { controllerId: admin.controllerId, name: admin.name, role: "admin", state: "permanent", self: true },
      { controllerId: user.controllerId, name: user.name, role: "user", state: "permanent", self: false },
    ]);
  });

  it("lists a large bond table page by page (long names, 64 slots)", async () => {
    const d = testDevice("s2b", { slots: 64 });
    const admin = testController("s2b:admin");
    addBond(d, admin, "admin");
    for (let i = 1; i < 64; i++) {
      const c = { ...testController(`s2b:${i}`), name: `${"ß".repeat(30)}${String(i).padStart(2, "0")}` };
      addBond(d, c, "user", i % 2 ? "provisional" : "permanent");
    }
    const link = connect(d, admin, { manual: true });
    const p = link.client.listPairings();
    let requests = 0;
    while (link.queue.length > 0) {
      requests++;
      link.flush();
      await Promise.resolve();
      await Promise.resolve();
    }
    const list = await p;
    expect(list).toHaveLength(64);
    expect(requests).toBe(4); // 16 entries a page
    expect(list.map((e) => e.name)).toEqual(d.host.entries.map((e) => e.name));
    expect(list.filter((e) => e.self)).toHaveLength(1);
  });

  it("refuses what a user may not do with NOT_PERMITTED, and the session goes on", async () => {
    const { d, admin, user } = household("s3");
    const u = connect(d, user);
    const cases: Array<[Promise<unknown>, string]> = [
      [u.client.listPairings(), "list pairings"],
      [u.client.removePairing(admin.controllerId), "remove another pairing"],
      [u.client.share({ ttlMs: 60_000 }), "share"],
      [u.client.factoryReset(), "factory reset"],
    ];
    for (const [p, command] of cases) {
      const err = await rejection(p);
      expect(err.code).toBe("NOT_PERMITTED");
      expect(err.details).toEqual({ command, role: "user" });
      expect(err.message).toBe(`a user pairing may not ${command}`);
    }
    expect(u.session.state).toBe("open");
    expect((await u.client.status()).role).toBe("user");
    expect(d.host.entries).toHaveLength(2);
    expect(d.host.resets).toBe(0);
    expect(d.host.shared).toBeUndefined();
  });

  it("lets a user remove its own pairing: the session ends and verify then fails", async () => {
    const { d, user } = household("s4");
    const u = connect(d, user);
    expect(await u.client.removePairing(user.controllerId)).toEqual({ removedSelf: true });
    expect(u.session.state).toBe("closed");
    expect(u.client.state.kind).toBe("closed");
    expect(u.events).toContainEqual({
      kind: "pairingRemoved",
      controllerId: user.controllerId,
      by: user.controllerId,
    });
    expect(u.events).toContainEqual({ kind: "sessionEnded", reason: "this pairing was removed" });
    expect((await rejection(u.client.status())).code).toBe("UNKNOWN_PEER");
    expect(thrown(() => connect(d, user)).code).toBe("UNKNOWN_PEER");
  });

  it("lets an admin remove another pairing (that controller is then unknown)", async () => {
    const { d, admin, user } = household("s5");
    const a = connect(d, admin);
    expect(await a.client.removePairing(user.controllerId)).toEqual({ removedSelf: false });
    expect(a.session.state).toBe("open");
    expect(thrown(() => connect(d, user)).code).toBe("UNKNOWN_PEER");
    const missing = await rejection(a.client.removePairing(user.controllerId));
    expect(missing.code).toBe("INVALID_ARGUMENT");
    expect((await a.client.listPairings()).map((p) => p.name)).toEqual([admin.name]);
  });

  it("share: the admin shows the code, a second controller pairs with it and gets the granted role", async () => {
    const { d, admin } = household("s6");
    const a = connect(d, admin);
    const shared = await a.client.share({ ttlMs: 5 * 60_000 });
    expect(shared.role).toBe("user");
    expect(shared.format).toBe("passkey");
    expect(shared.code).toMatch(/^\d{6}$/);
    expect(shared.display).toBe(`${shared.code.slice(0, 3)} ${shared.code.slice(3)}`);
    expect(shared.timeLeftMs).toBe(5 * 60_000);
    expect(d.host.shared).toMatchObject({
      code: shared.code,
      role: "user",
      ttlMs: 300_000,
      format: "passkey",
    });
    expect(a.events).toContainEqual({
      kind: "windowShared",
      role: "user",
      ttlMs: 300_000,
      by: admin.controllerId,
    });
    // The window shows in status while open.
    d.clock.advance(60_000);
    expect((await a.client.status()).window).toEqual({ state: "open", timeLeftMs: 240_000 });

    const newcomer = testController("s6:new");
    expect(pairWithSharedCode(d, shared.display, newcomer)).toBe(true);
    const n = connect(d, newcomer);
    expect(n.role).toBe("user");
    expect(n.verifyEvents).toEqual([{ kind: "bondConfirmed", controllerId: newcomer.controllerId }]);
    expect((await n.client.status()).role).toBe("user");
    expect((await rejection(n.client.listPairings())).code).toBe("NOT_PERMITTED");
  });

  it("share can grant admin and use a long code; a wrong code does not pair", async () => {
    const { d, admin } = household("s7");
    const a = connect(d, admin);
    const shared = await a.client.share({ ttlMs: 60_000, role: "admin", format: "long" });
    expect(shared.display).toMatch(/^OCL-/);
    expect(pairWithSharedCode(d, "OCL-0000-0000-0", testController("s7:bad"))).toBe(false);
    const second = testController("s7:admin2");
    expect(pairWithSharedCode(d, shared.display.toLowerCase(), second)).toBe(true);
    const s = connect(d, second);
    expect(s.role).toBe("admin");
    expect(await s.client.listPairings()).toHaveLength(3);
  });

  it("share refuses a window length outside 30 s – 15 min", async () => {
    const { d, admin } = household("s8");
    const a = connect(d, admin);
    for (const ttlMs of [29_999, 15 * 60_000 + 1]) {
      const err = await rejection(a.client.share({ ttlMs }));
      expect(err.code).toBe("INVALID_ARGUMENT");
    }
    expect(d.host.shared).toBeUndefined();
    expect(a.session.state).toBe("open");
  });

  it("share passes the device's refusal through (e.g. LOCKED_OUT)", async () => {
    const { d, admin } = household("s8b");
    d.host.openSharedWindow = () => {
      throw new OpenClawError("LOCKED_OUT", { retryAfterMs: 90_000 });
    };
    const err = await rejection(connect(d, admin).client.share({ ttlMs: 60_000 }));
    expect(err.code).toBe("LOCKED_OUT");
    expect(err.details).toEqual({ retryAfterMs: 90_000 });
  });

  it("rotate: verify works with the new key, the old key is unknown", async () => {
    const { d, user } = household("s9");
    const u = connect(d, user);
    const { keyPair } = await u.client.rotate();
    expect(u.events).toContainEqual({ kind: "keysRotated", controllerId: user.controllerId });
    expect(d.host.find(user.controllerId)?.controllerStaticPublicKey).toEqual(keyPair.publicKey);
    // The current session carries on under its own keys.
    expect((await u.client.status()).role).toBe("user");
    expect(thrown(() => connect(d, user)).code).toBe("UNKNOWN_PEER");
    const rotated: TestController = { ...user, keys: keyPair };
    const again = connect(d, rotated);
    expect((await again.client.status()).controllerId).toEqual(user.controllerId);
  });

  it("rotate passes the device's refusal through and changes nothing", async () => {
    const { d, admin, user } = household("s10");
    const u = connect(d, user);
    d.host.replaceControllerKey = () => {
      throw new OpenClawError("INVALID_ARGUMENT", { detail: "that key belongs to another pairing" });
    };
    expect((await rejection(u.client.rotate())).code).toBe("INVALID_ARGUMENT");
    expect(d.host.find(user.controllerId)?.controllerStaticPublicKey).toEqual(user.keys.publicKey);
    expect(d.host.find(admin.controllerId)?.controllerStaticPublicKey).toEqual(admin.keys.publicKey);
    expect(u.session.state).toBe("open");
  });

  it("the in-memory host refuses a key another bond holds", () => {
    const { d, admin, user } = household("s10b");
    expect(thrown(() => d.host.replaceControllerKey(user.controllerId, admin.keys.publicKey)).code).toBe(
      "INVALID_ARGUMENT",
    );
  });

  it("factory reset wipes bonds and identity and ends the session", async () => {
    const { d, admin, user } = household("s11");
    const oldIdentity = d.identity.publicKey;
    const a = connect(d, admin);
    await a.client.factoryReset();
    expect(a.events).toContainEqual({ kind: "factoryReset", by: admin.controllerId });
    expect(a.events).toContainEqual({ kind: "sessionEnded", reason: "factory reset" });
    expect(a.session.state).toBe("closed");
    expect(a.client.state.kind).toBe("closed");
    expect(d.host.entries).toEqual([]);
    expect(d.host.resets).toBe(1);
    expect(d.identity.publicKey).not.toEqual(oldIdentity);
    expect(thrown(() => connect(d, admin)).code).toBe("UNKNOWN_PEER");
    expect(thrown(() => connect(d, user)).code).toBe("UNKNOWN_PEER");
  });
});

describe("application messages", () => {
  const claw: AppHandler & { notes: string[] } = {
    notes: [],
    onAppRequest(peer, m) {
      if (m.channel === 1) return Uint8Array.of(87); // battery %
      if (m.channel === 2)
        return new TextEncoder().encode(`claw ${new TextDecoder().decode(m.payload)} by ${peer.role}`);
      throw new OpenClawError("INVALID_ARGUMENT", { detail: "no such channel" });
    },
    onAppNotify(peer, m) {
      this.notes.push(`${peer.name}:${m.channel}:${m.payload.length}`);
    },
  };

  it("request/response and notifications both ways", async () => {
    const { d, user } = household("a1", claw);
    const u = connect(d, user);
    expect(await u.client.appRequest(1, new Uint8Array(0))).toEqual(Uint8Array.of(87));
    expect(new TextDecoder().decode(await u.client.appRequest(2, new TextEncoder().encode("open")))).toBe(
      "claw open by user",
    );
    const err = await rejection(u.client.appRequest(9, Uint8Array.of(1)));
    expect(err.code).toBe("INVALID_ARGUMENT");
    u.client.appNotify(3, Uint8Array.of(1, 2));
    expect(claw.notes).toEqual([`${user.name}:3:2`]);
    const seen: Array<[number, number[]]> = [];
    u.client.onNotification((m) => seen.push([m.channel, [...m.payload]]));
    u.client.receive(u.session.notify({ channel: 2, payload: Uint8Array.of(0) }));
    expect(seen).toEqual([[2, [0]]]);
  });

  it("a device without applications says so", async () => {
    const { d, user } = household("a2");
    expect((await rejection(connect(d, user).client.appRequest(1, new Uint8Array(0)))).code).toBe(
      "INVALID_ARGUMENT",
    );
  });

  it("an app handler that crashes yields an error response, not a dead session", async () => {
    const { d, user } = household("a3", {
      onAppRequest() {
        throw new Error("boom");
      },
    });
    const u = connect(d, user);
    expect((await rejection(u.client.appRequest(1, new Uint8Array(0)))).code).toBe("INVALID_ARGUMENT");
    expect(u.session.state).toBe("open");
  });
});

describe("session record layer", () => {
  function manual(seed: string) {
    const { d, admin } = household(seed);
    return { d, admin, link: connect(d, admin, { manual: true }) };
  }

  async function expectEnded(link: ReturnType<typeof connect>, pending: Promise<unknown>) {
    const err = await rejection(pending);
    expect(err.code).toBe("PROTOCOL_ERROR");
    expect(link.session.state).toBe("closed");
    expect(link.client.state.kind).toBe("closed");
    // Nothing more is accepted on this session.
    expect(thrown(() => link.session.handle(link.queue[0] ?? new Uint8Array(0))).code).toBe("PROTOCOL_ERROR");
  }

  it("a replayed message ends the session with PROTOCOL_ERROR", async () => {
    const { link } = manual("r1");
    const p1 = link.client.status();
    const m1 = link.queue[0]!;
    link.flush();
    await p1;
    const p2 = link.client.status();
    link.queue.length = 0;
    link.deliver(m1);
    await expectEnded(link, p2);
  });

  it("reordered messages end the session", async () => {
    const { link } = manual("r2");
    const p1 = link.client.status();
    const p2 = link.client.status();
    const [m1, m2] = link.queue.splice(0, 2);
    link.deliver(m2!);
    await expectEnded(link, Promise.all([p1, p2]));
    void m1;
  });

  it("a truncated message ends the session", async () => {
    const { link } = manual("r3");
    const p = link.client.status();
    const m = link.queue.shift()!;
    link.deliver(m.subarray(0, m.length - 1));
    await expectEnded(link, p);
  });

  it("a tampered ciphertext, flags byte or header ends the session", async () => {
    for (const [i, where] of [
      [-1, "tag"],
      [5, "flags"],
      [0, "version"],
    ] as const) {
      const { link } = manual(`r4-${where}`);
      const p = link.client.status();
      const m = link.queue.shift()!.slice();
      const at = i < 0 ? m.length + i : i;
      m[at]! ^= where === "flags" ? SESSION_FLAG_REKEY : 0x01;
      link.deliver(m);
      const err = await rejection(p);
      expect(["PROTOCOL_ERROR", "VERSION_MISMATCH"]).toContain(err.code);
      expect(link.session.state).toBe("closed");
    }
  });

  it("an oversized message ends the session before any decryption", async () => {
    const { link } = manual("r5");
    const p = link.client.status();
    link.queue.length = 0;
    const big = new Uint8Array(MAX_MESSAGE + 1);
    big.set([1, 0x20]);
    link.deliver(big);
    await expectEnded(link, p);
  });

  it("unknown flag bits end the session", async () => {
    const { link } = manual("r6");
    const p = link.client.status();
    const m = decodeMessage(link.queue.shift()!);
    if (m.type !== "Session") throw new Error("not a session message");
    link.deliver(encodeMessage({ ...m, flags: 0x80 }));
    await expectEnded(link, p);
  });

  it("a response to no pending request ends the session on the controller", async () => {
    const { d, admin } = household("r7");
    const { client, device } = handMadeSession(d, admin);
    const pending = client.status();
    const stray = device.seal(encodePayload({ kind: "ok", id: 999, body: new Uint8Array(0) }));
    expect(thrown(() => client.receive(stray)).code).toBe("PROTOCOL_ERROR");
    expect((await rejection(pending)).code).toBe("PROTOCOL_ERROR");
    expect(client.state.kind).toBe("closed");
  });

  it("a replayed device response ends the session on the controller", async () => {
    const { d, admin } = household("r7d");
    const { client, device } = handMadeSession(d, admin);
    const p1 = client.status();
    const p2 = client.status();
    const r1 = device.seal(
      encodePayload({ kind: "error", id: 1, body: encodeErrorBody(new OpenClawError("BUSY", {})) }),
    );
    client.receive(r1);
    expect((await rejection(p1)).code).toBe("BUSY");
    expect(thrown(() => client.receive(r1)).code).toBe("PROTOCOL_ERROR");
    expect((await rejection(p2)).code).toBe("PROTOCOL_ERROR");
  });

  it("a request from the device ends the session on the controller", () => {
    const { d, admin } = household("r7b");
    const { client, device } = handMadeSession(d, admin);
    const req = device.seal(encodePayload({ kind: "request", id: 1, command: 1, body: new Uint8Array(0) }));
    expect(thrown(() => client.receive(req)).code).toBe("PROTOCOL_ERROR");
  });

  it("a cleartext Error from the device fails pending calls with that error", async () => {
    const { link } = manual("r7c");
    const p = link.client.status();
    expect(thrown(() => link.client.receive(encodeMessage({ type: "Error", code: "BUSY" }))).code).toBe(
      "BUSY",
    );
    expect((await rejection(p)).code).toBe("BUSY");
    expect(link.client.state.kind).toBe("closed");
  });

  it("close() fails pending calls with the given error (e.g. a transport timeout)", async () => {
    const { link } = manual("r8");
    const p = link.client.listPairings();
    link.client.close(new OpenClawError("TIMEOUT", { what: "the device's answer", afterMs: 5000 }));
    expect((await rejection(p)).code).toBe("TIMEOUT");
    expect((await rejection(link.client.status())).code).toBe("TIMEOUT");
  });

  it("rekeys by message count and both sides stay in sync", async () => {
    const { d, admin } = household("k1");
    const rekey = { afterMessages: 3, afterMs: 10 * 60_000 };
    const link = connect(d, admin, { manual: true, rekey });
    const flags: number[] = [];
    for (let i = 0; i < 10; i++) {
      const p = link.client.status();
      const m = decodeMessage(link.queue[0]!);
      if (m.type === "Session") flags.push(m.flags);
      link.flush();
      expect((await p).role).toBe("admin");
    }
    expect(flags).toEqual([0, 0, 0, 1, 0, 0, 1, 0, 0, 1]);
  });

  it("rekeys after the time bound on the sender's monotonic clock", async () => {
    const { d, admin } = household("k2");
    const link = connect(d, admin, { manual: true });
    const flagsOfNext = async () => {
      const p = link.client.status();
      const m = decodeMessage(link.queue[0]!);
      link.flush();
      await p;
      return m.type === "Session" ? m.flags : -1;
    };
    expect(await flagsOfNext()).toBe(0);
    admin.clock.advance(9 * 60_000);
    expect(await flagsOfNext()).toBe(0);
    admin.clock.advance(60_000);
    expect(await flagsOfNext()).toBe(SESSION_FLAG_REKEY);
    expect(await flagsOfNext()).toBe(0);
    // The device's answers rekey on its own clock.
    d.clock.advance(10 * 60_000);
    for (let i = 0; i < 3; i++) expect(await flagsOfNext()).toBe(0);
    expect(link.session.state).toBe("open");
  });

  it("refuses a peer that does not rekey after the message bound", async () => {
    const { d, admin } = household("k3");
    // The controller is configured to never rekey; the device enforces the bound of 3.
    const link = connect(d, admin, {
      rekey: { afterMessages: 1_000_000, afterMs: 1e12 },
      deviceRekey: { afterMessages: 3, afterMs: 1e12 },
    });
    for (let i = 0; i < 3; i++) await link.client.status();
    const err = await rejection(link.client.status());
    expect(err.code).toBe("PROTOCOL_ERROR");
    expect(link.session.state).toBe("closed");
  });

  it("many requests in flight resolve by id", async () => {
    const { link } = manual("m1");
    const ps = [link.client.status(), link.client.listPairings(), link.client.status()];
    expect(link.client.pendingCount).toBe(3);
    link.flush();
    const [a, b, c] = await Promise.all(ps);
    expect(a).toEqual(c);
    expect(b).toHaveLength(2);
    expect(link.client.pendingCount).toBe(0);
  });

  it("deterministic: same seeds, same bytes", () => {
    const bytes = () => {
      const { link } = manual("det");
      void link.client.status();
      // status request: 13-byte plaintext → 29-byte ciphertext → 38-byte Session message (PROTOCOL.md §9.3).
      expect(link.queue[0]!.length).toBe(38);
      expect([...link.queue[0]!.subarray(0, 9)]).toEqual([
        0x01, 0x20, 0x01, 0x00, 0x01, 0x00, 0x02, 0x00, 29,
      ]);
      return Buffer.from(link.queue[0]!).toString("hex");
    };
    expect(bytes()).toBe(bytes());
    expect(seededRandom("x")(4)).toEqual(seededRandom("x")(4));
  });
});
