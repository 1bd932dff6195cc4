/**
 * Hostile HCI streams: the H4 splitters on both sides (src/radio/hci/h4.ts for noble/bleno,
 * firmware-sim/air/hci.ts for the air) over arbitrary chunking, and the air itself fed random commands
 * (known opcodes with random parameters, unknown opcodes), random ACL data and, now and then, bytes that
 * are not H4 at all — while another controller advertises and time runs. The air must never throw
 * (an exception there would be an uncaught error in this process), and afterwards a new client still
 * gets its controller and its answers.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { H4, OP } from "../../firmware-sim/air/hci.js";
import { Air } from "../../firmware-sim/air/index.js";
import { H4TestClient, params } from "../../firmware-sim/air/test-client.js";
import { ManualClock } from "../../src/clock/index.js";
import { isOpenClawError } from "../../src/protocol/errors.js";
import { H4Parser } from "../../src/radio/hci/h4.js";
import { fcParams, limitMs } from "./cases.js";
import { typedOnly } from "./mutate.js";

/** Valid packets of every H4 type, so the splitters see real framing as well as junk. */
const packet = fc.oneof(
  fc
    .tuple(fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 255 }))
    .map(([op, p]) => Buffer.concat([Buffer.from([H4.command, op & 0xff, op >> 8, p.length]), p])),
  fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 300 })).map(([h, p]) => {
    const b = Buffer.alloc(5);
    b.writeUInt8(H4.acl, 0);
    b.writeUInt16LE(h, 1);
    b.writeUInt16LE(p.length, 3);
    return Buffer.concat([b, p]);
  }),
  fc
    .tuple(fc.integer({ min: 0, max: 0xff }), fc.uint8Array({ maxLength: 255 }))
    .map(([code, p]) => Buffer.concat([Buffer.from([H4.event, code, p.length]), p])),
  fc.uint8Array({ minLength: 1, maxLength: 16 }).map((b) => Buffer.from(b)),
);

/** Splits a byte stream at arbitrary points. */
function chunks(stream: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...at, stream.length]) {
    out.push(stream.subarray(prev, c));
    prev = c;
  }
  return out;
}

/** Feeds the packets, cut at arbitrary points, to one splitter; false once it declared the stream broken. */
function splitterProperty(
  push: (chunk: Buffer) => { bytes: number; broken: boolean },
  buffered?: () => number,
) {
  return fc.property(
    fc.array(packet, { maxLength: 12 }),
    fc.array(fc.nat(), { maxLength: 10 }),
    (ps, cuts) => {
      const stream = Buffer.concat(ps);
      let bytes = 0;
      for (const c of chunks(stream, cuts)) {
        const r = push(Buffer.from(c));
        bytes += r.bytes;
        if (r.broken) return; // no way to resynchronise H4: the stream is closed from here
      }
      // Nothing lost, nothing invented: whole packets out plus what waits for more bytes.
      if (buffered) expect(bytes + buffered()).toBe(stream.length);
      else expect(bytes).toBeLessThanOrEqual(stream.length);
    },
  );
}

describe("fuzzing the H4 splitters", () => {
  it(
    "the host side (src/radio/hci/h4.ts) yields whole packets or ADAPTER_UNAVAILABLE, whatever the chunking",
    () => {
      let parser = new H4Parser();
      const push = (c: Buffer) => {
        const out = typedOnly(
          () => parser.push(c),
          (e) => isOpenClawError(e) && e.code === "ADAPTER_UNAVAILABLE",
        );
        return { bytes: out?.reduce((n, p) => n + p.length, 0) ?? 0, broken: out === undefined };
      };
      fc.assert(
        splitterProperty(push, () => parser.buffered).beforeEach(() => {
          parser = new H4Parser();
        }),
        fcParams(1500, 15_000),
      );
    },
    limitMs(10_000),
  );
});

describe("fuzzing the air with hostile HCI traffic", () => {
  let dir: string;
  let path: string;
  let air: Air;
  let clock: ManualClock;
  let advertiser: H4TestClient;
  let advAddress: Buffer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ocp-fuzz-air-"));
    path = join(dir, "air.sock");
    clock = new ManualClock();
    air = new Air({ strictAtt: true, clock, seed: 11, log: () => {} });
    await air.listen({ path });
    advertiser = await H4TestClient.connect(path);
    await advertiser.init("fuzz-adv");
    advAddress = Buffer.from((await advertiser.command(OP.readBdAddr)).subarray(7, 13));
    await advertiser.command(OP.leSetAdvertisingParameters, params.advertising(20));
    await advertiser.command(
      OP.leSetAdvertisingData,
      params.data(Buffer.from("0201060709467a7a2d616476", "hex")),
    );
    await advertiser.command(OP.leSetAdvertiseEnable, Buffer.from([1]));
  });

  afterAll(async () => {
    await advertiser.close();
    await air.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const knownOps = Object.values(OP);
  const hostile = fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .tuple(fc.constantFrom(...knownOps), fc.uint8Array({ maxLength: 40 }))
        .map(([op, p]) => ({ kind: "cmd" as const, op, p })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 40 }))
        .map(([op, p]) => ({ kind: "cmd" as const, op, p })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 300 }))
        .map(([h, p]) => ({ kind: "acl" as const, h, p })),
    },
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 200 }).map((ms) => ({ kind: "time" as const, ms })) },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ minLength: 1, maxLength: 8 }).map((b) => ({ kind: "junk" as const, b })),
    },
    // A real connection to the advertiser, and ACL data on the handles a live link gets.
    { weight: 1, arbitrary: fc.constant({ kind: "connect" as const }) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.integer({ min: 0x40, max: 0x43 }),
          fc.integer({ min: 0, max: 3 }),
          fc.uint8Array({ maxLength: 60 }),
        )
        .map(([h, pb, p]) => ({ kind: "acl" as const, h: h | (pb << 12), p })),
    },
  );

  it(
    "random commands, ACL and junk never crash the air; a new client still works",
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(hostile, { minLength: 1, maxLength: 25 }), async (steps) => {
          // Advertising again (a connection in an earlier case stopped it), so this case can connect too.
          await advertiser.command(OP.leSetAdvertiseEnable, Buffer.from([1]));
          const c = await H4TestClient.connect(path);
          try {
            await c.init();
            // A scanner that may connect: some of the random commands then act on a live link.
            await c.command(OP.leSetScanParameters, params.scan(true));
            await c.command(OP.leSetScanEnable, Buffer.from([1, 0]));
            for (const s of steps) {
              if (s.kind === "cmd") c.sendCommand(s.op, Buffer.from(s.p));
              else if (s.kind === "acl") c.sendAcl(s.h & 0x0fff, (s.h >> 12) & 0x3, Buffer.from(s.p));
              else if (s.kind === "time") clock.advance(s.ms);
              else if (s.kind === "connect")
                c.sendCommand(OP.leCreateConnection, params.createConnection(advAddress));
              else c.write(Buffer.from(s.b));
            }
            clock.advance(50);
          } finally {
            await c.close();
          }
          // Still an air: a fresh controller answers (the socket round trip is the barrier).
          const fresh = await H4TestClient.connect(path);
          try {
            await fresh.init();
            const a = await fresh.command(OP.readBdAddr);
            expect(a.length).toBeGreaterThan(6);
          } finally {
            await fresh.close();
          }
          expect(() => air.counters()).not.toThrow();
        }),
        fcParams(40, 3000),
      );
    },
    limitMs(20_000),
  );
});
