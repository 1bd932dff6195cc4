/**
 * H4 (UART transport) framing: every HCI packet is one packet-type byte followed by the packet. On a
 * byte stream packets arrive split and merged arbitrarily, so the parser reassembles them from the
 * length fields. The same bytes (type byte included) are what a raw kernel HCI socket delivers, which is
 * what noble and bleno parse.
 */
import { OpenClawError } from "../../protocol/errors.js";

export const H4_COMMAND = 0x01;
export const H4_ACL = 0x02;
export const H4_SCO = 0x03;
export const H4_EVENT = 0x04;
export const H4_ISO = 0x05;

export const EVT_CMD_COMPLETE = 0x0e;
export const EVT_CMD_STATUS = 0x0f;

/** Vendor command (OGF 0x3F, OCF 0x0001) naming this client to the virtual radio. */
export const OPCODE_SET_LABEL = 0xfc01;
/** Its status when another client holds the label (Command Disallowed); 0x12: not a valid label. */
export const SET_LABEL_IN_USE = 0x0c;

/** Header length after the type byte, and where its payload length sits. */
const LAYOUT: Record<number, { header: number; length: (h: Buffer) => number }> = {
  [H4_COMMAND]: { header: 3, length: (h) => h.readUInt8(2) },
  [H4_ACL]: { header: 4, length: (h) => h.readUInt16LE(2) },
  [H4_SCO]: { header: 3, length: (h) => h.readUInt8(2) },
  [H4_EVENT]: { header: 2, length: (h) => h.readUInt8(1) },
  [H4_ISO]: { header: 4, length: (h) => h.readUInt16LE(2) & 0x3fff },
};

/**
 * Reassembles whole H4 packets (type byte included) from arbitrary stream chunks: the one parser for
 * both ends of a stream (src/radio/hci/socket.ts on the host side, firmware-sim/air on the controller
 * side, and the test clients).
 */
export class H4Parser {
  private pending: Buffer = Buffer.alloc(0);

  /**
   * Every packet completed by this chunk, and `error` for a byte that cannot start a packet (the stream
   * is then unusable: H4 has no way to resynchronise; what is left is discarded).
   */
  feed(chunk: Uint8Array): { packets: Buffer[]; error?: string } {
    this.pending = this.pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.pending, chunk]);
    const packets: Buffer[] = [];
    let at = 0;
    for (;;) {
      const left = this.pending.length - at;
      if (left < 1) break;
      const type = this.pending.readUInt8(at);
      const layout = LAYOUT[type];
      if (!layout) {
        this.pending = Buffer.alloc(0);
        return { packets, error: `unknown H4 packet type 0x${type.toString(16).padStart(2, "0")}` };
      }
      if (left < 1 + layout.header) break;
      const total = 1 + layout.header + layout.length(this.pending.subarray(at + 1, at + 1 + layout.header));
      if (left < total) break;
      // Copy so a packet handed on never aliases bytes that are reused later.
      packets.push(Buffer.from(this.pending.subarray(at, at + total)));
      at += total;
    }
    this.pending = at === 0 ? this.pending : Buffer.from(this.pending.subarray(at));
    return { packets };
  }

  /** As feed(), for a host: throws ADAPTER_UNAVAILABLE on an unknown type byte. */
  push(chunk: Uint8Array): Buffer[] {
    const { packets, error } = this.feed(chunk);
    if (error !== undefined) {
      throw new OpenClawError("ADAPTER_UNAVAILABLE", {
        detail: `the HCI stream sent an ${error} (is it really an H4 HCI stream?)`,
        transport: "stream",
      });
    }
    return packets;
  }

  /** Bytes of a packet received only in part (0 between packets). */
  get buffered(): number {
    return this.pending.length;
  }
}

/** The kernel's `struct hci_filter` as bleno and noble set it with setsockopt(SOL_HCI, HCI_FILTER). */
export interface HciFilter {
  typeMask: number;
  eventMask: readonly [number, number];
  opcode: number;
}

/** Reads a filter the way the kernel does: a short buffer only overrides the fields it covers. */
export function parseHciFilter(data: Uint8Array, previous: HciFilter): HciFilter {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return {
    typeMask: b.length >= 4 ? b.readUInt32LE(0) : previous.typeMask,
    eventMask: [
      b.length >= 8 ? b.readUInt32LE(4) : previous.eventMask[0],
      b.length >= 12 ? b.readUInt32LE(8) : previous.eventMask[1],
    ],
    opcode: b.length >= 14 ? b.readUInt16LE(12) : previous.opcode,
  };
}

/** Before setFilter everything passes (the kernel would pass nothing, but both stacks set one first). */
export const PASS_ALL: HciFilter = { typeMask: 0xffffffff, eventMask: [0xffffffff, 0xffffffff], opcode: 0 };

/** Whether the kernel would deliver this H4 packet to a raw socket with this filter. */
export function passesHciFilter(filter: HciFilter, packet: Buffer): boolean {
  const type = packet.readUInt8(0) & 31;
  if (((filter.typeMask >>> type) & 1) === 0) return false;
  if (packet.readUInt8(0) !== H4_EVENT || packet.length < 2) return true;
  const event = packet.readUInt8(1) & 63;
  const word = filter.eventMask[event >> 5] ?? 0;
  if (((word >>> (event & 31)) & 1) === 0) return false;
  if (filter.opcode !== 0) {
    if (event === EVT_CMD_COMPLETE && packet.length >= 6 && packet.readUInt16LE(4) !== filter.opcode)
      return false;
    if (event === EVT_CMD_STATUS && packet.length >= 7 && packet.readUInt16LE(5) !== filter.opcode)
      return false;
  }
  return true;
}

/** The opcode a Command Complete / Command Status event answers, or undefined for other packets. */
export function answeredOpcode(packet: Buffer): { opcode: number; status: number } | undefined {
  if (packet.readUInt8(0) !== H4_EVENT || packet.length < 3) return undefined;
  const event = packet.readUInt8(1);
  // Command Complete: [04][0e][len][ncmd][opcode lo][opcode hi][status?...]
  if (event === EVT_CMD_COMPLETE && packet.length >= 6) {
    return { opcode: packet.readUInt16LE(4), status: packet.length >= 7 ? packet.readUInt8(6) : 0 };
  }
  // Command Status: [04][0f][len][status][ncmd][opcode lo][opcode hi]
  if (event === EVT_CMD_STATUS && packet.length >= 7) {
    return { opcode: packet.readUInt16LE(5), status: packet.readUInt8(3) };
  }
  return undefined;
}

/** Vendor event (0xFF) sub-code the virtual radio uses to announce power: params [0x01, 0 off | 1 on]. */
export const EVT_VENDOR = 0xff;
export const VENDOR_POWER = 0x01;

/** true/false for the virtual radio's power-on/off vendor event, undefined for any other packet. */
export function vendorPowerEvent(packet: Buffer): boolean | undefined {
  if (packet.length < 5 || packet.readUInt8(0) !== H4_EVENT || packet.readUInt8(1) !== EVT_VENDOR)
    return undefined;
  if (packet.readUInt8(3) !== VENDOR_POWER) return undefined;
  return packet.readUInt8(4) !== 0;
}

/** An H4 ACL data packet (boundary flag `pb`: 0b00 start, 0b01 continuation, 0b10 start, flushable). */
export function aclPacket(handle: number, pb: number, payload: Uint8Array): Buffer {
  const b = Buffer.alloc(5 + payload.length);
  b.writeUInt8(H4_ACL, 0);
  b.writeUInt16LE((handle & 0x0fff) | ((pb & 0x3) << 12), 1);
  b.writeUInt16LE(payload.length, 3);
  b.set(payload, 5);
  return b;
}

/** An L2CAP basic frame: length, channel id, payload. */
export function l2capFrame(cid: number, payload: Uint8Array): Buffer {
  const b = Buffer.alloc(4 + payload.length);
  b.writeUInt16LE(payload.length, 0);
  b.writeUInt16LE(cid, 2);
  b.set(payload, 4);
  return b;
}

/** An H4 command packet. */
export function commandPacket(opcode: number, params: Uint8Array = new Uint8Array(0)): Buffer {
  if (params.length > 255) throw new RangeError("HCI command parameters are at most 255 bytes");
  const b = Buffer.alloc(4 + params.length);
  b.writeUInt8(H4_COMMAND, 0);
  b.writeUInt16LE(opcode, 1);
  b.writeUInt8(params.length, 3);
  b.set(params, 4);
  return b;
}
