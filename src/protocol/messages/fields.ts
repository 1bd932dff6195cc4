/**
 * Maps TLV items to named fields and back, by a per-message table. Only the shape of each value is
 * checked here (integer widths, UTF-8); lengths, ranges and required fields are the zod schemas' job.
 * A tag the table does not name is a protocol error: the set of fields is closed, like the set of types.
 */
import { decodeTlv, readUint, readUtf8, type TlvItems, u8, u16, u32, utf8 } from "../codec/tlv.js";
import { isOpenClawError, protocolError } from "../errors.js";

export type FieldKind = "bytes" | "u8" | "u16" | "u32" | "utf8";

export interface FieldSpec {
  readonly tag: number;
  readonly key: string;
  readonly kind: FieldKind;
}

const WIDTH: Partial<Record<FieldKind, number>> = { u8: 1, u16: 2, u32: 4 };

/** decodeTlv whose errors say what was being read ("info: truncated TLV ...", "PairSetupDone: ..."). */
export function decodeTlvOf(body: Uint8Array, what: string, maxBytes: number): ReturnType<typeof decodeTlv> {
  try {
    return decodeTlv(body, { maxBytes });
  } catch (err) {
    if (isOpenClawError(err) && err.is("PROTOCOL_ERROR"))
      throw protocolError(`${what}: ${err.details.detail}`);
    throw err;
  }
}

export function readFields(
  body: Uint8Array,
  fields: readonly FieldSpec[],
  what: string,
  maxBytes: number,
): Record<string, unknown> {
  const items = decodeTlvOf(body, what, maxBytes);
  const out: Record<string, unknown> = {};
  for (const [tag, value] of items) {
    const spec = fields.find((f) => f.tag === tag);
    if (!spec) throw protocolError(`${what}: unexpected field ${tag}`);
    const width = WIDTH[spec.kind];
    if (width !== undefined) {
      if (value.length !== width) throw protocolError(`${what}: ${spec.key} must be ${width} byte(s)`);
      out[spec.key] = readUint(value, `${what}.${spec.key}`);
    } else if (spec.kind === "utf8") {
      out[spec.key] = readUtf8(value, `${what}.${spec.key}`);
    } else {
      out[spec.key] = value;
    }
  }
  return out;
}

export function writeFields(
  record: Readonly<Record<string, unknown>>,
  fields: readonly FieldSpec[],
): TlvItems {
  const items: Array<[number, Uint8Array]> = [];
  for (const spec of fields) {
    const v = record[spec.key];
    if (v === undefined) continue;
    switch (spec.kind) {
      case "bytes":
        if (!(v instanceof Uint8Array)) throw new TypeError(`${spec.key} must be bytes`);
        items.push([spec.tag, v]);
        break;
      case "utf8":
        if (typeof v !== "string") throw new TypeError(`${spec.key} must be a string`);
        items.push([spec.tag, utf8(v)]);
        break;
      default: {
        if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
          throw new TypeError(`${spec.key} must be a non-negative integer`);
        }
        const enc = spec.kind === "u8" ? u8 : spec.kind === "u16" ? u16 : u32;
        const max = spec.kind === "u8" ? 0xff : spec.kind === "u16" ? 0xffff : 0xffffffff;
        if (v > max) throw new RangeError(`${spec.key} out of range`);
        items.push([spec.tag, enc(v)]);
      }
    }
  }
  return items;
}
