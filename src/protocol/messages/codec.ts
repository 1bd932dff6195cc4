/**
 * Encoding and decoding of protocol messages: `[version u8 = 1][type u8][TLV body]`, at most
 * MAX_MESSAGE bytes. Decoding is total: any input either yields a schema-valid Message or throws an
 * OpenClawError (PROTOCOL_ERROR, or VERSION_MISMATCH for a well-formed header of another version).
 */
import { encodeTlv } from "../codec/tlv.js";
import { OpenClawError, protocolError } from "../errors.js";
import { MAX_MESSAGE, MESSAGE_HEADER, PROTOCOL_VERSION } from "./constants.js";
import { type FieldSpec, readFields, writeFields } from "./fields.js";
import {
  type FieldDef,
  MESSAGE_TABLE,
  type Message,
  MessageSchemas,
  MessageType,
  type MessageTypeName,
} from "./schema.js";

const NAMES = Object.keys(MESSAGE_TABLE) as MessageTypeName[];
const fieldsOf = (type: MessageTypeName) =>
  Object.entries(MESSAGE_TABLE[type].fields as Record<string, FieldDef>);

/** TLV layout of each message body, from the message table (documented byte by byte in hardware/PROTOCOL.md). */
export const LAYOUTS = Object.fromEntries(
  NAMES.map((n) => [n, fieldsOf(n).map(([key, f]): FieldSpec => ({ tag: f.tag, key, kind: f.kind }))]),
) as unknown as Record<MessageTypeName, readonly FieldSpec[]>;

const TYPE_BY_WIRE = new Map<number, MessageTypeName>(NAMES.map((name) => [MessageType[name], name]));

/** Decodes and validates one protocol message. Throws OpenClawError only. */
export function decodeMessage(input: Uint8Array): Message {
  if (!(input instanceof Uint8Array)) throw protocolError("message is not bytes");
  if (input.length > MAX_MESSAGE) {
    throw protocolError(`message of ${input.length} bytes exceeds the ${MAX_MESSAGE}-byte limit`);
  }
  if (input.length < MESSAGE_HEADER) throw protocolError("truncated message header");
  const version = input[0]!;
  if (version !== PROTOCOL_VERSION) {
    throw new OpenClawError("VERSION_MISMATCH", { ours: PROTOCOL_VERSION, theirs: version });
  }
  const type = TYPE_BY_WIRE.get(input[1]!);
  if (type === undefined) throw protocolError(`unknown message type 0x${input[1]!.toString(16)}`);
  const record = readFields(input.subarray(MESSAGE_HEADER), LAYOUTS[type], type, MAX_MESSAGE);
  const parsed = MessageSchemas[type].safeParse({ type, ...record });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join(".") : "body";
    throw protocolError(`${type}: invalid ${where}${issue?.code === "invalid_type" ? " (missing)" : ""}`);
  }
  return parsed.data;
}

/**
 * Encodes a message. The message is validated by the same schema first, so this side can never send
 * what the other side would reject; a violation is a programming error (TypeError/RangeError).
 */
export function encodeMessage(message: Message): Uint8Array {
  const record: Record<string, unknown> = { ...message };
  // Values that are names in a message and numbers on the wire (error codes, expiry reasons).
  for (const [key, f] of fieldsOf(message.type)) {
    if (f.toWire && record[key] !== undefined) record[key] = f.toWire(record[key] as never);
  }
  const check = MessageSchemas[message.type].safeParse(record);
  if (!check.success) {
    throw new RangeError(`invalid ${message.type}: ${check.error.issues[0]?.path.join(".") ?? ""}`);
  }
  const body = encodeTlv(writeFields(record, LAYOUTS[message.type]));
  const out = new Uint8Array(MESSAGE_HEADER + body.length);
  out[0] = PROTOCOL_VERSION;
  out[1] = MessageType[message.type];
  out.set(body, MESSAGE_HEADER);
  if (out.length > MAX_MESSAGE) throw new RangeError(`${message.type} of ${out.length} bytes is too large`);
  return out;
}

/** The message type of an encoded message without decoding it (undefined when not a known type). */
export function peekType(input: Uint8Array): MessageTypeName | undefined {
  return input.length >= MESSAGE_HEADER ? TYPE_BY_WIRE.get(input[1]!) : undefined;
}
