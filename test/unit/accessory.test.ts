import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  Accessory,
  type AccessoryCore,
  type AccessorySessionFactory,
  generateAccessoryIdentity,
  LINK_IDLE_MS,
} from "../../src/protocol/accessory/index.js";
import { Controller } from "../../src/protocol/controller/index.js";
import { decodeInfo, decodeMessage, encodeMessage } from "../../src/protocol/messages/index.js";
import { DEFAULT_STEP_TIMEOUT_MS } from "../../src/protocol/pairsetup/accessory.js";
import { seededRandom } from "../../src/protocol/random.js";
import { verifyExchange } from "../../src/protocol/verify/exchange.js";
import { createSessionFactory } from "../../src/protocol/verify/handler.js";

function make(session?: AccessorySessionFactory) {
  const random = seededRandom("accessory-test");
  return new Accessory({
    identity: generateAccessoryIdentity(random),
    profile: { name: "OpenClaw-ACCE", model: "Claw 1", firmware: "1.0.0" },
    random,
    ...(session ? { session } : {}),
  });
}

const verifyStart = encodeMessage({ type: "VerifyStart", noise: new Uint8Array(48) });
const sessionMsg = encodeMessage({ type: "Session", flags: 0, ciphertext: new Uint8Array(16) });

describe("accessory object", () => {
  it("publishes its info characteristic", () => {
    const acc = make();
    const info = decodeInfo(acc.infoBytes(0));
    expect(info).toMatchObject({
      protocolVersion: 1,
      name: "OpenClaw-ACCE",
      window: { state: "closed" },
      bondSlots: { used: 0, total: 8 },
    });
    expect(info.deviceId).toEqual(acc.identity.deviceId);
    expect(acc.info(0).window.state).toBe("closed");
  });

  it("without a session plug, verify is PROTOCOL_ERROR", () => {
    const acc = make();
    const out = acc.connect().handle(verifyStart, 0);
    expect(decodeMessage(out.replies[0]!)).toMatchObject({ type: "Error", code: "PROTOCOL_ERROR" });
  });

  it("routes VerifyStart and Session messages of a link to that link's handler, and closes it", () => {
    const seen: string[] = [];
    let made = 0;
    let core: AccessoryCore | undefined;
    const factory: AccessorySessionFactory = (c) => {
      core = c;
      const n = ++made;
      return {
        handle: (msg, now) => {
          seen.push(`${n}:${msg.type}@${now}`);
          c.emit({ type: "app", op: "ping" });
          return {
            replies: [Uint8Array.of(1, 0x20)],
            events: [],
            ...(msg.type === "Session" ? { disconnect: true } : {}),
          };
        },
        close: (now) => {
          seen.push(`${n}:close@${now}`);
          return [];
        },
      };
    };
    const acc = make(factory);
    const a = acc.connect();
    const b = acc.connect();
    const r1 = a.handle(verifyStart, 1);
    expect(r1.events).toEqual([{ type: "app", op: "ping" }]);
    expect(r1.disconnect).toBeUndefined();
    expect(a.handle(sessionMsg, 2).disconnect).toBe(true);
    b.handle(verifyStart, 3);
    a.handle(Uint8Array.of(9), 4); // malformed: the link's session is reset
    a.close(5);
    b.close(6);
    expect(seen).toEqual(["1:VerifyStart@1", "1:Session@2", "2:VerifyStart@3", "1:close@4", "2:close@6"]);
    expect(core?.identity.deviceId).toEqual(acc.identity.deviceId);
    expect(() => a.handle(verifyStart, 7)).toThrow();
  });

  it("core operations report events and keep the bond table consistent", () => {
    const acc = make();
    const id = new Uint8Array(16).fill(1);
    acc.bondTable.addProvisional(
      { controllerId: id, controllerStaticPublicKey: new Uint8Array(32), role: "admin", name: "a" },
      0,
    );
    expect(acc.confirmBond(id, 1).map((e) => e.type)).toEqual(["bond-confirmed", "bonds-changed"]);
    expect(acc.rotateBondKey(id, new Uint8Array(32).fill(2), 2)).toEqual([{ type: "bonds-changed" }]);
    expect(acc.bonds(3)[0]?.controllerStaticPublicKey).toEqual(new Uint8Array(32).fill(2));
    expect(acc.removeBond(id, "admin", 4)).toEqual([
      { type: "removed", controllerId: "01".repeat(16), by: "admin" },
      { type: "bonds-changed" },
    ]);
    expect(acc.removeBond(id, "admin", 5)).toEqual([]);
    expect(acc.closeWindow("cancelled", 6)).toEqual([]);
    acc.openWindow({}, 7);
    expect(acc.closeWindow("cancelled", 8)).toEqual([{ type: "window-closed", reason: "cancelled" }]);
  });

  it("a link closed mid-exchange counts the attempt and frees the device for the next controller", () => {
    const acc = make();
    const w = acc.openWindow({}, 0);
    const info = decodeInfo(acc.infoBytes(0));
    if (info.window.state !== "open") throw new Error("closed");
    const start = encodeMessage({
      type: "PairSetupStart",
      controllerId: new Uint8Array(16).fill(3),
      windowNonce: info.window.nonce,
      shareP: (() => {
        // any valid point works for the device's side: use its own registration record's shape
        const s = acc.window.state as { L: Uint8Array };
        return s.L;
      })(),
    });
    const a = acc.connect();
    const out = a.handle(start, 1);
    expect(decodeMessage(out.replies[0]!).type).toBe("PairSetupChallenge");
    expect(acc.pairSetupState).toBe("awaiting-finish");
    a.close(2);
    expect(acc.pairSetupState).toBe("idle");
    expect(decodeInfo(acc.infoBytes(2)).window).toMatchObject({ state: "open", attemptsLeft: 4 });
    expect(w.code).toMatch(/^\d{6}$/);
    // an invalid point costs nothing
    const bad = encodeMessage({
      type: "PairSetupStart",
      controllerId: new Uint8Array(16).fill(3),
      windowNonce: info.window.nonce,
      shareP: new Uint8Array(65).fill(4),
    });
    const r = acc.connect().handle(bad, 3);
    expect(decodeMessage(r.replies[0]!)).toMatchObject({ type: "Error", code: "PROTOCOL_ERROR" });
    expect(decodeInfo(acc.infoBytes(3)).window).toMatchObject({ attemptsLeft: 4 });
  });
});

describe("accessory under arbitrary input (property)", () => {
  type Action =
    | { kind: "bytes"; b: Uint8Array }
    | { kind: "mutate"; which: number; pos: number; val: number }
    | { kind: "wrong-code" }
    | { kind: "advance"; ms: number }
    | { kind: "close" }
    | { kind: "button" };
  const action: fc.Arbitrary<Action> = fc.oneof(
    fc.record({ kind: fc.constant("bytes" as const), b: fc.uint8Array({ maxLength: 200 }) }),
    fc.record({
      kind: fc.constant("mutate" as const),
      which: fc.nat(3),
      pos: fc.nat(),
      val: fc.integer({ min: 0, max: 255 }),
    }),
    fc.constant({ kind: "wrong-code" as const }),
    fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 200_000 }) }),
    fc.constant({ kind: "close" as const }),
    fc.constant({ kind: "button" as const }),
  );

  it("never throws, answers only with valid messages, and never bonds without the code", () => {
    fc.assert(
      fc.property(fc.array(action, { maxLength: 12 }), fc.string({ maxLength: 8 }), (actions, seed) => {
        const random = seededRandom(`fuzz ${seed}`);
        const acc = new Accessory({
          identity: generateAccessoryIdentity(random),
          profile: { name: "OpenClaw-FUZZ", model: "m", firmware: "f" },
          random,
        });
        let now = 0;
        acc.openWindow({}, now);
        const templates: Uint8Array[] = [];
        let link = acc.connect();
        const feed = (bytes: Uint8Array) => {
          const out = link.handle(bytes, now);
          for (const r of out.replies) {
            const m = decodeMessage(r);
            expect(["Error", "PairSetupChallenge"]).toContain(m.type);
          }
          return out;
        };
        for (const a of actions) {
          switch (a.kind) {
            case "bytes":
              feed(a.b);
              break;
            case "mutate": {
              const t = templates[a.which % Math.max(1, templates.length)];
              if (!t) break;
              const m = t.slice();
              m[a.pos % m.length] = a.val;
              feed(m);
              break;
            }
            case "wrong-code": {
              const info = decodeInfo(acc.infoBytes(now));
              if (info.window.state !== "open") break;
              const code = (acc.window.state as { code: string }).code;
              const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, "0");
              const ps = new Controller({ controllerId: random(16), name: "x", random }).pairSetup(
                info,
                wrong,
              );
              templates.push(ps.firstMessage);
              let replies = feed(ps.firstMessage).replies;
              for (let i = 0; i < 3 && replies.length; i++) {
                const step = ps.handle(replies[0]!);
                templates.push(...step.replies);
                replies = step.replies.flatMap((r) => feed(r).replies);
              }
              break;
            }
            case "advance":
              now += a.ms;
              acc.tick(now);
              break;
            case "close":
              link.close(now);
              link = acc.connect();
              break;
            case "button":
              try {
                acc.openWindow({}, now);
              } catch (err) {
                expect((err as { code?: string }).code).toBe("LOCKED_OUT");
              }
              break;
          }
          const w = acc.info(now).window;
          if (w.state === "open") expect(w.attemptsLeft).toBeGreaterThanOrEqual(0);
        }
        expect(acc.bonds(now)).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });
});

it("timer events found while the bond list is read are not lost", () => {
  const acc = make();
  acc.openWindow({ ttlMs: 30_000 }, 0);
  expect(acc.bonds(40_000)).toEqual([]); // the expiry is noticed here first...
  expect(acc.tick(40_000).events).toEqual([{ type: "window-closed", reason: "expired" }]); // ...and reported
});

describe("accessory: Error messages from the controller", () => {
  it("never answers an Error with an Error, however malformed the Error (PROTOCOL §3.4, §12)", () => {
    const acc = make();
    const link = acc.connect();
    const malformed = [
      "017f", // no code
      "017f010001ee", // a code that is not in the catalogue
      "017f0100", // truncated TLV length
      "017f0100020102", // code of the wrong length
      "017f02000104010001 02".replace(/ /g, ""), // tags out of order
      "017f01000102ff000100", // an unknown tag
      "027f01000102", // another protocol version
      "017f01000102", // a well-formed Error (WRONG_CODE) with no exchange to end
    ];
    for (const hex of malformed) {
      const out = link.handle(new Uint8Array(Buffer.from(hex, "hex")), 0);
      expect(out.replies, hex).toEqual([]);
    }
  });
});

describe("accessory: unauthenticated links are bounded (PROTOCOL §7)", () => {
  const withSessions = () => {
    const random = seededRandom("link-bounds");
    return new Accessory({
      identity: generateAccessoryIdentity(random),
      profile: { name: "OpenClaw-LINK", model: "Claw 1", firmware: "1.0.0" },
      random,
      session: createSessionFactory({ random }),
    });
  };
  const controller = (n: number) =>
    new Controller({
      controllerId: new Uint8Array(16).fill(n),
      name: `c${n}`,
      random: seededRandom(`c${n}`),
    });

  it("a link that sends nothing is dropped LINK_IDLE_MS after it connected", () => {
    const acc = withSessions();
    const link = acc.connect(1000);
    expect(link.nextDeadline()).toBe(1000 + LINK_IDLE_MS);
    expect(link.tick(1000 + LINK_IDLE_MS - 1).disconnect).toBeUndefined();
    expect(link.tick(1000 + LINK_IDLE_MS).disconnect).toBe(true);
    // One hang-up, not one per timer: the dropped link has no deadline left, and says why it went.
    expect(link.hungUp).toBe("idle");
    expect(link.nextDeadline()).toBeUndefined();
    expect(link.tick(2000 + LINK_IDLE_MS).disconnect).toBeUndefined();
    // Info reads are no protocol messages; a malformed Error costs nothing but is no progress either.
    const other = acc.connect(20_000);
    expect(other.handle(Uint8Array.of(1, 0x7f), 25_000)).toMatchObject({ replies: [] });
    expect(other.handle(Uint8Array.of(1, 0x7f), 25_000).disconnect).toBeUndefined();
    expect(other.nextDeadline()).toBe(20_000 + LINK_IDLE_MS);
  });

  it("a pair-setup that stalls is dropped at its step timeout; a wrong code drops the link at once", () => {
    const acc = withSessions();
    const w = acc.openWindow({}, 0);
    const stalled = acc.connect(0);
    const ps = controller(1).pairSetup(decodeInfo(acc.infoBytes(0)), w.code);
    const challenge = stalled.handle(ps.firstMessage, 5000);
    expect(decodeMessage(challenge.replies[0]!).type).toBe("PairSetupChallenge");
    expect(challenge.disconnect).toBeUndefined();
    // Bounded by the step timeout now, not the idle bound.
    expect(stalled.nextDeadline()).toBe(5000 + DEFAULT_STEP_TIMEOUT_MS);
    expect(stalled.tick(5000 + LINK_IDLE_MS).disconnect).toBeUndefined();
    acc.tick(5000 + DEFAULT_STEP_TIMEOUT_MS);
    expect(stalled.tick(5000 + DEFAULT_STEP_TIMEOUT_MS).disconnect).toBe(true);
    expect(stalled.hungUp).toBe("stalled");
    expect(stalled.nextDeadline()).toBeUndefined();

    const t = 40_000;
    const fresh = acc.openWindow({}, t);
    const link = acc.connect(t);
    const wrongPs = controller(2).pairSetup(
      decodeInfo(acc.infoBytes(t)),
      fresh.code === "123456" ? "654321" : "123456",
    );
    const step = wrongPs.handle(link.handle(wrongPs.firstMessage, t).replies[0]!);
    const verdict = link.handle(step.replies[0]!, t); // PairSetupAbort → Error WRONG_CODE
    expect(decodeMessage(verdict.replies[0]!)).toMatchObject({ type: "Error", code: "WRONG_CODE" });
    expect(verdict.disconnect).toBe(true);
  });

  it("a refused start (BUSY) drops that link; a bond made restarts the idle bound until verify", () => {
    const acc = withSessions();
    const w = acc.openWindow({}, 0);
    const owner = acc.connect(0);
    const ps = controller(3).pairSetup(decodeInfo(acc.infoBytes(0)), w.code);
    const challenge = owner.handle(ps.firstMessage, 100);
    const busy = acc
      .connect(200)
      .handle(controller(4).pairSetup(decodeInfo(acc.infoBytes(200)), w.code).firstMessage, 200);
    expect(decodeMessage(busy.replies[0]!)).toMatchObject({ type: "Error", code: "BUSY" });
    expect(busy.disconnect).toBe(true);

    const finish = ps.handle(challenge.replies[0]!);
    const done = owner.handle(finish.replies[0]!, 3000);
    expect(decodeMessage(done.replies[0]!).type).toBe("PairSetupDone");
    expect(done.disconnect).toBeUndefined();
    expect(owner.nextDeadline()).toBe(3000 + LINK_IDLE_MS);
    const bond = ps.handle(done.replies[0]!).outcome;
    if (bond?.kind !== "ok") throw new Error("no bond");
    const v = verifyExchange(bond.value, {
      random: seededRandom("v"),
      clock: { now: () => 4000 },
      send: () => {},
    });
    const accepted = owner.handle(v.firstMessage, 4000);
    expect(accepted.events.map((e) => e.type)).toContain("verified");
    expect(owner.authenticated).toBe(true);
    expect(owner.nextDeadline()).toBeUndefined();
    expect(owner.tick(4000 + 10 * LINK_IDLE_MS).disconnect).toBeUndefined();
  });
});
