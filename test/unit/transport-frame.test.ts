import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isOpenClawError } from "../../src/protocol/errors.js";
import {
  DEFAULT_MAX_MESSAGE,
  decodeFrame,
  encodeAck,
  encodeReset,
  type Frame,
  frameCount,
  MAX_ATT_MTU,
  MIN_ATT_MTU,
  maxFrameForMtu,
  Reassembler,
  segmentMessage,
} from "../../src/transport/frame.js";

const mtuArb = fc.integer({ min: MIN_ATT_MTU, max: MAX_ATT_MTU });
const messageArb = fc.uint8Array({ minLength: 0, maxLength: DEFAULT_MAX_MESSAGE });

/** Feeds raw frames to a fresh reassembler; returns the messages, or the error it threw. */
function reassemble(frames: Uint8Array[], maxFrame: number, maxMessage = DEFAULT_MAX_MESSAGE) {
  const r = new Reassembler(maxMessage);
  const messages: Uint8Array[] = [];
  for (const raw of frames) {
    const f: Frame = decodeFrame(raw, maxFrame);
    if (f.kind !== "data") throw new Error("unexpected control frame");
    const m = r.push(f);
    if (m) messages.push(m);
  }
  return { messages, assembling: r.assembling };
}

function expectProtocolError(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(isOpenClawError(err) && err.code).toBe("PROTOCOL_ERROR");
    return;
  }
  throw new Error("expected PROTOCOL_ERROR");
}

describe("segmentation and reassembly", () => {
  it("round-trips any message at any MTU, every frame within MTU − 3", () => {
    fc.assert(
      fc.property(messageArb, mtuArb, fc.nat(255), (message, mtu, firstSeq) => {
        const maxFrame = maxFrameForMtu(mtu);
        const frames = segmentMessage(message, maxFrame, firstSeq);
        expect(frames.length).toBe(frameCount(message.length, maxFrame));
        for (const f of frames) expect(f.length).toBeLessThanOrEqual(mtu - 3);
        const r = new Reassembler();
        // Align the reassembler with the first sequence number by feeding it through a prefix message.
        let out: Uint8Array | null = null;
        for (let i = 0; i < firstSeq; i++)
          r.push({ kind: "data", start: true, end: true, seq: i, total: 0, payload: new Uint8Array(0) });
        frames.forEach((raw, i) => {
          const f = decodeFrame(raw, maxFrame);
          if (f.kind !== "data") throw new Error("control frame");
          const m = r.push(f);
          if (i < frames.length - 1) expect(m).toBeNull();
          else out = m;
        });
        expect(out).toEqual(message);
      }),
      { numRuns: 300 },
    );
  });

  it("uses 20-byte frames at MTU 23 and 514-byte frames at MTU 517", () => {
    const msg = new Uint8Array(2048).map((_, i) => i & 0xff);
    const small = segmentMessage(msg, maxFrameForMtu(23), 0);
    expect(Math.max(...small.map((f) => f.length))).toBe(20);
    expect(small.length).toBe(1 + Math.ceil((2048 - 16) / 18));
    const big = segmentMessage(msg, maxFrameForMtu(517), 0);
    expect(big.length).toBe(5); // 510 + 3 × 512 < 2048
    expect(big[0]![0]).toBe(0x80);
    expect(big[4]![0]).toBe(0x40);
  });

  it("frames an empty message as one START|END frame", () => {
    const [f, ...rest] = segmentMessage(new Uint8Array(0), 20, 7);
    expect(rest).toHaveLength(0);
    expect([...f!]).toEqual([0xc0, 7, 0, 0]);
  });

  it("wraps sequence numbers at 256", () => {
    const frames = segmentMessage(new Uint8Array(100), 20, 254);
    expect(frames.map((f) => f[1])).toEqual([254, 255, 0, 1, 2, 3]);
  });

  it("rejects an MTU outside 23..517", () => {
    expect(() => maxFrameForMtu(22)).toThrow(RangeError);
    expect(() => maxFrameForMtu(518)).toThrow(RangeError);
  });
});

describe("malformed frames", () => {
  it("decodes control frames", () => {
    expect(decodeFrame(encodeAck(9), 20)).toEqual({ kind: "ack", seq: 9 });
    expect(decodeFrame(encodeReset(false), 20)).toEqual({ kind: "reset" });
    expect(decodeFrame(encodeReset(true), 20)).toEqual({ kind: "reset-ack" });
  });

  it.each([
    ["empty", []],
    ["one byte", [0x80]],
    ["reserved bits", [0x81, 0, 0, 1, 5]],
    ["ack with data flags", [0xa0, 0]],
    ["ack with payload", [0x20, 0, 1]],
    ["reset with seq", [0x10, 3]],
    ["truncated START", [0x80, 0, 0]],
    ["continuation without payload", [0x00, 0]],
  ])("rejects %s", (_name, bytes) => {
    expectProtocolError(() => decodeFrame(Uint8Array.from(bytes), 20));
  });

  it("rejects a frame longer than the link's frame size", () => {
    expectProtocolError(() => decodeFrame(new Uint8Array(21).fill(0x40, 0, 1), 20));
  });

  it("rejects a declared length over the limit before buffering anything", () => {
    const frames = segmentMessage(new Uint8Array(300), 244, 0);
    expectProtocolError(() => reassemble(frames, 244, 256));
  });

  it("rejects duplicates, gaps, a START inside a message and a continuation outside one", () => {
    const frames = segmentMessage(new Uint8Array(60), 20, 0);
    expectProtocolError(() => reassemble([frames[0]!, frames[0]!], 20));
    expectProtocolError(() => reassemble([frames[0]!, frames[2]!], 20));
    const second = segmentMessage(new Uint8Array(5), 20, 1);
    expectProtocolError(() => reassemble([frames[0]!, second[0]!], 20));
    expectProtocolError(() => reassemble([frames[1]!], 20));
  });

  it("rejects an END short of the length and a length reached without END", () => {
    const short = Uint8Array.of(0xc0, 0, 0, 5, 1, 2);
    expectProtocolError(() => reassemble([short], 20));
    const noEnd = Uint8Array.of(0x80, 0, 0, 2, 1, 2);
    expectProtocolError(() => reassemble([noEnd], 20));
    const over = Uint8Array.of(0xc0, 0, 0, 1, 1, 2);
    expectProtocolError(() => reassemble([over], 20));
  });

  it("a changed payload byte passes through unnoticed, with the message's shape intact", () => {
    // Documented limit: integrity is the link layer's CRC and the session AEAD's job, not the framing's.
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 700 }),
        mtuArb,
        fc.nat(),
        fc.nat(255),
        (m, mtu, at, v) => {
          const maxFrame = maxFrameForMtu(mtu);
          const frames = segmentMessage(m, maxFrame, 0);
          const i = at % frames.length;
          const header = i === 0 ? 4 : 2;
          const f = frames[i]!.slice();
          f[header + (at % (f.length - header))] = v;
          frames[i] = f;
          const { messages } = reassemble(frames, maxFrame);
          expect(messages.map((x) => x.length)).toEqual([m.length]);
        },
      ),
    );
  });

  it("any corrupted or truncated frame sequence gives PROTOCOL_ERROR or well-formed messages, never a crash", () => {
    const mutation = fc.oneof(
      fc.record({
        kind: fc.constant("flip" as const),
        frame: fc.nat(),
        byte: fc.nat(),
        value: fc.integer({ min: 0, max: 255 }),
      }),
      fc.record({ kind: fc.constant("truncate" as const), frame: fc.nat(), len: fc.nat() }),
      fc.record({ kind: fc.constant("drop" as const), frame: fc.nat() }),
      fc.record({ kind: fc.constant("duplicate" as const), frame: fc.nat() }),
      fc.record({ kind: fc.constant("swap" as const), frame: fc.nat(), other: fc.nat() }),
      fc.record({
        kind: fc.constant("extend" as const),
        frame: fc.nat(),
        extra: fc.uint8Array({ minLength: 1, maxLength: 8 }),
      }),
      fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 700 }), { minLength: 1, maxLength: 3 }),
        mtuArb,
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (messages, mtu, mutations) => {
          const maxFrame = maxFrameForMtu(mtu);
          let seq = 0;
          let frames: Uint8Array[] = [];
          for (const m of messages) {
            const fs = segmentMessage(m, maxFrame, seq);
            seq = (seq + fs.length) & 0xff;
            frames.push(...fs);
          }
          for (const mu of mutations) {
            if (frames.length === 0) break;
            const i = ("frame" in mu ? mu.frame : 0) % frames.length;
            const f = frames[i]!;
            switch (mu.kind) {
              case "flip": {
                const b = mu.byte % f.length;
                const g = f.slice();
                g[b] = mu.value;
                frames[i] = g;
                break;
              }
              case "truncate":
                frames[i] = f.subarray(0, mu.len % f.length);
                break;
              case "drop":
                frames.splice(i, 1);
                break;
              case "duplicate":
                frames.splice(i, 0, f);
                break;
              case "swap": {
                const j = mu.other % frames.length;
                [frames[i], frames[j]] = [frames[j]!, f];
                break;
              }
              case "extend":
                frames[i] = Uint8Array.from([...f, ...mu.extra]);
                break;
              case "cut":
                frames = frames.slice(0, mu.at % (frames.length + 1));
                break;
            }
          }
          let result: ReturnType<typeof reassemble>;
          try {
            result = reassemble(frames, maxFrame);
          } catch (err) {
            expect(isOpenClawError(err) && err.code).toBe("PROTOCOL_ERROR");
            return;
          }
          // Every message that got through is well formed: within the limit, its declared length.
          for (const m of result.messages) expect(m.length).toBeLessThanOrEqual(DEFAULT_MAX_MESSAGE);
          // There is no integrity check at this layer (ATT and the link layer have CRCs, the session has
          // AEAD), so rewritten bytes can form a different valid frame (e.g. a smaller length field plus a
          // truncation). Without rewrites, anything that got through is exactly a prefix of what was sent.
          const rewrote = mutations.some((m) => m.kind === "flip" || m.kind === "extend");
          if (!rewrote) {
            expect(result.messages.length).toBeLessThanOrEqual(messages.length);
            for (const [k, m] of result.messages.entries()) expect(m).toEqual(messages[k]);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
