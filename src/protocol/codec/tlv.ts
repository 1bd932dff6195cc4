/**
 * TLV: the one binary container every OpenClaw message body uses (info characteristic, pair-setup,
 * verify, session payloads). Item = tag (u8) | length (u16, big-endian) | value. Tags are unique within
 * a container and appear in ascending order, so an encoding is canonical (one message, one byte string),
 * which keeps transcripts and vectors reproducible.
 *
 * Decoding is strict: truncation, trailing bytes, duplicate or out-of-order tags and oversize input all
 * raise PROTOCOL_ERROR. Schema checks (which tags, which lengths) happen one level up, with zod.
 */
import { protocolError } from "../errors.js";

export type TlvItems = ReadonlyArray<readonly [tag: number, value: Uint8Array]>;

export const TLV_HEADER = 3;
export const TLV_MAX_VALUE = 0xffff;

export function encodeTlv(items: TlvItems): Uint8Array {
  const sorted = [...items].sort((a, b) => a[0] - b[0]);
  let size = 0;
  let prev = -1;
  for (const [tag, value] of sorted) {
    if (!Number.isInteger(tag) || tag < 0 || tag > 0xff) throw new RangeError(`TLV tag out of range: ${tag}`);
    if (tag === prev) throw new RangeError(`duplicate TLV tag ${tag}`);
    if (value.length > TLV_MAX_VALUE) throw new RangeError(`TLV value too long for tag ${tag}`);
    prev = tag;
    size += TLV_HEADER + value.length;
  }
  const out = new Uint8Array(size);
  let off = 0;
  for (const [tag, value] of sorted) {
    out[off] = tag;
    out[off + 1] = value.length >>> 8;
    out[off + 2] = value.length & 0xff;
    out.set(value, off + TLV_HEADER);
    off += TLV_HEADER + value.length;
  }
  return out;
}

export interface DecodeTlvOptions {
  /** Reject input longer than this many bytes before parsing it. */
  maxBytes?: number;
}

/** Decodes a TLV container into tag → value. Values are copies, never views into `buf`. */
export function decodeTlv(buf: Uint8Array, opts: DecodeTlvOptions = {}): Map<number, Uint8Array> {
  if (opts.maxBytes !== undefined && buf.length > opts.maxBytes) {
    throw protocolError(`message of ${buf.length} bytes exceeds the ${opts.maxBytes}-byte limit`);
  }
  const out = new Map<number, Uint8Array>();
  let off = 0;
  let prev = -1;
  while (off < buf.length) {
    if (buf.length - off < TLV_HEADER) throw protocolError("truncated TLV header");
    const tag = buf[off]!;
    const len = (buf[off + 1]! << 8) | buf[off + 2]!;
    off += TLV_HEADER;
    if (buf.length - off < len) throw protocolError(`truncated TLV value for tag ${tag}`);
    if (tag <= prev)
      throw protocolError(tag === prev ? `duplicate TLV tag ${tag}` : `TLV tag ${tag} out of order`);
    // Uint8Array.prototype.slice: on a Node Buffer (what noble and bleno hand us) .slice is a view.
    out.set(tag, Uint8Array.prototype.slice.call(buf, off, off + len));
    off += len;
    prev = tag;
  }
  return out;
}

// Fixed-width integers used inside TLV values (big-endian, as on the wire everywhere in OpenClaw).

export function u8(n: number): Uint8Array {
  return Uint8Array.of(n & 0xff);
}

export function u16(n: number): Uint8Array {
  return Uint8Array.of((n >>> 8) & 0xff, n & 0xff);
}

export function u32(n: number): Uint8Array {
  return Uint8Array.of((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/** Reads a big-endian unsigned integer of 1, 2 or 4 bytes; any other width is a protocol error. */
export function readUint(value: Uint8Array, what: string): number {
  switch (value.length) {
    case 1:
      return value[0]!;
    case 2:
      return (value[0]! << 8) | value[1]!;
    case 4:
      return ((value[0]! << 24) | (value[1]! << 16) | (value[2]! << 8) | value[3]!) >>> 0;
    default:
      throw protocolError(`${what}: integer of ${value.length} bytes`);
  }
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

export function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

export function readUtf8(value: Uint8Array, what: string): string {
  try {
    return utf8Decoder.decode(value);
  } catch {
    throw protocolError(`${what}: not valid UTF-8`);
  }
}
