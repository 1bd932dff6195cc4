/**
 * The controller's (laptop's) record of a bond, produced by a successful pair-setup and consumed by
 * verify (the Noise KK initiator needs s = controllerStaticKey, rs = accessoryStaticPublicKey, and
 * the device id for the prologue). The laptop's store persists it with `bondRecordToJson` /
 * `bondRecordFromJson`; the JSON holds private keys, so the store file must be owner-only.
 *
 * Key rotation is two-phase (PROTOCOL.md §9.4 "rotate keys"): the new key is recorded as
 * `pendingStaticKey` before the rotate command goes out, and the current key is kept, because a lost
 * response leaves us not knowing which of the two the device holds. The next verify tries the pending
 * key first, then the current one (`verifyKeys`); whichever succeeds settles it (`verifiedWith`).
 */
import { z } from "zod";
import type { KeyPair, Role } from "../accessory/types.js";
import { bytesToHex, constantTimeEqual, hexToBytes } from "../crypto/primitives.js";
import { OpenClawError, protocolError } from "../errors.js";
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
  /** This controller's static X25519 key pair for this bond (the one the device is known to hold). */
  controllerStaticKey: KeyPair;
  /**
   * A new key sent in a rotate whose outcome is unknown until a verify with it succeeds; until then
   * the device holds either this one or `controllerStaticKey`.
   */
  pendingStaticKey?: KeyPair;
  accessoryStaticPublicKey: Uint8Array;
  /** Resolves the device's rotating advertising tag. */
  tagKey: Uint8Array;
  role: Role;
  accessoryName: string;
  model: string;
  firmware: string;
  controllerName: string;
}

/** The JSON format version `bondRecordToJson` writes; `bondRecordFromJson` also reads version 1. */
export const BOND_RECORD_VERSION = 2;

const hex = (len: number) =>
  z
    .string()
    .length(len * 2)
    .regex(/^[0-9a-f]+$/);
const text = z.string().max(MAX_TEXT);

const fields = {
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
};

/** Version 1: no rotation state. */
export const ControllerBondJsonV1 = z.object({ version: z.literal(1), ...fields }).strict();
export type ControllerBondJsonV1 = z.infer<typeof ControllerBondJsonV1>;

/**
 * Version 2 (written today): an optional pending static key pair, both halves or neither (checked by
 * `bondRecordFromJson`, not a zod refinement, so the store can extend this object).
 */
export const ControllerBondJson = z
  .object({
    version: z.literal(2),
    ...fields,
    pendingStaticPrivateKey: hex(X25519_KEY_LEN).optional(),
    pendingStaticPublicKey: hex(X25519_KEY_LEN).optional(),
  })
  .strict();
export type ControllerBondJson = z.infer<typeof ControllerBondJson>;

export function bondRecordToJson(b: ControllerBond): ControllerBondJson {
  return {
    version: 2,
    deviceId: bytesToHex(b.deviceId),
    controllerId: bytesToHex(b.controllerId),
    controllerStaticPrivateKey: bytesToHex(b.controllerStaticKey.privateKey),
    controllerStaticPublicKey: bytesToHex(b.controllerStaticKey.publicKey),
    accessoryStaticPublicKey: bytesToHex(b.accessoryStaticPublicKey),
    tagKey: bytesToHex(b.tagKey),
    role: b.role,
    accessoryName: b.accessoryName,
    model: b.model,
    firmware: b.firmware,
    controllerName: b.controllerName,
    ...(b.pendingStaticKey
      ? {
          pendingStaticPrivateKey: bytesToHex(b.pendingStaticKey.privateKey),
          pendingStaticPublicKey: bytesToHex(b.pendingStaticKey.publicKey),
        }
      : {}),
  };
}

/** Validates with zod (version 1 or 2); anything else is PROTOCOL_ERROR (the store quarantines such a file). */
export function bondRecordFromJson(json: unknown): ControllerBond {
  const version = (json as { version?: unknown } | null)?.version;
  const p = (version === 1 ? ControllerBondJsonV1 : ControllerBondJson).safeParse(json);
  // Only the path of the failing field, never its value: the record holds private keys.
  if (!p.success)
    throw protocolError(`bond record: invalid ${p.error.issues[0]?.path.join(".") || "record"}`);
  return bondRecordFromParsed(p.data);
}

/**
 * Decodes a record that already passed `ControllerBondJson` or `ControllerBondJsonV1` (e.g. as part of a
 * larger validated document) without validating it again. Throws PROTOCOL_ERROR for half a pending key.
 */
export function bondRecordFromParsed(v: ControllerBondJson | ControllerBondJsonV1): ControllerBond {
  if (
    v.version === 2 &&
    (v.pendingStaticPrivateKey === undefined) !== (v.pendingStaticPublicKey === undefined)
  )
    throw protocolError("bond record: invalid pendingStaticPublicKey");
  const bond: ControllerBond = {
    deviceId: hexToBytes(v.deviceId),
    controllerId: hexToBytes(v.controllerId),
    controllerStaticKey: {
      privateKey: hexToBytes(v.controllerStaticPrivateKey),
      publicKey: hexToBytes(v.controllerStaticPublicKey),
    },
    accessoryStaticPublicKey: hexToBytes(v.accessoryStaticPublicKey),
    tagKey: hexToBytes(v.tagKey),
    role: v.role,
    accessoryName: v.accessoryName,
    model: v.model,
    firmware: v.firmware,
    controllerName: v.controllerName,
  };
  if (v.version === 2 && v.pendingStaticPrivateKey && v.pendingStaticPublicKey)
    bond.pendingStaticKey = {
      privateKey: hexToBytes(v.pendingStaticPrivateKey),
      publicKey: hexToBytes(v.pendingStaticPublicKey),
    };
  return bond;
}

const sameKey = (a: KeyPair, b: KeyPair) => constantTimeEqual(a.publicKey, b.publicKey);

function invalid(detail: string): OpenClawError<"INVALID_ARGUMENT"> {
  return new OpenClawError("INVALID_ARGUMENT", { detail });
}

/**
 * The bond with `newKey` recorded as pending (persist this BEFORE the rotate command is sent). Refused
 * while a rotation is still unresolved (verify first: it settles which key the device holds), and for a
 * key that is not a fresh 32-byte pair.
 */
export function beginRotation(bond: ControllerBond, newKey: KeyPair): ControllerBond {
  if (bond.pendingStaticKey)
    throw invalid("a key rotation for this bond is still unresolved; verify with the device first");
  if (newKey.publicKey.length !== X25519_KEY_LEN || newKey.privateKey.length !== X25519_KEY_LEN)
    throw invalid(`a static key is ${X25519_KEY_LEN} bytes`);
  if (newKey.publicKey.every((b) => b === 0)) throw invalid("an all-zero static key");
  if (sameKey(newKey, bond.controllerStaticKey)) throw invalid("the new static key is the current one");
  return { ...bond, pendingStaticKey: copyKey(newKey) };
}

/**
 * The bond after a verify with `key` succeeded: a pending key that verified becomes the current key;
 * the current key verifying means the device never took the rotation, so the pending key is dropped.
 * A key that is neither is a bug in the caller (INTERNAL).
 */
export function verifiedWith(bond: ControllerBond, key: KeyPair): ControllerBond {
  const { pendingStaticKey, ...rest } = bond;
  if (pendingStaticKey && sameKey(key, pendingStaticKey))
    return { ...rest, controllerStaticKey: pendingStaticKey };
  if (sameKey(key, bond.controllerStaticKey)) return rest;
  throw new OpenClawError("INTERNAL", { detail: "verified with a key this bond does not hold" });
}

/** The keys a verify should try, in order: the pending one (if a rotation is unresolved), then the current. */
export function verifyKeys(bond: ControllerBond): KeyPair[] {
  return bond.pendingStaticKey
    ? [bond.pendingStaticKey, bond.controllerStaticKey]
    : [bond.controllerStaticKey];
}

function copyKey(k: KeyPair): KeyPair {
  return { privateKey: k.privateKey.slice(), publicKey: k.publicKey.slice() };
}
