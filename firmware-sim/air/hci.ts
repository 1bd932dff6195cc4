/**
 * The packet layouts the air speaks (Bluetooth Core 5.x, Vol 4 Part E). Only the
 * subset noble and bleno use, plus what a test client needs to decode the air's answers.
 */

export const H4 = { command: 0x01, acl: 0x02, sco: 0x03, event: 0x04, iso: 0x05 } as const;

/** ACL packet-boundary flags (bits 12-13 of the handle field). */
export const PB = { startNoFlush: 0b00, continuation: 0b01, start: 0b10 } as const;

export const EVT = {
  disconnectionComplete: 0x05,
  commandComplete: 0x0e,
  commandStatus: 0x0f,
  hardwareError: 0x10,
  numberOfCompletedPackets: 0x13,
  leMeta: 0x3e,
  vendor: 0xff,
} as const;

export const LE_EVT = {
  connectionComplete: 0x01,
  advertisingReport: 0x02,
  connectionUpdateComplete: 0x03,
} as const;

/** Advertising report event types (LE Advertising Report, Event_Type). */
export const REPORT = {
  advInd: 0x00,
  advDirectInd: 0x01,
  advScanInd: 0x02,
  advNonconnInd: 0x03,
  scanRsp: 0x04,
};

export const STATUS = {
  success: 0x00,
  unknownCommand: 0x01,
  unknownConnection: 0x02,
  hardwareFailure: 0x03,
  connectionTimeout: 0x08,
  commandDisallowed: 0x0c,
  invalidParameters: 0x12,
  remoteUserTerminated: 0x13,
  localHostTerminated: 0x16,
  unsupportedFeature: 0x11,
} as const;

export function opcode(ogf: number, ocf: number): number {
  return ((ogf & 0x3f) << 10) | (ocf & 0x3ff);
}

export const OP = {
  disconnect: opcode(0x01, 0x0006),
  setEventMask: opcode(0x03, 0x0001),
  reset: opcode(0x03, 0x0003),
  readLeHostSupported: opcode(0x03, 0x006c),
  writeLeHostSupported: opcode(0x03, 0x006d),
  readLocalVersion: opcode(0x04, 0x0001),
  readLocalSupportedCommands: opcode(0x04, 0x0002),
  readLocalSupportedFeatures: opcode(0x04, 0x0003),
  readBufferSize: opcode(0x04, 0x0005),
  readBdAddr: opcode(0x04, 0x0009),
  readRssi: opcode(0x05, 0x0005),
  leSetEventMask: opcode(0x08, 0x0001),
  leReadBufferSize: opcode(0x08, 0x0002),
  leReadLocalSupportedFeatures: opcode(0x08, 0x0003),
  leSetRandomAddress: opcode(0x08, 0x0005),
  leSetAdvertisingParameters: opcode(0x08, 0x0006),
  leReadAdvertisingTxPower: opcode(0x08, 0x0007),
  leSetAdvertisingData: opcode(0x08, 0x0008),
  leSetScanResponseData: opcode(0x08, 0x0009),
  leSetAdvertiseEnable: opcode(0x08, 0x000a),
  leSetScanParameters: opcode(0x08, 0x000b),
  leSetScanEnable: opcode(0x08, 0x000c),
  leCreateConnection: opcode(0x08, 0x000d),
  leCreateConnectionCancel: opcode(0x08, 0x000e),
  leReadWhiteListSize: opcode(0x08, 0x000f),
  leClearWhiteList: opcode(0x08, 0x0010),
  leConnectionUpdate: opcode(0x08, 0x0013),
  leRand: opcode(0x08, 0x0018),
  leLtkNegativeReply: opcode(0x08, 0x001b),
  leReadSupportedStates: opcode(0x08, 0x001c),
  vendorSetLabel: opcode(0x3f, 0x0001),
} as const;

/** The one H4 stream parser and packet builders (shared with the host side). */
export { aclPacket, H4Parser, l2capFrame } from "../../src/radio/hci/h4.js";

export function eventPacket(code: number, params: Buffer): Buffer {
  if (params.length > 255) throw new RangeError("HCI event parameters exceed 255 bytes");
  return Buffer.concat([Buffer.from([H4.event, code, params.length]), params]);
}

export function commandComplete(op: number, status: number, ret: Buffer = Buffer.alloc(0)): Buffer {
  const p = Buffer.alloc(4 + ret.length);
  p.writeUInt8(1, 0); // Num_HCI_Command_Packets: the host may send one more
  p.writeUInt16LE(op, 1);
  p.writeUInt8(status, 3);
  ret.copy(p, 4);
  return eventPacket(EVT.commandComplete, p);
}

export function commandStatus(op: number, status: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt8(status, 0);
  p.writeUInt8(1, 1);
  p.writeUInt16LE(op, 2);
  return eventPacket(EVT.commandStatus, p);
}

export function leMeta(sub: number, params: Buffer): Buffer {
  return eventPacket(EVT.leMeta, Buffer.concat([Buffer.from([sub]), params]));
}

export function disconnectionComplete(handle: number, reason: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt8(STATUS.success, 0);
  p.writeUInt16LE(handle, 1);
  p.writeUInt8(reason, 3);
  return eventPacket(EVT.disconnectionComplete, p);
}

export function numberOfCompletedPackets(entries: ReadonlyArray<{ handle: number; count: number }>): Buffer {
  const p = Buffer.alloc(1 + 4 * entries.length);
  p.writeUInt8(entries.length, 0);
  entries.forEach((e, i) => {
    p.writeUInt16LE(e.handle, 1 + 4 * i);
    p.writeUInt16LE(e.count, 3 + 4 * i);
  });
  return eventPacket(EVT.numberOfCompletedPackets, p);
}

export interface ConnParams {
  /** Connection interval in 1.25 ms units. */
  interval: number;
  latency: number;
  /** Supervision timeout in 10 ms units. */
  timeout: number;
}

export function leConnectionComplete(o: {
  status: number;
  handle: number;
  role: "central" | "peripheral";
  peerAddressType: number;
  peerAddress: Buffer;
  params: ConnParams;
}): Buffer {
  const p = Buffer.alloc(18);
  p.writeUInt8(o.status, 0);
  p.writeUInt16LE(o.handle, 1);
  p.writeUInt8(o.role === "central" ? 0x00 : 0x01, 3);
  p.writeUInt8(o.peerAddressType, 4);
  o.peerAddress.copy(p, 5, 0, 6);
  p.writeUInt16LE(o.params.interval, 11);
  p.writeUInt16LE(o.params.latency, 13);
  p.writeUInt16LE(o.params.timeout, 15);
  p.writeUInt8(0x00, 17); // central clock accuracy 500 ppm
  return leMeta(LE_EVT.connectionComplete, p);
}

export function leConnectionUpdateComplete(status: number, handle: number, params: ConnParams): Buffer {
  const p = Buffer.alloc(9);
  p.writeUInt8(status, 0);
  p.writeUInt16LE(handle, 1);
  p.writeUInt16LE(params.interval, 3);
  p.writeUInt16LE(params.latency, 5);
  p.writeUInt16LE(params.timeout, 7);
  return leMeta(LE_EVT.connectionUpdateComplete, p);
}

export function leAdvertisingReport(o: {
  type: number;
  addressType: number;
  address: Buffer;
  data: Buffer;
  rssi: number;
}): Buffer {
  const p = Buffer.alloc(11 + o.data.length);
  p.writeUInt8(1, 0);
  p.writeUInt8(o.type, 1);
  p.writeUInt8(o.addressType, 2);
  o.address.copy(p, 3, 0, 6);
  p.writeUInt8(o.data.length, 9);
  o.data.copy(p, 10);
  p.writeInt8(Math.max(-127, Math.min(20, Math.round(o.rssi))), 10 + o.data.length);
  return leMeta(LE_EVT.advertisingReport, p);
}

/** BD_ADDR as the stacks print it ("aa:bb:cc:dd:ee:ff"); on the wire it is little-endian. */
export function addressToString(le: Buffer): string {
  return Array.from(le.subarray(0, 6))
    .reverse()
    .map((b) => b.toString(16).padStart(2, "0"))
    .join(":");
}

export function addressFromString(s: string): Buffer {
  const hex = s.replace(/[:-]/g, "");
  if (!/^[0-9a-fA-F]{12}$/.test(hex)) throw new RangeError(`not a Bluetooth address: ${s}`);
  return Buffer.from(hex, "hex").reverse();
}
