import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeTlv, encodeTlv } from "../../src/protocol/codec/tlv.js";
import {
  ERROR_CODES,
  type ErrorCode,
  isOpenClawError,
  isWireCode,
  OpenClawError,
} from "../../src/protocol/errors.js";
import {
  type AccessoryInfo,
  decodeInfo,
  decodeMessage,
  encodeInfo,
  encodeMessage,
  errorToMessage,
  LAYOUTS,
  MAX_MESSAGE,
  MESSAGE_TABLE,
  type Message,
  MessageSchemas,
  MessageType,
  type MessageTypeName,
  messageToError,
} from "../../src/protocol/messages/index.js";

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const between = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const errorCodes: ErrorCode[] = ERROR_CODES.filter(isWireCode);

const arbMessage: fc.Arbitrary<Message> = fc.oneof(
  fc.record({
    type: fc.constant("PairSetupStart" as const),
    controllerId: bytes(16),
    windowNonce: bytes(16),
    shareP: bytes(65),
  }),
  fc.record({ type: fc.constant("PairSetupChallenge" as const), shareV: bytes(65), confirmV: bytes(32) }),
  fc.record({
    type: fc.constant("PairSetupFinish" as const),
    confirmP: bytes(32),
    sealed: between(17, 1024),
  }),
  fc.record({ type: fc.constant("PairSetupDone" as const), sealed: between(17, 1024) }),
  fc.record({ type: fc.constant("PairSetupAbort" as const), reason: fc.constantFrom(...errorCodes) }),
  fc.record({ type: fc.constant("VerifyStart" as const), noise: between(48, 600) }),
  fc.record({ type: fc.constant("VerifyAccept" as const), noise: between(48, 600) }),
  fc.record({
    type: fc.constant("Session" as const),
    flags: fc.integer({ min: 0, max: 255 }),
    ciphertext: between(16, 1500),
  }),
  fc.record(
    {
      type: fc.constant("Error" as const),
      code: fc.constantFrom(...errorCodes),
      attemptsLeft: fc.integer({ min: 0, max: 255 }),
      retryAfterMs: fc.integer({ min: 0, max: 0xffffffff }),
      slots: fc.integer({ min: 0, max: 255 }),
      reason: fc.constantFrom("ttl" as const, "used" as const, "burnt" as const),
      detail: fc.string({ maxLength: 40 }),
      version: fc.integer({ min: 0, max: 255 }),
      what: fc.string({ maxLength: 40 }),
      afterMs: fc.integer({ min: 0, max: 0xffffffff }),
    },
    { requiredKeys: ["type", "code"] },
  ),
);

function expectOnlyOpenClawErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(isOpenClawError(err)).toBe(true);
    expect(["PROTOCOL_ERROR", "VERSION_MISMATCH"]).toContain((err as OpenClawError).code);
  }
}

describe("message codec", () => {
  it("round-trips every message (property)", () => {
    fc.assert(
      fc.property(arbMessage, (m) => {
        const enc = encodeMessage(m);
        expect(enc.length).toBeLessThanOrEqual(MAX_MESSAGE);
        expect(enc[0]).toBe(1);
        expect(decodeMessage(enc)).toEqual(m);
        // canonical: one message, one encoding
        expect(encodeMessage(decodeMessage(enc))).toEqual(enc);
      }),
      { numRuns: 500 },
    );
  });

  it("arbitrary bytes never throw anything but PROTOCOL_ERROR / VERSION_MISMATCH (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2100 }), (b) =>
        expectOnlyOpenClawErrors(() => decodeMessage(b)),
      ),
      { numRuns: 2000 },
    );
  });

  it("mutations of valid messages decode or fail cleanly (property)", () => {
    fc.assert(
      fc.property(arbMessage, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat(), (m, pos, val, cut) => {
        const enc = encodeMessage(m);
        const mutated = enc.slice();
        mutated[pos % enc.length] = val;
        expectOnlyOpenClawErrors(() => decodeMessage(mutated));
        expectOnlyOpenClawErrors(() => decodeMessage(enc.subarray(0, cut % (enc.length + 1))));
      }),
      { numRuns: 1000 },
    );
  });

  it("rejects what the schema forbids: wrong lengths, unknown types, unknown fields, missing fields", () => {
    const start = encodeMessage({
      type: "PairSetupStart",
      controllerId: new Uint8Array(16),
      windowNonce: new Uint8Array(16),
      shareP: new Uint8Array(65),
    });
    const code = (b: Uint8Array) => {
      try {
        decodeMessage(b);
        return "ok";
      } catch (err) {
        return (err as OpenClawError).code;
      }
    };
    expect(code(start)).toBe("ok");
    expect(code(Uint8Array.of(1, 0x42))).toBe("PROTOCOL_ERROR");
    expect(code(Uint8Array.of(1, 0x01))).toBe("PROTOCOL_ERROR"); // fields missing
    expect(code(Uint8Array.of(1, 0x05, 0x01, 0x00, 0x01, 0xee))).toBe("PROTOCOL_ERROR"); // unknown error code
    expect(code(Uint8Array.of(1, 0x05, 0x01, 0x00, 0x01, 0x02, 0x09, 0x00, 0x00))).toBe("PROTOCOL_ERROR"); // extra field
    expect(code(Uint8Array.of(1, 0x05, 0x01, 0x00, 0x02, 0x00, 0x02))).toBe("PROTOCOL_ERROR"); // u8 of 2 bytes
    expect(code(Uint8Array.of(1, 0x05, 0x01, 0x00, 0x01, 0x02))).toBe("ok");
    expect(code(Uint8Array.of(0, 0x05))).toBe("VERSION_MISMATCH");
    expect(code(Uint8Array.of(1))).toBe("PROTOCOL_ERROR");
    expect(code(new Uint8Array(0))).toBe("PROTOCOL_ERROR");
    expect(code(new Uint8Array(MAX_MESSAGE + 1))).toBe("PROTOCOL_ERROR");
    const short = start.slice();
    short[short.length - 66] = 64; // shareP length field → 64 (and one trailing byte)
    expect(code(short)).toBe("PROTOCOL_ERROR");
    expect(() =>
      encodeMessage({ type: "PairSetupChallenge", shareV: new Uint8Array(64), confirmV: new Uint8Array(32) }),
    ).toThrow(RangeError);
  });

  it("error messages carry the catalogue's wire code and details both ways", () => {
    const cases: OpenClawError[] = [
      new OpenClawError("WRONG_CODE", { attemptsLeft: 3 }),
      new OpenClawError("LOCKED_OUT", { retryAfterMs: 120_000 }),
      new OpenClawError("BOND_TABLE_FULL", { slots: 8 }),
      new OpenClawError("CODE_EXPIRED", { reason: "used" }),
      new OpenClawError("NOT_PERMITTED", { command: "factory-reset", role: "user" }),
      new OpenClawError("TIMEOUT", { what: "pair-setup", afterMs: 30_000 }),
      new OpenClawError("WINDOW_CLOSED", {}),
      new OpenClawError("UNKNOWN_PEER", {}),
      new OpenClawError("BUSY", {}),
    ];
    for (const err of cases) {
      const wire = encodeMessage(errorToMessage(err));
      expect(wire[1]).toBe(0x7f);
      expect(wire.slice(2, 6)).toEqual(Uint8Array.of(0x01, 0x00, 0x01, err.wire));
      const back = messageToError(decodeMessage(wire) as Extract<Message, { type: "Error" }>);
      expect(back.code).toBe(err.code);
      expect(back.details).toEqual(err.details);
    }
    const v = messageToError(
      decodeMessage(
        encodeMessage(errorToMessage(new OpenClawError("VERSION_MISMATCH", { ours: 1, theirs: 2 }))),
      ) as Extract<Message, { type: "Error" }>,
    );
    expect(v.details).toEqual({ ours: 1, theirs: 1 });
    // long details are clipped to fit, never rejected
    const long = errorToMessage(new OpenClawError("PROTOCOL_ERROR", { detail: "é".repeat(500) }));
    expect(() => encodeMessage(long)).not.toThrow();
  });
});

const openInfo: AccessoryInfo = {
  protocolVersion: 1,
  deviceId: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]),
  name: "OpenClaw-0708",
  model: "Claw 1",
  firmware: "1.2.3",
  window: {
    state: "open",
    format: "long",
    codeSource: "device",
    nonce: new Uint8Array(16).fill(9),
    iterations: 1000,
    timeLeftMs: 119_500,
    attemptsLeft: 5,
  },
  bondSlots: { used: 1, total: 8 },
};

describe("info payload", () => {
  it("round-trips each window state", () => {
    for (const window of [
      openInfo.window,
      { state: "closed" as const },
      { state: "locked-out" as const, retryAfterMs: 60_000 },
    ]) {
      const i = { ...openInfo, window };
      expect(decodeInfo(encodeInfo(i))).toEqual(i);
    }
  });

  it("rejects inconsistent or malformed payloads; another version is VERSION_MISMATCH", () => {
    const enc = encodeInfo(openInfo);
    const v2 = enc.slice();
    v2[3] = 2; // version value (tag 0x01, len 0x0001, value)
    expect(() => decodeInfo(v2)).toThrowError(
      expect.objectContaining({ code: "VERSION_MISMATCH" }) as unknown as Error,
    );
    // a closed window that still publishes a nonce: inconsistent, refused
    const closed = encodeInfo({ ...openInfo, window: { state: "closed" } });
    const items = [...decodeTlv(closed)];
    items.push([0x09, new Uint8Array(16)]);
    expect(() => decodeInfo(encodeTlv(items))).toThrowError(
      expect.objectContaining({ code: "PROTOCOL_ERROR" }) as unknown as Error,
    );
    // an unknown tag is refused too (the field set is closed)
    expect(() => decodeInfo(encodeTlv([...decodeTlv(closed), [0x40, new Uint8Array(1)]]))).toThrowError(
      expect.objectContaining({ code: "PROTOCOL_ERROR" }) as unknown as Error,
    );
    expect(() => decodeInfo(enc.subarray(0, enc.length - 1))).toThrowError(
      expect.objectContaining({ code: "PROTOCOL_ERROR" }) as unknown as Error,
    );
    expect(() =>
      encodeInfo({ ...openInfo, window: { ...openInfo.window, iterations: 10 } as typeof openInfo.window }),
    ).toThrow(RangeError);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (b) => expectOnlyOpenClawErrors(() => decodeInfo(b))),
      { numRuns: 1000 },
    );
  });
});

describe("the message table (one definition of every message)", () => {
  const names = Object.keys(MESSAGE_TABLE) as MessageTypeName[];

  it("gives every message its own type byte and every field its own tag, in ascending order", () => {
    const types = names.map((n) => MESSAGE_TABLE[n].type);
    expect(new Set(types).size).toBe(types.length);
    for (const n of names) {
      expect(MessageType[n]).toBe(MESSAGE_TABLE[n].type);
      const tags = LAYOUTS[n].map((f) => f.tag);
      expect(tags, n).toEqual([...new Set(tags)].sort((a, b) => a - b));
      // the codec's layout and the schema are the table's, field for field
      expect(LAYOUTS[n].map((f) => f.key).sort(), n).toEqual(
        Object.keys(MessageSchemas[n].shape)
          .filter((k) => k !== "type")
          .sort(),
      );
    }
  });

  it("matches hardware/PROTOCOL.md §3.2 and §3.4: type bytes, tags and Error field names", () => {
    const doc = readFileSync(new URL("../../hardware/PROTOCOL.md", import.meta.url), "utf8");
    const s32 = doc.slice(doc.indexOf("### 3.2"), doc.indexOf("### 3.3"));
    const rows = [...s32.matchAll(/^\| (0x[0-9A-F]{2}) \| (\w+) +\| [^|]+\| (.*?) +\|$/gm)];
    expect(rows.map((r) => r[2]).sort()).toEqual([...names].sort());
    for (const [, type, name, fields] of rows) {
      const n = name as MessageTypeName;
      expect(Number(type), n).toBe(MessageType[n]);
      if (n !== "Error")
        expect(
          [...fields!.matchAll(/0x([0-9a-f]{2}) /g)].map((m) => Number.parseInt(m[1]!, 16)),
          n,
        ).toEqual(LAYOUTS[n].map((f) => f.tag));
    }
    const s34 = doc.slice(doc.indexOf("### 3.4"), doc.indexOf("### 3.5"));
    const errorRows = [...s34.matchAll(/^\| (0x[0-9A-F]{2}) +\| (\w+) +\|/gm)].map((r) => [
      Number(r[1]),
      r[2],
    ]);
    expect(errorRows).toEqual(LAYOUTS.Error.map((f) => [f.tag, f.key]));
  });
});
