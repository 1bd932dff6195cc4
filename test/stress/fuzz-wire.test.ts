/**
 * Random and mutated bytes into the wire layers: the frame decoder and reassembler
 * (src/transport/frame.ts), a MessageChannel pair over the memory link (src/transport/channel.ts) and
 * the message codec (src/protocol/messages). Only PROTOCOL_ERROR-class OpenClawErrors may come out,
 * and afterwards a valid message still goes through (the channel resets and recovers).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock/index.js";
import { isOpenClawError } from "../../src/protocol/errors.js";
import { decodeMessage, encodeMessage } from "../../src/protocol/messages/codec.js";
import { MessageChannel } from "../../src/transport/channel.js";
import {
  decodeFrame,
  MAX_FRAME,
  MIN_FRAME,
  maxFrameForMtu,
  Reassembler,
  segmentMessage,
} from "../../src/transport/frame.js";
import { createMemoryLinkPair } from "../../src/transport/memory-link.js";
import { fcParams, limitMs } from "./cases.js";
import { fullExchange, makeDevice, makeLaptop } from "./exchange.js";
import { mutated, typedOnly } from "./mutate.js";

const transcript = (await fullExchange(makeDevice("wire"), makeLaptop("wire"))).map((m) => m.bytes);
const protocolOnly = (e: unknown) => isOpenClawError(e) && e.code === "PROTOCOL_ERROR";
const versionOrProtocol = (e: unknown) =>
  isOpenClawError(e) && (e.code === "PROTOCOL_ERROR" || e.code === "VERSION_MISMATCH");

const frameSize = fc.integer({ min: MIN_FRAME, max: MAX_FRAME });
const message = fc.uint8Array({ minLength: 0, maxLength: 2048 });

describe("fuzzing the framing", () => {
  it(
    "decodeFrame: any bytes at any frame size decode or fail with PROTOCOL_ERROR",
    () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 600 }), frameSize, (b, mf) => {
          const f = typedOnly(() => decodeFrame(b, mf), protocolOnly);
          if (f?.kind === "data") expect(b.length).toBeLessThanOrEqual(mf);
        }),
        fcParams(2000, 30_000),
      );
    },
    limitMs(10_000),
  );

  it(
    "Reassembler: mutated frame sequences fail with PROTOCOL_ERROR; after reset a message reassembles",
    () => {
      fc.assert(
        fc.property(message, frameSize, fc.array(fc.nat(), { maxLength: 6 }), (msg, mf, edits) => {
          const frames = segmentMessage(msg, mf, 0);
          // Edits: drop, duplicate, swap or corrupt frames of the valid sequence.
          const seq = frames.map((f) => f.slice());
          for (const e of edits) {
            const i = e % Math.max(1, seq.length);
            const op = (e >> 8) % 4;
            if (op === 0) seq.splice(i, 1);
            else if (op === 1 && seq[i]) seq.splice(i, 0, seq[i]!.slice());
            else if (op === 2 && seq.length > 1) [seq[0], seq[i]] = [seq[i]!, seq[0]!];
            else if (seq[i] && seq[i]!.length > 0) seq[i]![(e >> 4) % seq[i]!.length]! ^= 0xff;
          }
          const r = new Reassembler(2048);
          typedOnly(() => {
            for (const f of seq) {
              const d = decodeFrame(f, mf);
              if (d.kind === "data") r.push(d);
            }
          }, protocolOnly);
          r.reset();
          let out: Uint8Array | null = null;
          for (const f of frames) {
            const d = decodeFrame(f, mf);
            if (d.kind === "data") out = r.push(d);
          }
          expect(out).toEqual(msg);
        }),
        fcParams(1000, 20_000),
      );
    },
    limitMs(10_000),
  );

  it(
    "MessageChannel: hostile frames between valid messages; errors are typed, then both ways work",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(23, 185, 247, 517),
          fc.array(fc.uint8Array({ minLength: 0, maxLength: 40 }), { minLength: 1, maxLength: 6 }),
          fc.uint8Array({ minLength: 1, maxLength: 600 }),
          async (mtu, junk, msg) => {
            const clock = new ManualClock(0);
            const pair = createMemoryLinkPair(maxFrameForMtu(mtu));
            const a = new MessageChannel(pair.a, { clock });
            const b = new MessageChannel(pair.b, { clock });
            const errors: unknown[] = [];
            a.onError((e) => errors.push(e));
            b.onError((e) => errors.push(e));
            const settle = async () => {
              for (let i = 0; i < 200; i++) {
                await new Promise<void>((r) => setImmediate(r));
                if (pair.flush() === 0) return;
              }
            };
            // A valid message, then the junk (clipped to the frame size) from a's side.
            const first = b.receive(5000, "first");
            first.catch(() => {});
            a.send(msg).catch(() => {});
            await settle();
            for (const j of junk) pair.inject("a", j.subarray(0, maxFrameForMtu(mtu)));
            await settle();
            clock.advance(3000); // reset handshakes and timeouts run out
            await settle();
            for (const e of errors) expect(isOpenClawError(e)).toBe(true);
            // Recovered: a message each way arrives intact.
            const gotB = b.receive(5000, "after junk");
            const gotA = a.receive(5000, "reply");
            const sent = Promise.all([a.send(msg), b.send(msg)]);
            await settle();
            clock.advance(1);
            await settle();
            await sent;
            expect(await gotB).toEqual(msg);
            expect(await gotA).toEqual(msg);
            a.close();
            b.close();
          },
        ),
        fcParams(150, 5000),
      );
    },
    limitMs(15_000),
  );
});

describe("fuzzing the message codec", () => {
  it(
    "random bytes decode or fail typed; what decodes re-encodes to a message that decodes the same",
    () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
          const m = typedOnly(() => decodeMessage(b), versionOrProtocol);
          if (m) expect(decodeMessage(encodeMessage(m))).toEqual(m);
        }),
        fcParams(2000, 30_000),
      );
    },
    limitMs(10_000),
  );

  it(
    "mutations of every message of a real transcript decode or fail typed",
    () => {
      fc.assert(
        fc.property(
          fc.nat({ max: transcript.length - 1 }).chain((i) => mutated(transcript[i]!, transcript)),
          (b) => {
            const m = typedOnly(() => decodeMessage(b), versionOrProtocol);
            if (m) expect(decodeMessage(encodeMessage(m))).toEqual(m);
          },
        ),
        fcParams(2000, 30_000),
      );
    },
    limitMs(10_000),
  );
});
