import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isOpenClawError } from "../../src/protocol/errors.js";
import {
  answeredOpcode,
  commandPacket,
  H4Parser,
  PASS_ALL,
  parseHciFilter,
  passesHciFilter,
} from "../../src/radio/hci/h4.js";

const event = (code: number, params: number[]): Buffer => Buffer.from([0x04, code, params.length, ...params]);
const acl = (handle: number, payload: number[]): Buffer =>
  Buffer.from([
    0x02,
    handle & 0xff,
    (handle >> 8) | 0x20,
    payload.length & 0xff,
    payload.length >> 8,
    ...payload,
  ]);

/** Any well-formed H4 packet of the types a controller sends or receives. */
const packetArb = fc.oneof(
  fc
    .tuple(fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 255 }))
    .map(([op, p]) => commandPacket(op, p)),
  fc
    .tuple(fc.integer({ min: 0, max: 0xff }), fc.uint8Array({ maxLength: 255 }))
    .map(([c, p]) => event(c, [...p])),
  fc
    .tuple(fc.integer({ min: 0, max: 0xeff }), fc.uint8Array({ maxLength: 600 }))
    .map(([h, p]) => acl(h, [...p])),
);

describe("H4Parser", () => {
  it("reassembles packets however the stream splits and merges them", () => {
    fc.assert(
      fc.property(
        fc.array(packetArb, { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 64 })),
        (packets, cuts) => {
          const stream = Buffer.concat(packets);
          const parser = new H4Parser();
          const out: Buffer[] = [];
          let at = 0;
          let i = 0;
          while (at < stream.length) {
            const n = cuts.length === 0 ? stream.length : cuts[i++ % cuts.length]!;
            out.push(...parser.push(stream.subarray(at, at + n)));
            at += n;
          }
          expect(out.map((b) => b.toString("hex"))).toEqual(packets.map((b) => b.toString("hex")));
          expect(parser.buffered).toBe(0);
        },
      ),
    );
  });

  it("rejects a stream that is not H4 with ADAPTER_UNAVAILABLE", () => {
    const parser = new H4Parser();
    try {
      parser.push(Buffer.from("GET / HTTP/1.1\r\n"));
      expect.unreachable();
    } catch (err) {
      expect(isOpenClawError(err) && err.code).toBe("ADAPTER_UNAVAILABLE");
      expect(String(err)).toMatch(/unknown H4 packet type 0x47/);
    }
  });
});

describe("HCI filter (as the kernel applies it)", () => {
  // What noble sets: command, event and ACL packets; Disconnection Complete, Encryption Change,
  // Command Complete, Command Status, Number of Completed Packets and LE Meta events.
  const noble = Buffer.alloc(16);
  noble.writeUInt32LE((1 << 1) | (1 << 4) | (1 << 2), 0);
  noble.writeUInt32LE((1 << 0x05) | (1 << 0x08) | (1 << 0x0e) | (1 << 0x0f) | (1 << 0x13), 4);
  noble.writeUInt32LE(1 << (0x3e - 32), 8);
  const filter = parseHciFilter(noble, PASS_ALL);

  it("passes what the stacks asked for and drops the rest", () => {
    expect(passesHciFilter(filter, event(0x0e, [1, 0x03, 0x0c, 0]))).toBe(true);
    expect(passesHciFilter(filter, event(0x3e, [0x02, 1]))).toBe(true);
    expect(passesHciFilter(filter, event(0x13, [1, 0x40, 0, 1, 0]))).toBe(true);
    expect(passesHciFilter(filter, acl(0x40, [1, 2, 3]))).toBe(true);
    expect(passesHciFilter(filter, event(0x10, [0x01]))).toBe(false); // Hardware Error: not asked for
    expect(passesHciFilter(filter, Buffer.from([0x03, 0x40, 0x00, 0]))).toBe(false); // SCO
  });

  it("honours an opcode filter on Command Complete and Command Status", () => {
    const only = Buffer.from(noble);
    only.writeUInt16LE(0x0c03, 12);
    const f = parseHciFilter(only, PASS_ALL);
    expect(passesHciFilter(f, event(0x0e, [1, 0x03, 0x0c, 0]))).toBe(true);
    expect(passesHciFilter(f, event(0x0e, [1, 0x01, 0x10, 0]))).toBe(false);
    expect(passesHciFilter(f, event(0x0f, [0, 1, 0x0d, 0x20]))).toBe(false);
  });

  it("passes everything before a filter is set", () => {
    expect(passesHciFilter(PASS_ALL, event(0x10, [0x01]))).toBe(true);
  });

  it("finds which command an event answers", () => {
    expect(answeredOpcode(event(0x0e, [1, 0x01, 0xfc, 0x00]))).toEqual({ opcode: 0xfc01, status: 0 });
    expect(answeredOpcode(event(0x0f, [0x01, 1, 0x01, 0xfc]))).toEqual({ opcode: 0xfc01, status: 1 });
    expect(answeredOpcode(acl(1, [0]))).toBeUndefined();
  });
});
