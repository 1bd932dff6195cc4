/**
 * The small payloads inside the two Noise KK handshake messages (encrypted by Noise, TLV inside):
 *
 *   message 1 (controller → accessory): 0x01 features u32 (optional; absent = 0)
 *   message 2 (accessory → controller): 0x01 features u32 (optional), 0x02 role u8 (the caller's bond)
 *
 * Feature bits announce optional protocol extensions; v1 defines none and ignores unknown bits.
 */
import { z } from "zod";
import { encodeTlv } from "../codec/tlv.js";
import { protocolError } from "../errors.js";
import { type FieldSpec, readFields, writeFields } from "../messages/fields.js";
import { uint } from "../messages/schema.js";
import { ROLE_WIRE, type Role, roleFromWire } from "../session/commands.js";

/** Handshake payloads are tiny; anything bigger is refused before parsing. */
export const MAX_VERIFY_PAYLOAD = 64;

const START: readonly FieldSpec[] = [{ tag: 0x01, key: "features", kind: "u32" }];
const ACCEPT: readonly FieldSpec[] = [
  { tag: 0x01, key: "features", kind: "u32" },
  { tag: 0x02, key: "role", kind: "u8" },
];

export interface VerifyStartPayload {
  features: number;
}
export interface VerifyAcceptPayload {
  features: number;
  role: Role;
}

const features = uint(0xffffffff)
  .optional()
  .transform((n) => n ?? 0);

export function encodeStartPayload(p: VerifyStartPayload): Uint8Array {
  return encodeTlv(writeFields({ features: p.features || undefined }, START));
}

export function decodeStartPayload(b: Uint8Array): VerifyStartPayload {
  const parsed = z
    .strictObject({ features })
    .safeParse(readFields(b, START, "verify start", MAX_VERIFY_PAYLOAD));
  if (!parsed.success) throw protocolError("verify start: invalid payload");
  return parsed.data;
}

export function encodeAcceptPayload(p: VerifyAcceptPayload): Uint8Array {
  return encodeTlv(writeFields({ features: p.features || undefined, role: ROLE_WIRE[p.role] }, ACCEPT));
}

export function decodeAcceptPayload(b: Uint8Array): VerifyAcceptPayload {
  const schema = z.strictObject({
    features,
    role: uint(0xff)
      .refine((n) => roleFromWire(n) !== undefined, { message: "unknown role" })
      .transform((n) => roleFromWire(n)!),
  });
  const parsed = schema.safeParse(readFields(b, ACCEPT, "verify accept", MAX_VERIFY_PAYLOAD));
  if (!parsed.success) throw protocolError("verify accept: invalid payload");
  return parsed.data;
}
