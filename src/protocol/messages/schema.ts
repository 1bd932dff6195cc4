/**
 * Every protocol message, defined once (MESSAGE_TABLE): type byte, and per field its TLV tag, wire kind
 * and the zod schema that validates it at the boundary (exact lengths of ids, points, MACs and keys,
 * ranges of counters, bounded strings). The codec's layouts, MessageType, the schemas and the decoded
 * types derive from it. A decoded message that passes its schema is safe to hand to a state machine.
 */
import { z } from "zod";
import { CATALOGUE, type ErrorCode, errorCodeFromWire } from "../errors.js";
import {
  AEAD_TAG_LEN,
  CONFIRM_LEN,
  CONTROLLER_ID_LEN,
  MAX_MESSAGE,
  MESSAGE_HEADER,
  P256_POINT_LEN,
  WINDOW_NONCE_LEN,
} from "./constants.js";
import type { FieldKind } from "./fields.js";

const anyBytes = () => z.custom<Uint8Array>((v) => v instanceof Uint8Array, { message: "must be bytes" });

export const bytes = (len: number) =>
  anyBytes().refine((b) => b.length === len, { message: `must be ${len} bytes` });

export const bytesBetween = (min: number, max: number) =>
  anyBytes().refine((b) => b.length >= min && b.length <= max, {
    message: `must be ${min}..${max} bytes`,
  });

export const uint = (max: number) => z.number().int().min(0).max(max);

/** A wire error code (u8) that names an entry of the catalogue. */
const wireErrorCode = z
  .number()
  .int()
  .refine((n) => errorCodeFromWire(n) !== undefined, { message: "unknown error code" })
  .transform((n) => errorCodeFromWire(n) as ErrorCode);

/** CODE_EXPIRED reasons on the wire. */
export const EXPIRY_REASON_WIRE = { ttl: 1, used: 2, burnt: 3 } as const;
export type ExpiryReason = keyof typeof EXPIRY_REASON_WIRE;
const expiryReason = z
  .number()
  .int()
  .refine((n) => n >= 1 && n <= 3, { message: "unknown reason" })
  .transform((n) => (["ttl", "used", "burnt"] as const)[n - 1]!);

/** Noise KK handshake messages: at least an ephemeral key and an AEAD tag. */
const NOISE_HANDSHAKE_MIN = 32 + AEAD_TAG_LEN;
/** A body's one TLV item at most: the message less its header and one item header (tag u8, length u16). */
const BODY_MAX = MAX_MESSAGE - MESSAGE_HEADER - 3;

export const MAX_ERROR_TEXT = 120;

/**
 * One field of a message body: its TLV tag, its wire kind (how fields.ts reads and writes the value),
 * the schema that validates the decoded wire value (and may turn it into the message's value: a wire
 * error code into its name), and, where the two differ, how the message's value goes back to the wire.
 */
export interface FieldDef<S extends z.ZodType = z.ZodType> {
  readonly tag: number;
  readonly kind: FieldKind;
  readonly schema: S;
  readonly toWire?: (value: NonNullable<z.output<S>>) => number;
}

function field<S extends z.ZodType>(
  tag: number,
  kind: FieldKind,
  schema: S,
  toWire?: (value: NonNullable<z.output<S>>) => number,
): FieldDef<S> {
  return toWire ? { tag, kind, schema, toWire } : { tag, kind, schema };
}

const wireOf = (code: ErrorCode): number => CATALOGUE[code].wire ?? -1;

/**
 * THE definition of protocol v1's messages (hardware/PROTOCOL.md §3.2–3.4): each message's type byte
 * and its fields in ascending tag order. The codec's layouts, the zod schemas, the decoded types and
 * MessageType all derive from this table; nothing else lists a tag.
 */
export const MESSAGE_TABLE = {
  PairSetupStart: {
    type: 0x01,
    fields: {
      controllerId: field(0x01, "bytes", bytes(CONTROLLER_ID_LEN)),
      windowNonce: field(0x02, "bytes", bytes(WINDOW_NONCE_LEN)),
      shareP: field(0x03, "bytes", bytes(P256_POINT_LEN)),
    },
  },
  PairSetupChallenge: {
    type: 0x02,
    fields: {
      shareV: field(0x01, "bytes", bytes(P256_POINT_LEN)),
      confirmV: field(0x02, "bytes", bytes(CONFIRM_LEN)),
    },
  },
  PairSetupFinish: {
    type: 0x03,
    fields: {
      confirmP: field(0x01, "bytes", bytes(CONFIRM_LEN)),
      sealed: field(0x02, "bytes", bytesBetween(AEAD_TAG_LEN + 1, 1024)),
    },
  },
  PairSetupDone: {
    type: 0x04,
    fields: { sealed: field(0x01, "bytes", bytesBetween(AEAD_TAG_LEN + 1, 1024)) },
  },
  PairSetupAbort: {
    type: 0x05,
    fields: { reason: field(0x01, "u8", wireErrorCode, wireOf) },
  },
  VerifyStart: {
    type: 0x10,
    fields: { noise: field(0x01, "bytes", bytesBetween(NOISE_HANDSHAKE_MIN, BODY_MAX)) },
  },
  VerifyAccept: {
    type: 0x11,
    fields: { noise: field(0x01, "bytes", bytesBetween(NOISE_HANDSHAKE_MIN, BODY_MAX)) },
  },
  Session: {
    type: 0x20,
    fields: {
      flags: field(0x01, "u8", uint(0xff)),
      ciphertext: field(0x02, "bytes", bytesBetween(AEAD_TAG_LEN, BODY_MAX - 4)),
    },
  },
  Error: {
    type: 0x7f,
    fields: {
      code: field(0x01, "u8", wireErrorCode, wireOf),
      attemptsLeft: field(0x02, "u8", uint(0xff).optional()),
      retryAfterMs: field(0x03, "u32", uint(0xffffffff).optional()),
      slots: field(0x04, "u8", uint(0xff).optional()),
      reason: field(0x05, "u8", expiryReason.optional(), (r) => EXPIRY_REASON_WIRE[r]),
      detail: field(0x06, "utf8", z.string().max(MAX_ERROR_TEXT).optional()),
      version: field(0x07, "u8", uint(0xff).optional()),
      command: field(0x08, "utf8", z.string().max(32).optional()),
      role: field(0x09, "utf8", z.string().max(16).optional()),
      what: field(0x0a, "utf8", z.string().max(MAX_ERROR_TEXT).optional()),
      afterMs: field(0x0b, "u32", uint(0xffffffff).optional()),
    },
  },
} as const;

type Table = typeof MESSAGE_TABLE;
export type MessageTypeName = keyof Table;
type Fields<K extends MessageTypeName> = Table[K]["fields"];
type Shape<K extends MessageTypeName> = { type: z.ZodLiteral<K> } & {
  [F in keyof Fields<K>]: Fields<K>[F] extends FieldDef<infer S> ? S : never;
};

const NAMES = Object.keys(MESSAGE_TABLE) as MessageTypeName[];

/** The closed set of message types and their type bytes. Anything else is a protocol error. */
export const MessageType = Object.fromEntries(NAMES.map((n) => [n, MESSAGE_TABLE[n].type])) as {
  readonly [K in MessageTypeName]: Table[K]["type"];
};

function schemaOf<K extends MessageTypeName>(name: K): z.ZodObject<Shape<K>> {
  const fields = MESSAGE_TABLE[name].fields as Record<string, FieldDef>;
  const shape = Object.fromEntries(Object.entries(fields).map(([key, f]) => [key, f.schema]));
  return z.object({ type: z.literal(name), ...shape }) as unknown as z.ZodObject<Shape<K>>;
}

/** Validates a decoded body (wire values) and gives the message; the codec applies it both ways. */
export const MessageSchemas = Object.fromEntries(NAMES.map((n) => [n, schemaOf(n)])) as {
  readonly [K in MessageTypeName]: z.ZodObject<Shape<K>>;
};

type Out<K extends MessageTypeName> = z.output<(typeof MessageSchemas)[K]>;

export type PairSetupStart = Out<"PairSetupStart">;
export type PairSetupChallenge = Out<"PairSetupChallenge">;
export type PairSetupFinish = Out<"PairSetupFinish">;
export type PairSetupDone = Out<"PairSetupDone">;
export type PairSetupAbort = Out<"PairSetupAbort">;
export type VerifyStart = Out<"VerifyStart">;
export type VerifyAccept = Out<"VerifyAccept">;
export type SessionMessage = Out<"Session">;
export type ErrorMessage = Out<"Error">;

/** Every protocol message, discriminated by `type`. */
export type Message =
  | PairSetupStart
  | PairSetupChallenge
  | PairSetupFinish
  | PairSetupDone
  | PairSetupAbort
  | VerifyStart
  | VerifyAccept
  | SessionMessage
  | ErrorMessage;

export type MessageOf<K extends MessageTypeName> = Extract<Message, { type: K }>;
