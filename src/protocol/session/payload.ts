/**
 * The plaintext inside one Session message: a request, a response (ok or error) or a notification,
 * as a TLV container validated with zod. Bodies are opaque here (command codecs live in commands.ts).
 *
 *   0x01 kind  u8   1 request, 2 ok response, 3 error response, 4 notification
 *   0x02 id    u16  request id (request, ok, error); absent in notifications
 *   0x03 code  u8   command (request) or event (notification); absent in responses
 *   0x04 body  ...  arguments, result, error fields or event body; omitted when empty
 */
import { z } from "zod";
import { decodeTlv, encodeTlv, readUint, type TlvItems, u8, u16 } from "../codec/tlv.js";
import { protocolError } from "../errors.js";
import { MAX_SESSION_PLAINTEXT } from "./limits.js";

export type SessionPayload =
  | { kind: "request"; id: number; command: number; body: Uint8Array }
  | { kind: "ok"; id: number; body: Uint8Array }
  | { kind: "error"; id: number; body: Uint8Array }
  | { kind: "notification"; event: number; body: Uint8Array };

const KIND_WIRE = { request: 1, ok: 2, error: 3, notification: 4 } as const;
const KIND_BY_WIRE = ["request", "ok", "error", "notification"] as const;

const TAG_KIND = 0x01;
const TAG_ID = 0x02;
const TAG_CODE = 0x03;
const TAG_BODY = 0x04;

const id = z.number().int().min(0).max(0xffff);
const code = z.number().int().min(0).max(0xff);
const body = z.instanceof(Uint8Array);

const PayloadSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("request"), id, command: code, body }),
  z.strictObject({ kind: z.literal("ok"), id, body }),
  z.strictObject({ kind: z.literal("error"), id, body }),
  z.strictObject({ kind: z.literal("notification"), event: code, body }),
]);

export function encodePayload(p: SessionPayload): Uint8Array {
  const check = PayloadSchema.safeParse(p);
  if (!check.success)
    throw new RangeError(`invalid session payload: ${check.error.issues[0]?.path.join(".")}`);
  const items: Array<[number, Uint8Array]> = [[TAG_KIND, u8(KIND_WIRE[p.kind])]];
  if (p.kind !== "notification") items.push([TAG_ID, u16(p.id)]);
  if (p.kind === "request") items.push([TAG_CODE, u8(p.command)]);
  if (p.kind === "notification") items.push([TAG_CODE, u8(p.event)]);
  if (p.body.length > 0) items.push([TAG_BODY, p.body]);
  const out = encodeTlv(items satisfies TlvItems);
  if (out.length > MAX_SESSION_PLAINTEXT)
    throw new RangeError(`session payload of ${out.length} bytes is too large`);
  return out;
}

/** Total: returns a valid payload or throws PROTOCOL_ERROR. */
export function decodePayload(buf: Uint8Array): SessionPayload {
  const items = decodeTlv(buf, { maxBytes: MAX_SESSION_PLAINTEXT });
  for (const tag of items.keys()) {
    if (tag < TAG_KIND || tag > TAG_BODY) throw protocolError(`session payload: unexpected field ${tag}`);
  }
  const kindRaw = items.get(TAG_KIND);
  if (kindRaw === undefined) throw protocolError("session payload: missing kind");
  if (kindRaw.length !== 1) throw protocolError("session payload: kind must be 1 byte");
  const kind = KIND_BY_WIRE[kindRaw[0]! - 1];
  if (kind === undefined) throw protocolError("session payload: unknown kind");
  const record: Record<string, unknown> = { kind, body: items.get(TAG_BODY) ?? new Uint8Array(0) };
  const idRaw = items.get(TAG_ID);
  if (idRaw !== undefined) {
    if (idRaw.length !== 2) throw protocolError("session payload: id must be 2 bytes");
    record.id = readUint(idRaw, "session payload id");
  }
  const codeRaw = items.get(TAG_CODE);
  if (codeRaw !== undefined) {
    if (codeRaw.length !== 1) throw protocolError("session payload: code must be 1 byte");
    record[kind === "notification" ? "event" : "command"] = codeRaw[0]!;
  }
  // A present-but-empty body is not canonical (encoders omit it): one payload, one byte string.
  if (items.get(TAG_BODY)?.length === 0) throw protocolError("session payload: empty body field");
  const parsed = PayloadSchema.safeParse(record);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw protocolError(`session payload: invalid ${issue?.path.join(".") || kind}`);
  }
  return parsed.data;
}
