import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EVT, H4Parser, LE_EVT, OP } from "../../firmware-sim/air/hci.js";
import { Air, type Violation } from "../../firmware-sim/air/index.js";
import { DelayLine, L2capReassembler } from "../../firmware-sim/air/link.js";
import { H4TestClient, isEvent, isLeMeta, params } from "../../firmware-sim/air/test-client.js";
import { ManualClock } from "../../src/clock/index.js";

/** Host-side reassembly the way noble and bleno do it: starts must be 0b10, continuations 0b01. */
function reassemble(packets: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let cur: { want: number; data: Buffer } | undefined;
  for (const p of packets) {
    const pb = p.readUInt16LE(1) >> 12;
    const body = p.subarray(5);
    if (pb === 0b10) cur = { want: body.readUInt16LE(0) + 4, data: body };
    else if (pb === 0b01 && cur) cur.data = Buffer.concat([cur.data, body]);
    else throw new Error(`boundary flag ${pb} a stack would drop`);
    if (cur && cur.data.length === cur.want) {
      out.push(cur.data);
      cur = undefined;
    }
  }
  return out;
}

describe("air: properties", () => {
  it("H4 framing does not depend on how the stream is chunked", () => {
    const packet = fc.oneof(
      fc
        .uint8Array({ maxLength: 255 })
        .map((b) => Buffer.concat([Buffer.from([0x01, 0x03, 0x0c, b.length]), b])),
      fc.uint8Array({ maxLength: 300 }).map((b) => {
        const h = Buffer.from([0x02, 0x40, 0x00, 0, 0]);
        h.writeUInt16LE(b.length, 3);
        return Buffer.concat([h, b]);
      }),
      fc.uint8Array({ maxLength: 255 }).map((b) => Buffer.concat([Buffer.from([0x04, 0x0e, b.length]), b])),
    );
    fc.assert(
      fc.property(
        fc.array(packet, { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (packets, cuts) => {
          const stream = Buffer.concat(packets);
          const points = [...new Set(cuts.map((c) => (stream.length ? c % stream.length : 0)))].sort(
            (a, b) => a - b,
          );
          const parser = new H4Parser();
          const got: Buffer[] = [];
          let last = 0;
          for (const p of [...points, stream.length]) {
            const r = parser.feed(stream.subarray(last, p));
            expect(r.error).toBeUndefined();
            got.push(...r.packets);
            last = p;
          }
          expect(got).toEqual(packets);
        },
      ),
    );
  });

  it("the L2CAP watcher finds every PDU whatever the fragmentation", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 400 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 64 }),
        (payloads, frag) => {
          const r = new L2capReassembler();
          const seen: Buffer[] = [];
          for (const pl of payloads) {
            const pdu = Buffer.concat([Buffer.from([pl.length & 0xff, pl.length >> 8, 0x04, 0x00]), pl]);
            for (let off = 0; off < pdu.length; off += frag) {
              for (const x of r.push(off === 0, pdu.subarray(off, off + frag)))
                seen.push(Buffer.from(x.payload));
            }
          }
          expect(seen).toEqual(payloads.map((p) => Buffer.from(p)));
        },
      ),
    );
  });

  it("a delay line keeps order whatever the delays", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 30 }), (delays) => {
        const timers = new ManualClock();
        const line = new DelayLine(timers);
        const out: number[] = [];
        delays.forEach((d, i) => {
          line.push(d, () => out.push(i));
        });
        timers.advance(1000);
        expect(out).toEqual(delays.map((_, i) => i));
      }),
    );
  });

  it("routes any L2CAP traffic intact, in order, with one completion per host packet and no violations", async () => {
    const dir = mkdtempSync(join(tmpdir(), "air-"));
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 0, max: 600 }), { minLength: 1, maxLength: 12 }),
          fc.integer({ min: 27, max: 251 }),
          fc.integer({ min: 27, max: 251 }),
          fc.integer({ min: 1, max: 8 }),
          fc.integer({ min: 1, max: 8 }),
          async (sizes, hostFrag, llPayload, perEvent, bufCount) => {
            const timers = new ManualClock();
            const path = join(dir, "air.sock");
            const air = new Air({
              clock: timers,
              defaults: {
                aclBuffers: { length: hostFrag, count: bufCount },
                llPayloadBytes: llPayload,
                packetsPerEvent: perEvent,
              },
            });
            const violations: Violation[] = [];
            air.on("violation", (v: Violation) => violations.push(v));
            await air.listen({ path });
            const a = await H4TestClient.connect(path);
            const b = await H4TestClient.connect(path);
            try {
              await a.init("a");
              await b.init("b");
              await b.command(OP.leSetAdvertisingParameters, params.advertising(20));
              await b.command(OP.leSetAdvertiseEnable, Buffer.from([1]));
              const addr = Buffer.from((await b.command(OP.readBdAddr)).subarray(7, 13));
              await a.command(OP.leCreateConnection, params.createConnection(addr, 6));
              const done = a.next((p) => isLeMeta(p, LE_EVT.connectionComplete));
              timers.advance(40);
              const handle = (await done).readUInt16LE(5);
              b.take();
              a.take();

              // a host that respects the buffer count: send, wait for completions, send more
              const pdus = sizes.map((n, i) =>
                Buffer.concat([Buffer.from([n & 0xff, n >> 8, 0x40, 0x00]), Buffer.alloc(n, i & 0xff)]),
              );
              const frags: Array<{ pb: number; data: Buffer }> = [];
              for (const pdu of pdus) {
                for (let off = 0; off < pdu.length; off += hostFrag) {
                  frags.push({ pb: off === 0 ? 0b00 : 0b01, data: pdu.subarray(off, off + hostFrag) });
                }
              }
              let inFlight = 0;
              let completedTotal = 0;
              let next = 0;
              const received: Buffer[] = [];
              for (let guard = 0; guard < 2000 && (next < frags.length || inFlight > 0); guard++) {
                while (next < frags.length && inFlight < bufCount) {
                  const f = frags[next++]!;
                  a.sendAcl(handle, f.pb, f.data);
                  inFlight++;
                }
                await a.sync();
                timers.advance(7.5);
                await a.sync();
                await b.sync();
                for (const p of a.take()) {
                  if (isEvent(p, EVT.numberOfCompletedPackets)) {
                    inFlight -= p.readUInt16LE(6);
                    completedTotal += p.readUInt16LE(6);
                  }
                }
                received.push(...b.take().filter((p) => p[0] === 0x02));
              }
              expect(completedTotal).toBe(frags.length);
              expect(reassemble(received)).toEqual(pdus);
              expect(received.every((p) => p.readUInt16LE(3) <= llPayload)).toBe(true);
              expect(violations).toEqual([]);
            } finally {
              await a.close();
              await b.close();
              await air.close();
            }
          },
        ),
        { numRuns: 15 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
