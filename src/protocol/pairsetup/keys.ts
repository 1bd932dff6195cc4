/**
 * Everything pair-setup derives and seals, shared by both roles so they cannot drift apart:
 * the SPAKE2+ context, the scalar draw, the two sealing keys from K_shared, and the sealed payloads
 * (static X25519 public key + metadata) exchanged in PairSetupFinish and PairSetupDone.
 */
import { p256 } from "@noble/curves/nist.js";
import type { Role } from "../accessory/types.js";
import { decodeTlv, encodeTlv, readUtf8, u8, utf8 } from "../codec/tlv.js";
import { chachaPolyDecrypt, chachaPolyEncrypt, concatBytes, hkdfSha256 } from "../crypto/primitives.js";
import { protocolError } from "../errors.js";
import {
  MAX_TEXT,
  PROTOCOL_NAME,
  PROTOCOL_VERSION,
  TAG_KEY_LEN,
  X25519_KEY_LEN,
} from "../messages/constants.js";
import { MessageType } from "../messages/schema.js";
import type { RandomBytes } from "../random.js";

/** SPAKE2+ context: "OpenClaw-Pair/1" || device id (8) || window nonce (16). */
export function setupContext(deviceId: Uint8Array, windowNonce: Uint8Array): Uint8Array {
  return concatBytes(utf8(PROTOCOL_NAME), deviceId, windowNonce);
}

export const SETUP_KEYS_INFO = `${PROTOCOL_NAME} setup keys`;

/** HKDF-SHA256(ikm = K_shared, salt = empty, info = "OpenClaw-Pair/1 setup keys", 64 bytes). */
export function setupKeys(kShared: Uint8Array): { c2a: Uint8Array; a2c: Uint8Array } {
  const okm = hkdfSha256(kShared, new Uint8Array(0), utf8(SETUP_KEYS_INFO), 64);
  return { c2a: okm.slice(0, 32), a2c: okm.slice(32, 64) };
}

const ORDER = p256.Point.Fn.ORDER;

/**
 * A SPAKE2+ ephemeral scalar (x or y): 48 bytes from the random stream, big-endian, mod n, redrawn
 * while zero. Drawn here (not inside the SPAKE2+ object) so transcripts can record it.
 */
export function drawScalar(random: RandomBytes): Uint8Array {
  for (;;) {
    let k = 0n;
    for (const b of random(48)) k = (k << 8n) | BigInt(b);
    k %= ORDER;
    if (k !== 0n) {
      const out = new Uint8Array(32);
      for (let i = 31; i >= 0; i--) {
        out[i] = Number(k & 0xffn);
        k >>= 8n;
      }
      return out;
    }
  }
}

/** AAD of a sealed payload: the header of the message that carries it. */
function aad(type: number): Uint8Array {
  return Uint8Array.of(PROTOCOL_VERSION, type);
}

// ---- controller → accessory (PairSetupFinish) ----

export interface ControllerSealed {
  staticPublicKey: Uint8Array;
  name: string;
}

export function sealControllerInfo(key: Uint8Array, p: ControllerSealed): Uint8Array {
  const pt = encodeTlv([
    [0x01, p.staticPublicKey],
    [0x02, utf8(p.name)],
  ]);
  return chachaPolyEncrypt(key, 0n, aad(MessageType.PairSetupFinish), pt);
}

function text(items: Map<number, Uint8Array>, tag: number, what: string): string {
  const v = items.get(tag);
  if (v === undefined || v.length > MAX_TEXT) throw protocolError(`sealed ${what} missing or too long`);
  return readUtf8(v, what);
}

function onlyTags(items: Map<number, Uint8Array>, max: number): void {
  for (const tag of items.keys())
    if (tag < 1 || tag > max) throw protocolError("sealed payload: unexpected field");
}

/** Throws PROTOCOL_ERROR when the payload does not decrypt or is malformed. */
export function openControllerInfo(key: Uint8Array, sealed: Uint8Array): ControllerSealed {
  const items = decodeTlv(chachaPolyDecrypt(key, 0n, aad(MessageType.PairSetupFinish), sealed));
  onlyTags(items, 2);
  const staticPublicKey = items.get(0x01);
  if (staticPublicKey?.length !== X25519_KEY_LEN)
    throw protocolError("sealed static key missing or malformed");
  return { staticPublicKey, name: text(items, 0x02, "name") };
}

// ---- accessory → controller (PairSetupDone) ----

export interface AccessorySealed {
  staticPublicKey: Uint8Array;
  tagKey: Uint8Array;
  role: Role;
  name: string;
  model: string;
  firmware: string;
}

const ROLE_WIRE: Record<Role, number> = { admin: 1, user: 2 };

export function sealAccessoryInfo(key: Uint8Array, p: AccessorySealed): Uint8Array {
  const pt = encodeTlv([
    [0x01, p.staticPublicKey],
    [0x02, p.tagKey],
    [0x03, u8(ROLE_WIRE[p.role])],
    [0x04, utf8(p.name)],
    [0x05, utf8(p.model)],
    [0x06, utf8(p.firmware)],
  ]);
  return chachaPolyEncrypt(key, 0n, aad(MessageType.PairSetupDone), pt);
}

export function openAccessoryInfo(key: Uint8Array, sealed: Uint8Array): AccessorySealed {
  const items = decodeTlv(chachaPolyDecrypt(key, 0n, aad(MessageType.PairSetupDone), sealed));
  onlyTags(items, 6);
  const staticPublicKey = items.get(0x01);
  const tagKey = items.get(0x02);
  const role = items.get(0x03);
  if (staticPublicKey?.length !== X25519_KEY_LEN)
    throw protocolError("sealed static key missing or malformed");
  if (tagKey?.length !== TAG_KEY_LEN) throw protocolError("sealed tag key missing or malformed");
  if (role?.length !== 1 || (role[0] !== 1 && role[0] !== 2)) throw protocolError("sealed role malformed");
  return {
    staticPublicKey,
    tagKey,
    role: role[0] === 1 ? "admin" : "user",
    name: text(items, 0x04, "name"),
    model: text(items, 0x05, "model"),
    firmware: text(items, 0x06, "firmware"),
  };
}
