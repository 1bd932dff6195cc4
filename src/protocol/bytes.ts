/**
 * Hex, the one way bytes become text in this project: ids and keys in state files, vectors, events and
 * logs of ids (never of secrets). Lower case out; either case in, where a person or another tool may
 * have written it.
 */
import { z } from "zod";

/** Lower-case hex of any byte view (a Buffer, or a subarray of a larger buffer, included). */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/** The bytes of a hex string (either case); a TypeError for odd length or a non-hex character. */
export function fromHex(hex: string): Uint8Array {
  if (!HEX.test(hex)) throw new TypeError("not a hex string");
  return new Uint8Array(Buffer.from(hex, "hex"));
}

/**
 * zod: a hex string as bytes. `lowercase` for files this project writes (its own output is lower case,
 * so an upper-case value means the file was edited or produced elsewhere); `bytes` for an exact length.
 */
export function hexBytes(opts: { lowercase?: boolean; bytes?: number } = {}) {
  const pattern = opts.lowercase ? /^(?:[0-9a-f]{2})*$/ : HEX;
  let text = z
    .string()
    .regex(pattern, opts.lowercase ? "must be a lowercase hex string" : "must be a hex string");
  if (opts.bytes !== undefined) text = text.length(opts.bytes * 2, `must be ${opts.bytes} bytes of hex`);
  return text.transform((s) => fromHex(s));
}
