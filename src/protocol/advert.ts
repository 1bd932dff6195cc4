/**
 * Advertising data and scan response of an OpenClaw accessory (legacy advertising: 31 + 31 bytes).
 * Pure: build for bleno (raw AD structures), parse for noble (its parsed fields or raw bytes).
 *
 * Byte budget
 *   advertising data (31)                          scan response (31)
 *     3  Flags            02 01 06                   15  Complete Local Name  0E 09 "OpenClaw-XXXX"
 *    18  128-bit UUIDs    11 07 <service, LE>        16  Manufacturer data    0F FF FF FF <12 bytes>
 *     3  Tx Power Level   02 0A <i8>  (optional)     --
 *    --                                              31
 *    24 (7 spare)
 *
 * Manufacturer data payload (12 bytes after company id 0xFFFF, the reserved test id, little-endian):
 *   [0]     protocol version
 *   [1]     flags: bit0 window open, bit1 has bonds; other bits reserved (0, ignored when parsing)
 *   [2..9]  window open: the first 8 bytes of the window nonce (the full 16 are in the info payload);
 *           window closed: a rotating tag, prand (3 random bytes, fresh per rotation) ||
 *           HMAC-SHA256(tagKey, prand)[0..5], which a bonded controller resolves with the tag key it got at
 *           pair-setup (like a BLE resolvable private address) and nobody else can link across rotations.
 * A name longer than 13 bytes goes out as a Shortened Local Name (type 0x08) cut to 13 bytes.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { toHex } from "./bytes.js";
import { concatBytes } from "./crypto/primitives.js";
import { SERVICE_UUID, uuidFromLeBytes, uuidToLeBytes } from "./gatt.js";

export const LEGACY_AD_MAX = 31;
export const COMPANY_ID = 0xffff;

export const AD_FLAGS = 0x01;
export const AD_UUID128_COMPLETE = 0x07;
export const AD_UUID128_INCOMPLETE = 0x06;
export const AD_NAME_SHORT = 0x08;
export const AD_NAME_COMPLETE = 0x09;
export const AD_TX_POWER = 0x0a;
export const AD_MANUFACTURER = 0xff;

/** LE General Discoverable, BR/EDR not supported. */
const FLAGS_VALUE = 0x06;
const MAX_NAME = 13;

export const MFR_PAYLOAD_LEN = 12;
export const NONCE_PREFIX_LEN = 8;
export const TAG_PRAND_LEN = 3;
export const TAG_HASH_LEN = 5;
export const TAG_LEN = TAG_PRAND_LEN + TAG_HASH_LEN;

export const ADV_FLAG_WINDOW_OPEN = 0x01;
export const ADV_FLAG_HAS_BONDS = 0x02;

export interface AdvertState {
  /** Normally `OpenClaw-XXXX` (advertisedName). */
  name: string;
  version: number;
  windowOpen: boolean;
  hasBonds: boolean;
  /** The window nonce while the window is open (at least 8 bytes; the first 8 are advertised). */
  nonce?: Uint8Array;
  /** The current rotating tag (makeTag) while the window is closed. */
  tag?: Uint8Array;
  txPowerDbm?: number;
}

export interface AdvertPayloads {
  advertisement: Uint8Array;
  scanResponse: Uint8Array;
}

/** What a scanner learns about an OpenClaw accessory from its manufacturer data. */
export interface OpenClawAdvert {
  version: number;
  windowOpen: boolean;
  hasBonds: boolean;
  /** Present while the window is open. */
  noncePrefix?: Uint8Array;
  /** Present while the window is closed. */
  tag?: Uint8Array;
}

/** `OpenClaw-` and the last four hex digits (upper case) of the device id. */
export function advertisedName(deviceId: Uint8Array): string {
  const tail = toHex(deviceId.subarray(-2)).toUpperCase().padStart(4, "0");
  return `OpenClaw-${tail}`;
}

function ad(type: number, data: Uint8Array): Uint8Array {
  if (data.length > 29) throw new RangeError(`AD structure 0x${type.toString(16)} too long`);
  const out = new Uint8Array(2 + data.length);
  out[0] = data.length + 1;
  out[1] = type;
  out.set(data, 2);
  return out;
}

/** The 12-byte manufacturer payload (after the company id). */
export function encodeManufacturerPayload(s: Omit<AdvertState, "name" | "txPowerDbm">): Uint8Array {
  const out = new Uint8Array(MFR_PAYLOAD_LEN);
  out[0] = s.version & 0xff;
  out[1] = (s.windowOpen ? ADV_FLAG_WINDOW_OPEN : 0) | (s.hasBonds ? ADV_FLAG_HAS_BONDS : 0);
  if (s.windowOpen) {
    if (!s.nonce || s.nonce.length < NONCE_PREFIX_LEN) throw new RangeError("an open window needs its nonce");
    out.set(s.nonce.subarray(0, NONCE_PREFIX_LEN), 2);
  } else {
    if (!s.tag || s.tag.length !== TAG_LEN)
      throw new RangeError(`a closed window needs a ${TAG_LEN}-byte tag`);
    out.set(s.tag, 2);
  }
  return out;
}

export function buildAdvertising(s: AdvertState): AdvertPayloads {
  const advParts = [
    ad(AD_FLAGS, Uint8Array.of(FLAGS_VALUE)),
    ad(AD_UUID128_COMPLETE, uuidToLeBytes(SERVICE_UUID)),
  ];
  if (s.txPowerDbm !== undefined) advParts.push(ad(AD_TX_POWER, Uint8Array.of(s.txPowerDbm & 0xff)));
  const nameBytes = new TextEncoder().encode(s.name);
  const nameAd =
    nameBytes.length <= MAX_NAME
      ? ad(AD_NAME_COMPLETE, nameBytes)
      : ad(AD_NAME_SHORT, truncateUtf8(nameBytes, MAX_NAME));
  const mfr = new Uint8Array(2 + MFR_PAYLOAD_LEN);
  mfr[0] = COMPANY_ID & 0xff;
  mfr[1] = COMPANY_ID >>> 8;
  mfr.set(encodeManufacturerPayload(s), 2);
  const out = {
    advertisement: concatBytes(...advParts),
    scanResponse: concatBytes(nameAd, ad(AD_MANUFACTURER, mfr)),
  };
  // The layout above guarantees this; the check keeps a future edit honest.
  if (out.advertisement.length > LEGACY_AD_MAX || out.scanResponse.length > LEGACY_AD_MAX) {
    throw new RangeError("advertising payload over the legacy 31-byte limit");
  }
  return out;
}

/** Cuts UTF-8 at a character boundary so the shortened name stays valid text. */
function truncateUtf8(bytes: Uint8Array, max: number): Uint8Array {
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

// ---- tags --------------------------------------------------------------------------------------

/** tag = prand || HMAC-SHA256(tagKey, prand)[0..5]. */
export function makeTag(tagKey: Uint8Array, prand: Uint8Array): Uint8Array {
  if (prand.length !== TAG_PRAND_LEN) throw new RangeError(`prand is ${TAG_PRAND_LEN} bytes`);
  const mac = createHmac("sha256", tagKey).update(prand).digest();
  const out = new Uint8Array(TAG_LEN);
  out.set(prand);
  out.set(mac.subarray(0, TAG_HASH_LEN), TAG_PRAND_LEN);
  return out;
}

/** A fresh tag for the next rotation. */
export function rotateTag(tagKey: Uint8Array, random: (n: number) => Uint8Array): Uint8Array {
  return makeTag(tagKey, random(TAG_PRAND_LEN));
}

/** Which of our tag keys (one per bonded device) produced this tag: its index, or -1. */
export function resolveTag(tag: Uint8Array, tagKeys: readonly Uint8Array[]): number {
  if (tag.length !== TAG_LEN) return -1;
  const prand = tag.subarray(0, TAG_PRAND_LEN);
  const hash = Buffer.from(tag.subarray(TAG_PRAND_LEN));
  for (const [i, key] of tagKeys.entries()) {
    const expected = createHmac("sha256", key).update(prand).digest().subarray(0, TAG_HASH_LEN);
    if (timingSafeEqual(expected, hash)) return i;
  }
  return -1;
}

// ---- parsing -----------------------------------------------------------------------------------

export interface AdStructure {
  type: number;
  data: Uint8Array;
}

/** Splits AD structures; stops quietly at a zero length (padding) and ignores a truncated tail. */
export function parseAdStructures(data: Uint8Array): AdStructure[] {
  const out: AdStructure[] = [];
  let off = 0;
  while (off < data.length) {
    const len = data[off]!;
    if (len === 0) break;
    if (off + 1 + len > data.length) break;
    out.push({ type: data[off + 1]!, data: data.slice(off + 2, off + 1 + len) });
    off += 1 + len;
  }
  return out;
}

/**
 * Parses manufacturer-specific data as noble reports it (company id little-endian first). Returns null
 * for anything that is not an OpenClaw block; never throws on hostile input.
 */
export function parseManufacturerData(data: Uint8Array | undefined | null): OpenClawAdvert | null {
  if (!data || data.length !== 2 + MFR_PAYLOAD_LEN) return null;
  if ((data[0]! | (data[1]! << 8)) !== COMPANY_ID) return null;
  const flags = data[3]!;
  const windowOpen = (flags & ADV_FLAG_WINDOW_OPEN) !== 0;
  const tail = data.slice(4, 4 + TAG_LEN);
  return {
    version: data[2]!,
    windowOpen,
    hasBonds: (flags & ADV_FLAG_HAS_BONDS) !== 0,
    ...(windowOpen ? { noncePrefix: tail } : { tag: tail }),
  };
}

export interface ParsedAdvertising {
  name?: string;
  serviceUuids: string[];
  txPowerDbm?: number;
  openclaw: OpenClawAdvert | null;
}

/** Parses raw advertising data plus scan response (what the air or a sniffer sees). */
export function parseAdvertising(advertisement: Uint8Array, scanResponse?: Uint8Array): ParsedAdvertising {
  const structures = [
    ...parseAdStructures(advertisement),
    ...parseAdStructures(scanResponse ?? new Uint8Array()),
  ];
  const out: ParsedAdvertising = { serviceUuids: [], openclaw: null };
  for (const s of structures) {
    switch (s.type) {
      case AD_NAME_COMPLETE:
      case AD_NAME_SHORT:
        out.name = new TextDecoder().decode(s.data);
        break;
      case AD_UUID128_COMPLETE:
      case AD_UUID128_INCOMPLETE:
        for (let i = 0; i + 16 <= s.data.length; i += 16)
          out.serviceUuids.push(uuidFromLeBytes(s.data.subarray(i, i + 16)));
        break;
      case AD_TX_POWER:
        if (s.data.length === 1) out.txPowerDbm = (s.data[0]! << 24) >> 24;
        break;
      case AD_MANUFACTURER:
        out.openclaw ??= parseManufacturerData(s.data);
        break;
    }
  }
  return out;
}

/** Whether a scanned device is an OpenClaw accessory: our service UUID or our manufacturer block. */
export function isOpenClaw(p: {
  serviceUuids?: readonly string[];
  manufacturerData?: Uint8Array | null;
}): boolean {
  return (
    (p.serviceUuids ?? []).some((u) => u.replaceAll("-", "").toLowerCase() === SERVICE_UUID) ||
    parseManufacturerData(p.manufacturerData) !== null
  );
}
