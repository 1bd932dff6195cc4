import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isOpenClawError, OpenClawError } from "../../src/protocol/errors.js";
import {
  AppMessageCodec,
  ListPairingsResultCodec,
  MAX_LISTED_PAIRINGS,
  type PairingSummary,
  ShareArgsCodec,
  StatusResultCodec,
} from "../../src/protocol/session/commands.js";
import { decodeErrorBody, encodeErrorBody } from "../../src/protocol/session/error-body.js";
import { MAX_APP_PAYLOAD, MAX_SESSION_PLAINTEXT } from "../../src/protocol/session/limits.js";
import { decodePayload, encodePayload, type SessionPayload } from "../../src/protocol/session/payload.js";
import { addBond, connect, testController, testDevice } from "../../src/protocol/session/testing.js";

const bytes = (max: number) => fc.uint8Array({ minLength: 0, maxLength: max });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u8 = fc.integer({ min: 0, max: 0xff });

const payloadArb: fc.Arbitrary<SessionPayload> = fc.oneof(
  fc.record({ kind: fc.constant("request" as const), id: u16, command: u8, body: bytes(1500) }),
  fc.record({ kind: fc.constant("ok" as const), id: u16, body: bytes(1500) }),
  fc.record({ kind: fc.constant("error" as const), id: u16, body: bytes(1500) }),
  fc.record({ kind: fc.constant("notification" as const), event: u8, body: bytes(1500) }),
);

/** Decodes or throws PROTOCOL_ERROR; anything else (a crash) fails the property. */
function decodeOrProtocolError(b: Uint8Array): SessionPayload | undefined {
  try {
    return decodePayload(b);
  } catch (err) {
    if (isOpenClawError(err) && err.code === "PROTOCOL_ERROR") return undefined;
    throw err;
  }
}

describe("session payload codec (property)", () => {
  it("round-trips every payload", () => {
    fc.assert(
      fc.property(payloadArb, (p) => {
        const enc = encodePayload(p);
        expect(enc.length).toBeLessThanOrEqual(MAX_SESSION_PLAINTEXT);
        expect(decodePayload(enc)).toEqual(p);
      }),
      { numRuns: 500 },
    );
  });

  it("is total and canonical on arbitrary bytes", () => {
    fc.assert(
      fc.property(bytes(64), (b) => {
        const p = decodeOrProtocolError(b);
        if (p !== undefined) expect(encodePayload(p)).toEqual(b);
      }),
      { numRuns: 2000 },
    );
  });

  it("is total on mutations of valid payloads (flip, cut, extend)", () => {
    fc.assert(
      fc.property(
        payloadArb,
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.nat({ max: 3 }),
        (p, at, x, how) => {
          const enc = encodePayload({ ...p, body: p.body.slice(0, 40) });
          const i = enc.length === 0 ? 0 : at % enc.length;
          let m: Uint8Array;
          if (how === 0) {
            m = enc.slice();
            m[i]! ^= x;
          } else if (how === 1) m = enc.subarray(0, i);
          else if (how === 2) m = Uint8Array.from([...enc, x]);
          else m = Uint8Array.from([...enc.subarray(0, i), x, ...enc.subarray(i)]);
          const d = decodeOrProtocolError(m);
          if (d !== undefined) expect(encodePayload(d)).toEqual(m);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("refuses a plaintext over the session limit", () => {
    const err = (() => {
      try {
        decodePayload(new Uint8Array(MAX_SESSION_PLAINTEXT + 1));
      } catch (e) {
        return e;
      }
    })();
    expect(isOpenClawError(err) && err.code).toBe("PROTOCOL_ERROR");
  });
});

describe("command body codecs (property)", () => {
  const id16 = fc.uint8Array({ minLength: 16, maxLength: 16 });

  it("status", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("admin" as const, "user" as const),
        id16,
        u8,
        u8,
        fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }),
        (role, controllerId, used, total, left) => {
          const v = {
            role,
            controllerId,
            bondSlots: { used, total },
            window:
              left === undefined
                ? { state: "closed" as const }
                : { state: "open" as const, timeLeftMs: left },
          };
          expect(StatusResultCodec.decode(StatusResultCodec.encode(v))).toEqual(v);
        },
      ),
    );
  });

  it("list pairings", () => {
    const entry: fc.Arbitrary<PairingSummary> = fc.record({
      controllerId: id16,
      name: fc.string({ maxLength: 20 }),
      role: fc.constantFrom("admin" as const, "user" as const),
      state: fc.constantFrom("provisional" as const, "permanent" as const),
      self: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: MAX_LISTED_PAIRINGS }), fc.nat({ max: 40 }), (list, extra) => {
        const page = { total: list.length + extra, entries: list };
        expect(ListPairingsResultCodec.decode(ListPairingsResultCodec.encode(page))).toEqual(page);
      }),
    );
  });

  it("share and app messages", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("admin" as const, "user" as const),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.constantFrom("passkey" as const, "long" as const),
        fc.stringMatching(/^[0-9A-Z]{6,9}$/),
        u16,
        bytes(MAX_APP_PAYLOAD),
        (role, ttlMs, format, code, channel, payload) => {
          const s = { role, ttlMs, format, code };
          expect(ShareArgsCodec.decode(ShareArgsCodec.encode(s))).toEqual(s);
          expect(AppMessageCodec.decode(AppMessageCodec.encode({ channel, payload }))).toEqual({
            channel,
            payload,
          });
        },
      ),
    );
  });

  it("error bodies keep the catalogue code and typed details", () => {
    const errors = [
      new OpenClawError("NOT_PERMITTED", { command: "share", role: "user" }),
      new OpenClawError("LOCKED_OUT", { retryAfterMs: 61_000 }),
      new OpenClawError("INVALID_ARGUMENT", { detail: "no such pairing on the device" }),
      new OpenClawError("BOND_TABLE_FULL", { slots: 8 }),
      new OpenClawError("BUSY", {}),
    ];
    for (const e of errors) {
      const back = decodeErrorBody(encodeErrorBody(e));
      expect(back.code).toBe(e.code);
      expect(back.details).toEqual(e.details);
    }
  });
});

describe("session record layer (property)", () => {
  it("any change to a sealed message is refused and ends the session; nothing crashes", () => {
    const d = testDevice("prop");
    const admin = testController("prop:admin");
    addBond(d, admin, "admin");
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), fc.nat({ max: 2 }), (at, x, how) => {
        const link = connect(d, admin, { manual: true });
        void link.client.status().catch(() => {});
        const m = link.queue.shift()!;
        const i = at % m.length;
        let bad: Uint8Array;
        if (how === 0) {
          bad = m.slice();
          bad[i]! ^= x;
        } else if (how === 1) bad = m.subarray(0, i);
        else bad = Uint8Array.from([...m, x]);
        try {
          link.session.handle(bad);
          throw new Error("a changed message was accepted");
        } catch (err) {
          expect(isOpenClawError(err) && ["PROTOCOL_ERROR", "VERSION_MISMATCH"].includes(err.code)).toBe(
            true,
          );
        }
        expect(link.session.state).toBe("closed");
      }),
      { numRuns: 200 },
    );
  });
});
