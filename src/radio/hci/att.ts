/**
 * What a well-formed PDU looks like on the three fixed LE L2CAP channels the stacks parse: ATT (CID 4,
 * Core 5.4 Vol 3 Part F §3.4), LE signaling (CID 5, Vol 3 Part A §4) and SMP (CID 6, Vol 3 Part H §3.3).
 * Pure: the guard (guard.ts) decides what to do with a PDU that fails these checks.
 *
 * noble and bleno read fields with Buffer.readUInt16LE at fixed offsets and throw RangeError on a short
 * PDU, so anything that reaches them must have every fixed field its opcode declares.
 */

export const CID_ATT = 0x0004;
export const CID_LE_SIGNALING = 0x0005;
export const CID_SMP = 0x0006;

export const ATT_ERROR_RESPONSE = 0x01;
/** Error codes (Vol 3 Part F §3.4.1.1). */
export const ATT_INVALID_PDU = 0x04;
export const ATT_ATTRIBUTE_NOT_FOUND = 0x0a;
export const ATT_UNLIKELY_ERROR = 0x0e;

/**
 * What a PDU is for (the opcode's method type): a request expects a response, a command (bit 6 set)
 * and a notification expect nothing, an indication expects a confirmation.
 */
export type AttKind = "request" | "response" | "command" | "notification" | "indication" | "confirmation";

interface AttRule {
  name: string;
  kind: AttKind;
  /** Human text of the expected layout, for reports. */
  layout: string;
  valid(pdu: Uint8Array): boolean;
}

const exactly =
  (n: number) =>
  (p: Uint8Array): boolean =>
    p.length === n;
const atLeast =
  (n: number) =>
  (p: Uint8Array): boolean =>
    p.length >= n;
/** Two handles and a 16- or 128-bit UUID (Read By Type, Read By Group Type requests). */
const rangeAndUuid = (p: Uint8Array): boolean => p.length === 7 || p.length === 21;
/** A handle list: at least two handles (Read Multiple, Read Multiple Variable requests). */
const handleList = (p: Uint8Array): boolean => p.length >= 5 && (p.length - 1) % 2 === 0;
/** A list of equal-sized items after a length byte (Read By Type / Read By Group Type responses). */
const sizedList =
  (fits: (itemLength: number) => boolean) =>
  (p: Uint8Array): boolean => {
    if (p.length < 2) return false;
    const item = p[1]!;
    return fits(item) && p.length - 2 >= item && (p.length - 2) % item === 0;
  };
/** Find Information Response: format 1 = handle + UUID16, format 2 = handle + UUID128. */
const findInformation = (p: Uint8Array): boolean => {
  if (p.length < 2) return false;
  const item = p[1] === 0x01 ? 4 : p[1] === 0x02 ? 18 : 0;
  return item > 0 && p.length - 2 >= item && (p.length - 2) % item === 0;
};

const RULES = new Map<number, AttRule>([
  [0x01, { name: "Error Response", kind: "response", layout: "5 bytes", valid: exactly(5) }],
  [0x02, { name: "Exchange MTU Request", kind: "request", layout: "3 bytes", valid: exactly(3) }],
  [0x03, { name: "Exchange MTU Response", kind: "response", layout: "3 bytes", valid: exactly(3) }],
  [0x04, { name: "Find Information Request", kind: "request", layout: "5 bytes", valid: exactly(5) }],
  [
    0x05,
    {
      name: "Find Information Response",
      kind: "response",
      layout: "a format byte (1 or 2) and whole handle/UUID pairs",
      valid: findInformation,
    },
  ],
  [
    0x06,
    { name: "Find By Type Value Request", kind: "request", layout: "at least 7 bytes", valid: atLeast(7) },
  ],
  [
    0x07,
    {
      name: "Find By Type Value Response",
      kind: "response",
      layout: "whole 4-byte handle ranges",
      valid: (p) => p.length >= 5 && (p.length - 1) % 4 === 0,
    },
  ],
  [0x08, { name: "Read By Type Request", kind: "request", layout: "7 or 21 bytes", valid: rangeAndUuid }],
  [
    0x09,
    {
      name: "Read By Type Response",
      kind: "response",
      layout: "a length byte (at least 2) and whole handle/value pairs",
      valid: sizedList((n) => n >= 2),
    },
  ],
  [0x0a, { name: "Read Request", kind: "request", layout: "3 bytes", valid: exactly(3) }],
  [0x0b, { name: "Read Response", kind: "response", layout: "at least 1 byte", valid: atLeast(1) }],
  [0x0c, { name: "Read Blob Request", kind: "request", layout: "5 bytes", valid: exactly(5) }],
  [0x0d, { name: "Read Blob Response", kind: "response", layout: "at least 1 byte", valid: atLeast(1) }],
  [
    0x0e,
    { name: "Read Multiple Request", kind: "request", layout: "two or more handles", valid: handleList },
  ],
  [0x0f, { name: "Read Multiple Response", kind: "response", layout: "at least 1 byte", valid: atLeast(1) }],
  [
    0x10,
    { name: "Read By Group Type Request", kind: "request", layout: "7 or 21 bytes", valid: rangeAndUuid },
  ],
  [
    0x11,
    {
      name: "Read By Group Type Response",
      kind: "response",
      // GATT groups are services: their value is a 16- or 128-bit UUID (noble parses it as one).
      layout: "a length byte (6 or 20) and whole handle/end/UUID entries",
      valid: sizedList((n) => n === 6 || n === 20),
    },
  ],
  [0x12, { name: "Write Request", kind: "request", layout: "at least 3 bytes", valid: atLeast(3) }],
  [0x13, { name: "Write Response", kind: "response", layout: "1 byte", valid: exactly(1) }],
  [0x16, { name: "Prepare Write Request", kind: "request", layout: "at least 5 bytes", valid: atLeast(5) }],
  [0x17, { name: "Prepare Write Response", kind: "response", layout: "at least 5 bytes", valid: atLeast(5) }],
  [0x18, { name: "Execute Write Request", kind: "request", layout: "2 bytes", valid: exactly(2) }],
  [0x19, { name: "Execute Write Response", kind: "response", layout: "1 byte", valid: exactly(1) }],
  [
    0x1b,
    {
      name: "Handle Value Notification",
      kind: "notification",
      layout: "at least 3 bytes",
      valid: atLeast(3),
    },
  ],
  [
    0x1d,
    { name: "Handle Value Indication", kind: "indication", layout: "at least 3 bytes", valid: atLeast(3) },
  ],
  [0x1e, { name: "Handle Value Confirmation", kind: "confirmation", layout: "1 byte", valid: exactly(1) }],
  [
    0x20,
    {
      name: "Read Multiple Variable Request",
      kind: "request",
      layout: "two or more handles",
      valid: handleList,
    },
  ],
  [
    0x21,
    {
      name: "Read Multiple Variable Response",
      kind: "response",
      layout: "at least 1 byte",
      valid: atLeast(1),
    },
  ],
  [
    0x23,
    {
      name: "Multiple Handle Value Notification",
      kind: "notification",
      layout: "at least 5 bytes",
      valid: atLeast(5),
    },
  ],
  [0x52, { name: "Write Command", kind: "command", layout: "at least 3 bytes", valid: atLeast(3) }],
  [
    0xd2,
    {
      name: "Signed Write Command",
      kind: "command",
      layout: "at least 15 bytes (handle and signature)",
      valid: atLeast(15),
    },
  ],
]);

export type AttVerdict =
  | { ok: true }
  | { ok: false; opcode: number | undefined; kind: AttKind | "empty"; detail: string };

function hex8(n: number): string {
  return `0x${n.toString(16).padStart(2, "0")}`;
}

/**
 * Whether an ATT PDU has the layout its opcode declares. Unknown opcodes pass: the stacks answer them
 * (Request Not Supported) or ignore them, which is what the spec asks for.
 */
export function checkAttPdu(pdu: Uint8Array): AttVerdict {
  if (pdu.length === 0) return { ok: false, opcode: undefined, kind: "empty", detail: "an empty ATT PDU" };
  const opcode = pdu[0]!;
  const rule = RULES.get(opcode);
  if (!rule || rule.valid(pdu)) return { ok: true };
  return {
    ok: false,
    opcode,
    kind: rule.kind,
    detail: `a ${pdu.length}-byte ATT ${rule.name} (opcode ${hex8(opcode)}; expected ${rule.layout})`,
  };
}

/** The method type of an opcode, also for opcodes the table does not know (by the command bit). */
export function attKindOf(opcode: number): AttKind {
  return RULES.get(opcode)?.kind ?? ((opcode & 0x40) !== 0 ? "command" : "request");
}

/**
 * The request a response answers (responses are the request's opcode + 1), for turning a malformed
 * response into an Error Response for that request.
 */
export function requestOpcodeOf(responseOpcode: number): number | undefined {
  if (responseOpcode === ATT_ERROR_RESPONSE) return undefined;
  return RULES.get(responseOpcode)?.kind === "response" ? responseOpcode - 1 : undefined;
}

/** Error Response (Vol 3 Part F §3.4.1.1): the request opcode in error, the handle, the error code. */
export function attErrorResponse(requestOpcode: number, handle: number, code: number): Buffer {
  const b = Buffer.alloc(5);
  b.writeUInt8(ATT_ERROR_RESPONSE, 0);
  b.writeUInt8(requestOpcode & 0xff, 1);
  b.writeUInt16LE(handle & 0xffff, 2);
  b.writeUInt8(code, 4);
  return b;
}

/** SMP commands: code → exact length including the code (Vol 3 Part H §3.3, Table 3.1). */
const SMP_LENGTHS = new Map<number, [string, number]>([
  [0x01, ["Pairing Request", 7]],
  [0x02, ["Pairing Response", 7]],
  [0x03, ["Pairing Confirm", 17]],
  [0x04, ["Pairing Random", 17]],
  [0x05, ["Pairing Failed", 2]],
  [0x06, ["Encryption Information", 17]],
  [0x07, ["Central Identification", 11]],
  [0x08, ["Identity Information", 17]],
  [0x09, ["Identity Address Information", 8]],
  [0x0a, ["Signing Information", 17]],
  [0x0b, ["Security Request", 2]],
  [0x0c, ["Pairing Public Key", 65]],
  [0x0d, ["Pairing DHKey Check", 17]],
  [0x0e, ["Pairing Keypress Notification", 2]],
]);

/** A short detail when an SMP PDU is malformed, undefined when it is fine (unknown codes pass). */
export function checkSmpPdu(pdu: Uint8Array): string | undefined {
  if (pdu.length === 0) return "an empty SMP PDU";
  const known = SMP_LENGTHS.get(pdu[0]!);
  if (!known || pdu.length === known[1]) return undefined;
  return `a ${pdu.length}-byte SMP ${known[0]} (code ${hex8(pdu[0]!)}; expected ${known[1]} bytes)`;
}

/** LE signaling: fixed data lengths of the commands the stacks parse (Vol 3 Part A §4). */
const SIGNALING_LENGTHS = new Map<number, [string, number]>([
  [0x12, ["Connection Parameter Update Request", 8]],
  [0x13, ["Connection Parameter Update Response", 2]],
]);

/** A short detail when an LE signaling C-frame is malformed, undefined when it is fine. */
export function checkSignalingPdu(pdu: Uint8Array): string | undefined {
  if (pdu.length < 4) return `a ${pdu.length}-byte LE signaling frame (shorter than its 4-byte header)`;
  const b = Buffer.from(pdu.buffer, pdu.byteOffset, pdu.byteLength);
  const declared = b.readUInt16LE(2);
  if (declared !== pdu.length - 4) {
    return `an LE signaling command declaring ${declared} data bytes and carrying ${pdu.length - 4}`;
  }
  const known = SIGNALING_LENGTHS.get(pdu[0]!);
  if (known && declared !== known[1]) {
    return `an LE signaling ${known[0]} with ${declared} data bytes (expected ${known[1]})`;
  }
  return undefined;
}
