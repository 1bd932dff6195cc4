/**
 * The device's identity, made once on first boot and kept until a factory reset: the device id (what
 * controllers bond to), the static X25519 key pair (Noise KK verify) and the tag key (lets bonded
 * controllers resolve the rotating advertising tag). Stored in device.json (state.ts).
 */
import { generateAccessoryIdentity } from "../../src/protocol/accessory/identity.js";
import type { AccessoryIdentity } from "../../src/protocol/accessory/types.js";
import { advertisedName } from "../../src/protocol/advert.js";
import { toHex } from "../../src/protocol/bytes.js";
import { DEVICE_ID_LEN } from "../../src/protocol/messages/constants.js";
import type { RandomBytes } from "../../src/protocol/random.js";

export const DEVICE_ID_BYTES = DEVICE_ID_LEN;

export type DeviceIdentity = AccessoryIdentity;

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
