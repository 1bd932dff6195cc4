import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock/index.js";
import { isOpenClawError, type OpenClawError } from "../../src/protocol/errors.js";
import { MessageChannel, type MessageChannelOptions } from "../../src/transport/channel.js";
import { decodeFrame, encodeAck, maxFrameForMtu, segmentMessage } from "../../src/transport/frame.js";
import { createMemoryLinkPair, type MemoryLinkPair } from "../../src/transport/memory-link.js";
import { rejection } from "../helpers/errors.js";

/** Lets promise continuations (the channel's write chain) run; no clock involved. */
const settle = () => new Promise<void>((r) => setImmediate(r));

/** Delivers frames until both directions are quiet. */
async function run(pair: MemoryLinkPair): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    await settle();
    if (pair.flush() === 0) {
      await settle();
      if (pair.pending("a") + pair.pending("b") === 0) return;
    }
  }
  throw new Error("link never went quiet");
}

function setup(mtu = 23, opts: MessageChannelOptions = {}) {
  const clock = new ManualClock();
  const pair = createMemoryLinkPair(maxFrameForMtu(mtu));
  const a = new MessageChannel(pair.a, { clock, ...opts });
  const b = new MessageChannel(pair.b, { clock, ...opts });
  const errors: { a: OpenClawError[]; b: OpenClawError[] } = { a: [], b: [] };
  a.onError((e) => errors.a.push(e));
  b.onError((e) => errors.b.push(e));
  return { clock, pair, a, b, errors };
}

function codeOf(err: unknown): string | undefined {
  return isOpenClawError(err) ? err.code : undefined;
}

let open: MessageChannel[] = [];
afterEach(() => {
  for (const c of open) c.close();
  open = [];
});

describe("MessageChannel", () => {
  it("carries messages both ways, in order, at MTU 23 and 247", async () => {
    for (const mtu of [23, 247]) {
      const { pair, a, b } = setup(mtu);
      open.push(a, b);
      const m1 = new Uint8Array(2048).map((_, i) => i * 7);
      const m2 = Uint8Array.of(1, 2, 3);
      const sent = Promise.all([a.send(m1), a.send(m2), b.send(m2)]);
      const got = Promise.all([b.receive(1000, "m1"), b.receive(1000, "m2"), a.receive(1000, "reply")]);
      await run(pair);
      await sent;
      expect(await got).toEqual([m1, m2, m2]);
      for (const { frame } of pair.log) expect(frame.length).toBeLessThanOrEqual(mtu - 3);
    }
  });

  it("round-trips any message at any MTU with frames delivered one at a time, window respected", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 2048 }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 23, max: 517 }),
        fc.integer({ min: 1, max: 16 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 64 }),
        async (messages, mtu, window, schedule) => {
          const { pair, a, b, clock } = setup(mtu, { window });
          // Data frames a handed to the link minus those b's delivered acks cover: a's frames in flight.
          const maxFrame = maxFrameForMtu(mtu);
          let acked = 0;
          let maxInFlight = 0;
          const sentData = () =>
            pair.log.filter((l) => l.from === "a" && decodeFrame(l.frame, maxFrame).kind === "data").length;
          pair.intercept((from, f) => {
            const d = decodeFrame(f, maxFrame);
            if (from === "b" && d.kind === "ack") {
              const n = sentData();
              acked = n - ((n - 1 - d.seq) & 0xff);
            }
            return f;
          });
          const received: Uint8Array[] = [];
          b.onMessage((m) => received.push(m));
          const sends = messages.map((m) => a.send(m));
          // One frame at a time, in an order the schedule picks, until both sides are quiet.
          for (let i = 0; i < 100_000; i++) {
            await settle();
            maxInFlight = Math.max(maxInFlight, sentData() - acked);
            const pick = schedule[i % schedule.length] ? "a" : "b";
            if (!pair.step(pick) && !pair.step(pick === "a" ? "b" : "a")) {
              await settle();
              if (pair.pending("a") + pair.pending("b") === 0) break;
            }
          }
          await Promise.all(sends);
          expect(received).toEqual(messages);
          expect(maxInFlight).toBeLessThanOrEqual(window);
          expect(clock.size).toBe(0);
          a.close();
          b.close();
        },
      ),
      { numRuns: 60 },
    );
  });

  it("a receive that waits too long says what timed out", async () => {
    const { a, clock } = setup();
    open.push(a);
    const p = a.receive(5000, "the device's pair-setup challenge");
    // a leaked or stuck timer shows by name
    expect(clock.pending()).toEqual([
      { name: "transport.receive: the device's pair-setup challenge", dueInMs: 5000 },
    ]);
    clock.advance(4999);
    await settle();
    clock.advance(1);
    const err = await rejection(p);
    expect(err.code).toBe("TIMEOUT");
    expect(err.details).toEqual({ what: "the device's pair-setup challenge", afterMs: 5000 });
    expect(err.message).toContain("pair-setup challenge");
  });

  it("a message that stops half way times out reassembly and resets the channel", async () => {
    const { pair, a, b, clock, errors } = setup(23, { reassemblyTimeoutMs: 3000 });
    open.push(a, b);
    const waiting = rejection(b.receive(60_000, "request"));
    // a peer that sends the first frame of a 100-byte message and then goes quiet
    await pair.a.sendFrame(segmentMessage(new Uint8Array(100), 20, 0)[0]!);
    pair.step("a");
    clock.advance(3000);
    const err = await waiting;
    expect(err.code).toBe("TIMEOUT");
    expect(err.details).toMatchObject({ what: "receiving the rest of a message from the peer" });
    expect(errors.b.map((e) => e.code)).toEqual(["TIMEOUT"]);
    expect(clock.pending().map((t) => t.name)).toContain("transport.reset");
    // b sent RESET; a answers RESET|ACK and both start over from sequence 0
    await run(pair);
    const ok = b.receive(1000, "next");
    await Promise.all([a.send(Uint8Array.of(9)), run(pair)]);
    expect(await ok).toEqual(Uint8Array.of(9));
  });

  it("acks that never come time out the send", async () => {
    const { pair, a, clock } = setup(23, { ackTimeoutMs: 2000 });
    open.push(a);
    const p = rejection(a.send(new Uint8Array(10)));
    await settle();
    expect(pair.pending("a")).toBe(1); // nobody answers on side b
    expect(clock.pending().map((t) => t.name)).toEqual(["transport.ack"]);
    clock.advance(2000);
    const err = await p;
    expect(err.code).toBe("TIMEOUT");
    expect(err.details).toMatchObject({ what: "the peer acknowledging frames", afterMs: 2000 });
  });

  it.each([
    ["a duplicate frame", (f: Uint8Array[]) => [f[0]!, f[0]!]],
    ["a gap in sequence numbers", (f: Uint8Array[]) => [f[0]!, f[2]!]],
    ["a continuation outside a message", (f: Uint8Array[]) => [f[1]!]],
    ["a frame over the MTU", () => [new Uint8Array(21).fill(0x40, 0, 1)]],
    ["garbage", () => [Uint8Array.of(0xff, 0xff, 0xff)]],
    ["an oversized message", () => [Uint8Array.of(0x80, 0, 0x08, 0x01, 1, 2)]],
  ])("%s ends the exchange with PROTOCOL_ERROR and the channel recovers", async (_name, pick) => {
    const { pair, a, b, errors } = setup(23);
    open.push(a, b);
    const waiting = rejection(b.receive(60_000, "request"));
    const frames = segmentMessage(new Uint8Array(60).fill(7), 20, 0);
    for (const f of pick(frames)) pair.inject("a", f);
    while (pair.step("a")) {}
    const err = await waiting;
    expect(err.code).toBe("PROTOCOL_ERROR");
    expect(errors.b).toHaveLength(1);
    await run(pair);
    // a heard b's RESET (it had nothing pending, so it only learns the exchange ended)
    expect(errors.a.map(codeOf)).toEqual(["PROTOCOL_ERROR"]);
    const ok = b.receive(1000, "next");
    await Promise.all([a.send(Uint8Array.of(1, 2)), run(pair)]);
    expect(await ok).toEqual(Uint8Array.of(1, 2));
  });

  it("a frame ahead of the receive window is named as such", async () => {
    const { pair, b } = setup(23);
    open.push(b);
    const waiting = rejection(b.receive(60_000, "request"));
    pair.a.sendFrame(segmentMessage(new Uint8Array(5), 20, 40)[0]!);
    pair.step("a");
    const err = await waiting;
    expect(err.code).toBe("PROTOCOL_ERROR");
    expect(err.message).toContain("outside the receive window");
  });

  it("an ack for a frame never sent is a protocol error", async () => {
    const { pair, a, errors } = setup();
    open.push(a);
    const p = rejection(a.send(new Uint8Array(5)));
    await settle();
    pair.b.sendFrame(encodeAck(3));
    pair.step("b");
    expect((await p).code).toBe("PROTOCOL_ERROR");
    expect(errors.a.map((e) => e.code)).toEqual(["PROTOCOL_ERROR"]);
  });

  it("link loss rejects pending sends and receives with OUT_OF_RANGE and closes the channel", async () => {
    const { pair, a, b } = setup();
    const s = rejection(a.send(new Uint8Array(500)));
    const r = rejection(b.receive(10_000, "reply"));
    const closed = new Promise<OpenClawError>((res) => a.onClose(res));
    await settle();
    pair.step("a");
    pair.drop();
    expect((await s).code).toBe("OUT_OF_RANGE");
    expect((await r).code).toBe("OUT_OF_RANGE");
    expect((await closed).code).toBe("OUT_OF_RANGE");
    expect(a.closed).toBe(true);
    expect((await rejection(a.send(Uint8Array.of(1)))).code).toBe("OUT_OF_RANGE");
  });

  it("refuses to send a message over the limit", async () => {
    const { a } = setup(23, { maxMessage: 100 });
    open.push(a);
    expect((await rejection(a.send(new Uint8Array(101)))).code).toBe("PROTOCOL_ERROR");
  });

  it("a listener that throws ends the exchange instead of crashing", async () => {
    const { pair, a, b, errors } = setup();
    open.push(a, b);
    b.onMessage(() => {
      throw new Error("boom");
    });
    const s = rejection(a.send(Uint8Array.of(1)));
    await run(pair);
    expect((await s).code).toBe("PROTOCOL_ERROR"); // the exchange ended before a heard its ack
    expect(errors.b.map((e) => e.code)).toEqual(["PROTOCOL_ERROR"]);
    expect(errors.a.map((e) => e.code)).toEqual(["PROTOCOL_ERROR"]);
  });

  it("queues sends made while resetting and sends them after the peer answers", async () => {
    const { pair, a, b } = setup();
    open.push(a, b);
    pair.inject("a", Uint8Array.of(0xff, 0)); // garbage from a's side of the link: b resets
    pair.step("a");
    const s = b.send(Uint8Array.of(4, 5));
    await run(pair);
    await s;
    expect(await a.receive(1000, "x")).toEqual(Uint8Array.of(4, 5));
  });

  it("carries on alone if the peer never answers a reset", async () => {
    const { pair, b, clock } = setup(23, { resetTimeoutMs: 500 });
    open.push(b);
    pair.inject("a", Uint8Array.of(0xff, 0));
    pair.step("a");
    pair.intercept(() => null); // everything is lost from here on
    const s = rejection(b.send(Uint8Array.of(1)));
    await settle();
    expect(pair.log.filter((l) => l.from === "b" && l.frame[0] !== 0x10)).toHaveLength(0);
    clock.advance(500);
    await settle();
    expect(pair.log.some((l) => l.from === "b" && l.frame[0] === 0xc0)).toBe(true);
    clock.advance(10_000);
    expect((await s).code).toBe("TIMEOUT");
  });

  it("stops at the window when acks are withheld and resumes as they arrive", async () => {
    const { pair, a, b } = setup(23, { window: 3 });
    open.push(a, b);
    const sent = a.send(new Uint8Array(200));
    await settle();
    await settle();
    expect(pair.pending("a")).toBe(3); // nothing more until b acknowledges
    const got = b.receive(1000, "m");
    await run(pair);
    await sent;
    expect((await got).length).toBe(200);
  });

  it("under random corruption and loss, every operation settles with the message or a typed error, then recovers", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 600 }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 23, max: 100 }),
        fc.array(
          fc.record({
            at: fc.nat(40),
            from: fc.constantFrom<"a" | "b">("a", "b"),
            kind: fc.constantFrom("drop", "flip", "truncate", "garbage"),
            byte: fc.nat(),
            value: fc.integer({ min: 0, max: 255 }),
          }),
          { maxLength: 3 },
        ),
        async (messages, mtu, faults) => {
          const { pair, a, b, clock } = setup(mtu);
          const count = { a: 0, b: 0 };
          pair.intercept((from, f) => {
            const n = count[from]++;
            const fault = faults.find((x) => x.from === from && x.at === n);
            if (!fault) return f;
            if (fault.kind === "drop") return null;
            if (fault.kind === "garbage") return Uint8Array.of(fault.value, fault.value, fault.value);
            if (fault.kind === "truncate") return f.subarray(0, fault.byte % f.length);
            const g = f.slice();
            g[fault.byte % g.length] = fault.value;
            return g;
          });
          const outcomes: string[] = [];
          const settleOp = (p: Promise<unknown>, label: string) =>
            p.then(
              () => outcomes.push(`${label}:ok`),
              (err: unknown) => {
                const code = codeOf(err);
                expect(["PROTOCOL_ERROR", "TIMEOUT"]).toContain(code);
                outcomes.push(`${label}:${code}`);
              },
            );
          const received: Uint8Array[] = [];
          b.onMessage((m) => received.push(m));
          const ops = messages.map((m, i) => settleOp(a.send(m), `send${i}`));
          // Deliver, and let every timeout (ack, reassembly, reset) fire, until all is quiet.
          for (let round = 0; round < 6; round++) {
            await run(pair);
            clock.advance(11_000);
          }
          await run(pair);
          await Promise.all(ops);
          expect(outcomes).toHaveLength(messages.length);
          // Whatever b accepted is well formed (no integrity check here: see transport-frame.test.ts).
          for (const m of received) expect(m.length).toBeLessThanOrEqual(2048);
          // And the pair works again afterwards: at once, or, when a fault swallowed a RESET (a live BLE
          // link never loses a frame: it is reliable until it drops, and a drop resets everything), after
          // the one exchange that re-synchronises the sequence numbers.
          pair.intercept(null);
          const last = Uint8Array.of(42, 43);
          let delivered = false;
          b.onMessage((m) => {
            if (m.length === 2 && m[0] === 42) delivered = true;
          });
          for (let attempt = 0; attempt < 2 && !delivered; attempt++) {
            const s2 = a.send(last).catch((err: unknown) => expect(codeOf(err)).toBe("PROTOCOL_ERROR"));
            await run(pair);
            clock.advance(3000);
            await run(pair);
            await s2;
          }
          expect(delivered).toBe(true);
          expect(clock.size).toBe(0);
          a.close();
          b.close();
        },
      ),
      {
        numRuns: 150,
        // Found by fast-check: the message and then the RESET lost, so the sides disagree on sequence numbers.
        examples: [
          [
            [new Uint8Array(0), new Uint8Array(0)],
            23,
            [
              { at: 1, from: "a", kind: "drop", byte: 0, value: 0 },
              { at: 2, from: "a", kind: "drop", byte: 0, value: 0 },
            ],
          ],
        ],
      },
    );
  });
});
