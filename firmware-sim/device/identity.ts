/**
 * The device's identity, made once on first boot and kept until a factory reset: the device id (what
 * controllers bond to), the static X25519 key pair (Noise KK verify) and the tag key (lets bonded
 * controllers resolve the rotating advertising tag). Stored as identity.json, 0600, like the bond table.
 */
import { z } from "zod";
import { generateAccessoryIdentity } from "../../src/protocol/accessory/identity.js";
import type { AccessoryIdentity } from "../../src/protocol/accessory/types.js";
import { advertisedName } from "../../src/protocol/advert.js";
import { keyPairFromPrivateKey } from "../../src/protocol/crypto/noise.js";
import type { RandomBytes } from "../../src/protocol/env.js";
import { DEVICE_ID_LEN } from "../../src/protocol/messages/constants.js";
import { JsonStateFile, type Quarantine } from "../../src/store/json-file.js";

export const DEVICE_ID_BYTES = DEVICE_ID_LEN;

export type DeviceIdentity = AccessoryIdentity;

const hex = (len: number) =>
  z
    .string()
    .length(len * 2)
    .regex(/^[0-9a-f]+$/);

const IdentityFileSchema = z.object({
  version: z.literal(1),
  deviceId: hex(DEVICE_ID_BYTES),
  staticPrivateKey: hex(32),
  staticPublicKey: hex(32),
  tagKey: hex(16),
});

const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const fromHex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));

/** The same draw order as the pure accessory (vectors depend on it). */
export function generateIdentity(random: RandomBytes): DeviceIdentity {
  return generateAccessoryIdentity(random);
}

/** Upper-case hex of the device id, as printed for people and in `ready` events. */
export function deviceIdText(id: Uint8Array): string {
  return toHex(id).toUpperCase();
}

/** The advertised name: `OpenClaw-` and the last four hex digits of the device id (as advert.ts). */
export function defaultDeviceName(id: Uint8Array): string {
  return advertisedName(id);
}

export class IdentityStore {
  private readonly file: JsonStateFile<typeof IdentityFileSchema>;

  constructor(dir: string, onQuarantine?: (q: Quarantine) => void) {
    this.file = new JsonStateFile(dir, "identity.json", IdentityFileSchema, {
      ...(onQuarantine ? { onQuarantine } : {}),
      formatVersion: 1,
    });
  }

  get path(): string {
    return this.file.path;
  }

  /**
   * Loads the identity, or makes and persists a new one (first boot, or after a corrupt file, which is
   * quarantined). A file written by a newer version throws STATE_TOO_NEW and is left as it is.
   */
  async load(): Promise<DeviceIdentity | undefined> {
    const stored = await this.file.load();
    if (!stored) return undefined;
    // A public key that does not belong to the private key is corruption too; recompute rather than trust.
    return {
      deviceId: fromHex(stored.deviceId),
      staticKey: keyPairFromPrivateKey(fromHex(stored.staticPrivateKey)),
      tagKey: fromHex(stored.tagKey),
    };
  }

  /** Makes and persists a new identity (first boot, or after the old one was lost). */
  async create(random: RandomBytes): Promise<DeviceIdentity> {
    const identity = generateIdentity(random);
    await this.save(identity);
    return identity;
  }

  async loadOrCreate(random: RandomBytes): Promise<{ identity: DeviceIdentity; created: boolean }> {
    const identity = await this.load();
    if (identity) return { identity, created: false };
    return { identity: await this.create(random), created: true };
  }

  async save(identity: DeviceIdentity): Promise<void> {
    await this.file.save({
      version: 1,
      deviceId: toHex(identity.deviceId),
      staticPrivateKey: toHex(identity.staticKey.privateKey),
      staticPublicKey: toHex(identity.staticKey.publicKey),
      tagKey: toHex(identity.tagKey),
    });
  }

  async remove(): Promise<void> {
    await this.file.remove();
  }
}
