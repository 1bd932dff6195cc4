/** Making an accessory identity from injected randomness (first boot, factory reset). */
import { generateKeyPair } from "../crypto/noise.js";
import { DEVICE_ID_LEN, TAG_KEY_LEN } from "../messages/constants.js";
import type { RandomBytes } from "../random.js";
import type { AccessoryIdentity } from "./types.js";

/** Draw order (vectors depend on it): device id (8), static private key (32), tag key (16). */
export function generateAccessoryIdentity(random: RandomBytes): AccessoryIdentity {
  const deviceId = random(DEVICE_ID_LEN);
  const staticKey = generateKeyPair(random);
  const tagKey = random(TAG_KEY_LEN);
  return { deviceId, staticKey, tagKey };
}
