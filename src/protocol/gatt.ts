/**
 * The OpenClaw GATT profile: one primary 128-bit service with three characteristics. The UUIDs were
 * generated once at random (base dd96xxxx-f4de-414d-99f6-c24409c64cfe, numbered like the Nordic UART
 * service) and are fixed forever for protocol v1.
 *
 *   service  dd960001-f4de-414d-99f6-c24409c64cfe  primary
 *   info     dd960002-…  read                         the info payload (src/protocol/messages/info.ts)
 *   rx       dd960003-…  write, write without response frames controller → accessory
 *   tx       dd960004-…  notify                       frames accessory → controller
 *
 * rx and tx carry the frames of src/transport (acks travel the opposite way on the same pair).
 * noble and bleno want lower-case hex without dashes; people and docs get the dashed form.
 */
import { fromHex, toHex } from "./bytes.js";

const BASE_TAIL = "-f4de-414d-99f6-c24409c64cfe";

function dashed(n: number): string {
  return `dd96${n.toString(16).padStart(4, "0")}${BASE_TAIL}`;
}

/** The dashed forms, for documentation and for people. */
export const GATT_UUIDS_DASHED = {
  service: dashed(1),
  info: dashed(2),
  rx: dashed(3),
  tx: dashed(4),
} as const;

/** noble/bleno form: 32 lower-case hex digits, no dashes. */
export function compactUuid(uuid: string): string {
  return uuid.replaceAll("-", "").toLowerCase();
}

export const SERVICE_UUID = compactUuid(GATT_UUIDS_DASHED.service);
export const INFO_CHAR_UUID = compactUuid(GATT_UUIDS_DASHED.info);
export const RX_CHAR_UUID = compactUuid(GATT_UUIDS_DASHED.rx);
export const TX_CHAR_UUID = compactUuid(GATT_UUIDS_DASHED.tx);

/** The 16 bytes of a 128-bit UUID in the little-endian order they take in advertising data and ATT. */
export function uuidToLeBytes(uuid: string): Uint8Array {
  const hex = compactUuid(uuid);
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new RangeError(`not a 128-bit UUID: ${uuid}`);
  return fromHex(hex).reverse();
}

/** Inverse of uuidToLeBytes: compact lower-case hex. */
export function uuidFromLeBytes(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new RangeError("a 128-bit UUID is 16 bytes");
  return toHex(bytes.slice().reverse());
}
