/**
 * The controller's (laptop's) record of a bond, produced by a successful pair-setup and consumed by
 * verify (the Noise KK initiator needs s = controllerStaticKey, rs = accessoryStaticPublicKey, and
 * the device id for the prologue). The daemon's store persists it with `bondRecordToJson` /
 * `bondRecordFromJson`; the JSON holds the private key, so the store file must be owner-only.
 */
import { z } from "zod";
import type { KeyPair, Role } from "../accessory/types.js";
import { protocolError } from "../errors.js";
import {
  CONTROLLER_ID_LEN,
  DEVICE_ID_LEN,
  MAX_TEXT,
  TAG_KEY_LEN,
  X25519_KEY_LEN,
} from "../messages/constants.js";

export interface ControllerBond {
  deviceId: Uint8Array;
  controllerId: Uint8Array;
  /** This controller's static X25519 key pair for this bond. */
  controllerStaticKey: KeyPair;
  accessoryStaticPublicKey: Uint8Array;
  /** Resolves the device's rotating advertising tag. */
  tagKey: Uint8Array;
  role: Role;
  accessoryName: string;
  model: string;
  firmware: string;
  controllerName: string;
}

const hex = (len: number) =>
  z
    .string()
    .length(len * 2)
    .regex(/^[0-9a-f]+$/);
const text = z.string().max(MAX_TEXT);

export const ControllerBondJson = z
  .object({
    version: z.literal(1),
    deviceId: hex(DEVICE_ID_LEN),
    controllerId: hex(CONTROLLER_ID_LEN),
    controllerStaticPrivateKey: hex(X25519_KEY_LEN),
    controllerStaticPublicKey: hex(X25519_KEY_LEN),
    accessoryStaticPublicKey: hex(X25519_KEY_LEN),
    tagKey: hex(TAG_KEY_LEN),
    role: z.enum(["admin", "user"]),
    accessoryName: text,
    model: text,
    firmware: text,
    controllerName: text,
  })
  .strict();

export type ControllerBondJson = z.infer<typeof ControllerBondJson>;

const toHex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
const fromHex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));

export function bondRecordToJson(b: ControllerBond): ControllerBondJson {
  return {
    version: 1,
    deviceId: toHex(b.deviceId),
    controllerId: toHex(b.controllerId),
    controllerStaticPrivateKey: toHex(b.controllerStaticKey.privateKey),
    controllerStaticPublicKey: toHex(b.controllerStaticKey.publicKey),
    accessoryStaticPublicKey: toHex(b.accessoryStaticPublicKey),
    tagKey: toHex(b.tagKey),
    role: b.role,
    accessoryName: b.accessoryName,
    model: b.model,
    firmware: b.firmware,
    controllerName: b.controllerName,
  };
}

/** Validates with zod; anything else is PROTOCOL_ERROR (the store quarantines such a file). */
export function bondRecordFromJson(json: unknown): ControllerBond {
  const p = ControllerBondJson.safeParse(json);
  if (!p.success)
    throw protocolError(`bond record: invalid ${p.error.issues[0]?.path.join(".") || "record"}`);
  const v = p.data;
  return {
    deviceId: fromHex(v.deviceId),
    controllerId: fromHex(v.controllerId),
    controllerStaticKey: {
      privateKey: fromHex(v.controllerStaticPrivateKey),
      publicKey: fromHex(v.controllerStaticPublicKey),
    },
    accessoryStaticPublicKey: fromHex(v.accessoryStaticPublicKey),
    tagKey: fromHex(v.tagKey),
    role: v.role,
    accessoryName: v.accessoryName,
    model: v.model,
    firmware: v.firmware,
    controllerName: v.controllerName,
  };
}
