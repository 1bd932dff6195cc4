/**
 * The decoded form of every protocol message, and the zod schemas that validate it at the boundary:
 * exact lengths of ids, points, MACs and keys, ranges of counters, bounded strings. A decoded message
 * that passes its schema is safe to hand to a state machine.
 */
import { z } from "zod";
import { type ErrorCode, errorCodeFromWire } from "../errors.js";
import {
  AEAD_TAG_LEN,
  CONFIRM_LEN,
  CONTROLLER_ID_LEN,
  MAX_MESSAGE,
  type MessageTypeName,
  P256_POINT_LEN,
  WINDOW_NONCE_LEN,
} from "./constants.js";

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
const BODY_MAX = MAX_MESSAGE - 2 - 3;

export const MAX_ERROR_TEXT = 120;

export const MessageSchemas = {
  PairSetupStart: z.object({
    type: z.literal("PairSetupStart"),
    controllerId: bytes(CONTROLLER_ID_LEN),
    windowNonce: bytes(WINDOW_NONCE_LEN),
    shareP: bytes(P256_POINT_LEN),
  }),
  PairSetupChallenge: z.object({
    type: z.literal("PairSetupChallenge"),
    shareV: bytes(P256_POINT_LEN),
    confirmV: bytes(CONFIRM_LEN),
  }),
  PairSetupFinish: z.object({
    type: z.literal("PairSetupFinish"),
    confirmP: bytes(CONFIRM_LEN),
    sealed: bytesBetween(AEAD_TAG_LEN + 1, 1024),
  }),
  PairSetupDone: z.object({
    type: z.literal("PairSetupDone"),
    sealed: bytesBetween(AEAD_TAG_LEN + 1, 1024),
  }),
  PairSetupAbort: z.object({
    type: z.literal("PairSetupAbort"),
    reason: wireErrorCode,
  }),
  VerifyStart: z.object({
    type: z.literal("VerifyStart"),
    noise: bytesBetween(NOISE_HANDSHAKE_MIN, BODY_MAX),
  }),
  VerifyAccept: z.object({
    type: z.literal("VerifyAccept"),
    noise: bytesBetween(NOISE_HANDSHAKE_MIN, BODY_MAX),
  }),
  Session: z.object({
    type: z.literal("Session"),
    flags: uint(0xff),
    ciphertext: bytesBetween(AEAD_TAG_LEN, BODY_MAX - 4),
  }),
  Error: z.object({
    type: z.literal("Error"),
    code: wireErrorCode,
    attemptsLeft: uint(0xff).optional(),
    retryAfterMs: uint(0xffffffff).optional(),
    slots: uint(0xff).optional(),
    reason: expiryReason.optional(),
    detail: z.string().max(MAX_ERROR_TEXT).optional(),
    version: uint(0xff).optional(),
    command: z.string().max(32).optional(),
    role: z.string().max(16).optional(),
    what: z.string().max(MAX_ERROR_TEXT).optional(),
    afterMs: uint(0xffffffff).optional(),
  }),
} as const satisfies Record<MessageTypeName, z.ZodType>;

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
