/**
 * Shapes shared by the device's state document (state.ts) and the migration from the older layout
 * (state-legacy.ts): the identity section, the empty guard, and what boot reports.
 */
import { z } from "zod";
import type { AccessoryIdentity } from "../../src/protocol/accessory/types.js";
import { fromHex, toHex } from "../../src/protocol/bytes.js";
import { keyPairFromPrivateKey } from "../../src/protocol/crypto/noise.js";
import { OpenClawError } from "../../src/protocol/errors.js";
import { DEVICE_ID_LEN, TAG_KEY_LEN, X25519_KEY_LEN } from "../../src/protocol/messages/constants.js";
import type { GuardSnapshot } from "../../src/protocol/window/guard.js";
import type { Quarantine } from "../../src/store/json-file.js";

const hex = (len: number) =>
  z
    .string()
    .length(len * 2)
    .regex(/^[0-9a-f]+$/);

export const IdentityJson = z
  .object({
    deviceId: hex(DEVICE_ID_LEN),
    staticPrivateKey: hex(X25519_KEY_LEN),
    staticPublicKey: hex(X25519_KEY_LEN),
    tagKey: hex(TAG_KEY_LEN),
  })
  .strict();
export type IdentityJson = z.infer<typeof IdentityJson>;

export function identityToJson(identity: AccessoryIdentity): IdentityJson {
  return {
    deviceId: toHex(identity.deviceId),
    staticPrivateKey: toHex(identity.staticKey.privateKey),
    staticPublicKey: toHex(identity.staticKey.publicKey),
    tagKey: toHex(identity.tagKey),
  };
}

/** The public key is recomputed from the private one: a mismatch on disk is not trusted. */
export function identityFromJson(j: IdentityJson): AccessoryIdentity {
  return {
    deviceId: fromHex(j.deviceId),
    staticKey: keyPairFromPrivateKey(fromHex(j.staticPrivateKey)),
    tagKey: fromHex(j.tagKey),
  };
}

export const EMPTY_GUARD: GuardSnapshot = {
  failuresInLastHour: 0,
  lockouts: 0,
  lockedForMs: 0,
  unsettled: 0,
};

/** Something boot had to repair or migrate, for the event stream and the screen. */
export interface StateNotice {
  message: string;
  /** STORE_CORRUPT when a file or section was damaged (its copy is named in it). */
  error?: OpenClawError<"STORE_CORRUPT">;
}

export function corruptError(q: Quarantine, part?: string): OpenClawError<"STORE_CORRUPT"> {
  return new OpenClawError("STORE_CORRUPT", {
    path: q.file,
    quarantinedAs: q.quarantinedAs,
    detail: part ? `${part}: ${q.reason}` : q.reason,
  });
}

/** The first zod issue's path, for messages that say where a file is damaged (never its content). */
export function zodWhere(err: z.ZodError): string {
  const issue = err.issues[0];
  return issue && issue.path.length > 0 ? issue.path.join(".") : "(root)";
}
