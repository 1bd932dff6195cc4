/**
 * The host guard between the controller and a stack (src/radio/hci/guard.ts): what a malformed PDU from
 * a peer turns into, that the guard's own packets never disturb the stack's buffer accounting, and that
 * an exception the stack throws is contained, reported and ends only that link.
 */
import { createRequire } from "node:module";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkAttPdu, checkSignalingPdu, checkSmpPdu } from "../../src/radio/hci/att.js";
import { HostGuard } from "../../src/radio/hci/guard.js";
import { aclPacket as acl, l2capFrame } from "../../src/radio/hci/h4.js";
import type { HciReport } from "../../src/radio/hci/reports.js";

const H = 0x0040;

const l2cap = (cid: number, pdu: Buffer | string): Buffer =>
  l2capFrame(cid, typeof pdu === "string" ? Buffer.from(pdu, "hex") : pdu);

const att = (pdu: string, handle = H): Buffer => acl(handle, 0b10, l2cap(4, pdu));

function nocp(...entries: Array<[number, number]>): Buffer {
  const p = Buffer.alloc(1 + 4 * entries.length);
  p.writeUInt8(entries.length, 0);
  entries.forEach(([h, n], i) => {
    p.writeUInt16LE(h, 1 + 4 * i);
    p.writeUInt16LE(n, 3 + 4 * i);
  });
  return Buffer.concat([Buffer.from([0x04, 0x13, p.length]), p]);
}

function setup() {
  const toController: Buffer[] = [];
  const reports: HciReport[] = [];
  const guard = new HostGuard({ toController: (p) => toController.push(p), report: (r) => reports.push(r) });
  return { guard, toController, reports };
}

/** The ATT payload of an ACL packet the guard wrote (header 5 + L2CAP 4). */
const attOf = (p: Buffer): string => p.subarray(9).toString("hex");

describe("HostGuard: malformed PDUs from the peer", () => {
  it("answers a truncated request with Error Response Invalid PDU, handle 0, and hides it from the stack", () => {
    const { guard, toController, reports } = setup();
    expect(guard.fromController(att("0a01"))).toBeUndefined();
    expect(toController.map(attOf)).toEqual(["010a000004"]);
    expect(toController[0]!.readUInt16LE(1) & 0x0fff).toBe(H);
    expect(reports).toEqual([
      expect.objectContaining({
        kind: "malformed",
        handle: H,
        action: "answered",
        error: expect.objectContaining({ code: "PROTOCOL_ERROR" }),
      }),
    ]);
    expect(reports[0]!.error.message).toContain("2-byte ATT Read Request");
  });

  it("drops truncated commands, notifications, indications and confirmations without answering", () => {
    const { guard, toController, reports } = setup();
    for (const pdu of ["52", "5201", "1b", "1b01", "1d", "1d03", "1e00", "d20100"])
      expect(guard.fromController(att(pdu))).toBeUndefined();
    expect(toController).toEqual([]);
    expect(reports.map((r) => r.kind === "malformed" && r.action)).toEqual(Array(8).fill("dropped"));
  });

  it("turns a malformed response into an Error Response for the stack's request (it fails at once)", () => {
    const { guard, toController, reports } = setup();
    const out = guard.fromController(att("03"));
    expect(out && attOf(out)).toBe("010200000e");
    expect(toController).toEqual([]);
    expect(reports[0]).toMatchObject({ kind: "malformed", action: "failed" });
    // A short Error Response names its request when it can.
    const err = guard.fromController(att("010a"));
    expect(err && attOf(err)).toBe("010a00000e");
  });

  it("passes well-formed PDUs untouched and unknown opcodes through (the stack answers those)", () => {
    const { guard, reports } = setup();
    for (const pdu of ["0a0100", "1b0300c0ffee", "031700", "ff", "5303"]) {
      const p = att(pdu);
      expect(guard.fromController(p)).toBe(p);
    }
    expect(reports).toEqual([]);
  });

  it("reassembles a frame whose L2CAP header is split, and hands the stack one start packet", () => {
    const { guard } = setup();
    const frame = l2cap(4, "1b0300c0ffee");
    expect(guard.fromController(acl(H, 0b10, frame.subarray(0, 2)))).toBeUndefined();
    expect(guard.fromController(acl(H, 0b01, frame.subarray(2, 7)))).toBeUndefined();
    const out = guard.fromController(acl(H, 0b01, frame.subarray(7)));
    expect(out?.toString("hex")).toBe(acl(H, 0b10, frame).toString("hex"));
  });

  it("drops continuations without a start, over-long frames and the reserved boundary flag", () => {
    const { guard, reports } = setup();
    expect(guard.fromController(acl(H, 0b01, Buffer.from("0a0100", "hex")))).toBeUndefined();
    expect(guard.fromController(acl(H, 0b10, Buffer.from("0100040052aa", "hex")))).toBeUndefined();
    expect(guard.fromController(acl(H, 0b11, l2cap(4, "0a0100")))).toBeUndefined();
    expect(reports.map((r) => r.error.message)).toEqual([
      expect.stringContaining("continuation without a start"),
      expect.stringContaining("L2CAP frame of 6 bytes declaring 5"),
      expect.stringContaining("reserved boundary flag"),
    ]);
  });

  it("drops malformed SMP and LE signaling PDUs", () => {
    const { guard, reports } = setup();
    for (const f of [l2cap(6, ""), l2cap(6, "01"), l2cap(5, "12010800"), l2cap(5, "1201040001000200")])
      expect(guard.fromController(acl(H, 0b10, f))).toBeUndefined();
    expect(reports).toHaveLength(4);
    const ok = acl(H, 0b10, l2cap(5, "120108000600060000006400"));
    expect(guard.fromController(ok)).toBe(ok);
  });
});

describe("HostGuard: its own packets stay out of the stack's accounting", () => {
  it("takes its answers out of Number Of Completed Packets", () => {
    const { guard } = setup();
    guard.fromHost(att("0b00")); // the stack's packet
    guard.fromController(att("0a")); // the guard answers: its packet is in flight after the stack's
    expect(guard.inFlight(H)).toBe(2);
    expect(guard.fromController(nocp([H, 1]))?.toString("hex")).toBe(nocp([H, 1]).toString("hex"));
    expect(guard.fromController(nocp([H, 1]))).toBeUndefined(); // only the guard's: nothing for the stack
    guard.fromHost(att("0b00"));
    guard.fromController(att("0a"));
    guard.fromHost(att("0b00"));
    expect(guard.fromController(nocp([H, 3]))?.toString("hex")).toBe(nocp([H, 2]).toString("hex"));
  });

  it("waits for a free controller buffer before sending an answer", () => {
    const { guard, toController } = setup();
    // LE Read Buffer Size: 27 bytes x 1 buffer.
    guard.fromController(Buffer.from([0x04, 0x0e, 0x07, 0x01, 0x02, 0x20, 0x00, 0x1b, 0x00, 0x01]));
    guard.fromHost(att("0b00"));
    guard.fromController(att("0a"));
    expect(toController).toEqual([]);
    guard.fromController(nocp([H, 1]));
    expect(toController.map(attOf)).toEqual(["010a000004"]);
  });
});

describe("HostGuard: what the stack throws is contained", () => {
  it("reports INTERNAL, disconnects that link, drops its later data and hides the Disconnect's status", () => {
    const { guard, toController, reports } = setup();
    const packet = att("0a0100");
    expect(() =>
      guard.deliver(packet, () => {
        throw new RangeError('The value of "offset" is out of range.');
      }),
    ).not.toThrow();
    expect(reports).toEqual([expect.objectContaining({ kind: "stack-threw", handle: H })]);
    expect(reports[0]!.error.code).toBe("INTERNAL");
    expect(reports[0]!.error.message).toContain("RangeError");
    expect(reports[0]!.error.message).toContain("link 0x40 was disconnected");
    expect(toController.map((p) => p.toString("hex"))).toEqual(["01060403400013"]);
    expect(guard.fromController(att("0a0100"))).toBeUndefined();
    expect(guard.fromController(Buffer.from("040f0400010604", "hex"))).toBeUndefined();
    // The link ends; a new one on the same handle is served again.
    const done = Buffer.from("04050400400013", "hex");
    expect(guard.fromController(done)).toBe(done);
    const p = att("0a0100");
    expect(guard.fromController(p)).toBe(p);
  });

  it("contains a throw on an event too (no link to drop)", () => {
    const { guard, toController, reports } = setup();
    guard.deliver(Buffer.from("043e0102", "hex"), () => {
      throw new TypeError("boom");
    });
    expect(reports.map((r) => r.kind)).toEqual(["stack-threw"]);
    expect(toController).toEqual([]);
  });
});

// ---- the real parsers: nothing the checks let through makes them throw --------------------------------

interface FakeAclStream {
  written: Buffer[];
  on(event: string, fn: (...a: unknown[]) => void): void;
  removeListener(): void;
  write(cid: number, data: Buffer): void;
  encrypt(): void;
}

function fakeAclStream(): FakeAclStream {
  const s: FakeAclStream = {
    written: [],
    on: () => {},
    removeListener: () => {},
    write: (_cid, data) => s.written.push(data),
    encrypt: () => {},
  };
  return s;
}

const require = createRequire(import.meta.url);

describe("behind the guard, the real parsers never throw (fuzzed with every opcode they parse)", () => {
  it("bleno's GATT server, behind the guard, handles whatever a central sends", () => {
    const BlenoGatt = require("@abandonware/bleno/lib/hci-socket/gatt.js") as new () => {
      setAclStream(s: FakeAclStream): void;
      onAclStreamData(cid: number, data: Buffer): void;
    };
    const request = fc
      .tuple(
        fc.constantFrom(
          0x02,
          0x04,
          0x06,
          0x08,
          0x0a,
          0x0c,
          0x0e,
          0x10,
          0x12,
          0x16,
          0x18,
          0x1e,
          0x52,
          0xd2,
          0x01,
          0x03,
        ),
        fc.uint8Array({ maxLength: 24 }),
      )
      .map(([op, rest]) => Buffer.concat([Buffer.from([op]), rest]));
    fc.assert(
      fc.property(fc.array(request, { minLength: 1, maxLength: 8 }), (pdus) => {
        const guard = new HostGuard({ toController: () => {}, report: () => {} });
        const gatt = new BlenoGatt();
        const stream = fakeAclStream();
        stream.write = (cid, data) => guard.fromHost(acl(H, 0b00, l2cap(cid, data)));
        gatt.setAclStream(stream);
        for (const pdu of pdus) {
          const out = guard.fromController(att(pdu.toString("hex")));
          if (out) gatt.onAclStreamData(4, out.subarray(9));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("noble's GATT client, behind the guard, handles whatever a device answers", () => {
    const NobleGatt = require("@abandonware/noble/lib/hci-socket/gatt.js") as new (
      address: string,
      stream: FakeAclStream,
    ) => Record<string, unknown> & { onAclStreamData(cid: number, data: Buffer): void };
    const starts: Array<(g: Record<string, (...a: unknown[]) => void>) => void> = [
      (g) => g.exchangeMtu!(),
      (g) => g.discoverServices!([]),
      (g) => g.discoverIncludedServices!("1800", []),
      (g) => g.discoverCharacteristics!("1800", []),
      (g) => g.read!("1800", "2a00"),
      (g) => g.discoverDescriptors!("1800", "2a00"),
      (g) => g.readValue!("1800", "2a00", "2902"),
      (g) => g.write!("1800", "2a00", Buffer.alloc(4), false),
    ];
    const answer = fc
      .tuple(
        fc.constantFrom(
          0x01,
          0x03,
          0x05,
          0x07,
          0x09,
          0x0b,
          0x0d,
          0x0f,
          0x11,
          0x13,
          0x17,
          0x19,
          0x1b,
          0x1d,
          0x02,
          0x0a,
        ),
        fc.uint8Array({ maxLength: 30 }),
      )
      .map(([op, rest]) => Buffer.concat([Buffer.from([op]), rest]));
    fc.assert(
      fc.property(
        fc.constantFrom(...starts),
        fc.array(answer, { minLength: 1, maxLength: 4 }),
        (start, pdus) => {
          const guard = new HostGuard({ toController: () => {}, report: () => {} });
          const stream = fakeAclStream();
          stream.write = (cid, data) => guard.fromHost(acl(H, 0b00, l2cap(cid, data)));
          const g = new NobleGatt("aa:bb:cc:dd:ee:ff", stream);
          g["_services"] = { "1800": { uuid: "1800", startHandle: 1, endHandle: 5 } };
          g["_characteristics"] = {
            "1800": { "2a00": { uuid: "2a00", startHandle: 2, valueHandle: 3, endHandle: 5 } },
          };
          g["_descriptors"] = { "1800": { "2a00": { "2902": { uuid: "2902", handle: 4 } } } };
          start(g as unknown as Record<string, (...a: unknown[]) => void>);
          for (const pdu of pdus) {
            const out = guard.fromController(att(pdu.toString("hex")));
            if (out) g.onAclStreamData(4, out.subarray(9));
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("the checks refuse every strict prefix of the valid PDUs the stacks read at fixed offsets", () => {
    for (const pdu of ["021700", "040100ffff", "060100ffff0028", "080100ffff0328", "0a0100", "0c01000000"]) {
      const b = Buffer.from(pdu, "hex");
      for (let n = 0; n < b.length; n++) expect(checkAttPdu(b.subarray(0, n)).ok).toBe(false);
      expect(checkAttPdu(b).ok).toBe(true);
    }
    expect(checkSmpPdu(Buffer.from("01030001100001", "hex"))).toBeUndefined();
    expect(checkSmpPdu(Buffer.from("010300", "hex"))).toMatch(/Pairing Request/);
    expect(checkSignalingPdu(Buffer.from("1201", "hex"))).toMatch(/header/);
  });
});
