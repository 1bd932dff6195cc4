/**
 * The OpenClaw GATT handles of devices this process has connected to, so a reconnect skips discovery
 * (issue 10: full discovery and the CCCD lookup were ≈ 14 of a bonded reconnect's ≈ 22 intervals).
 * ATT handles are stable while a device's GATT database is; a reconnect checks the tx declaration
 * still reads the same before it writes the CCCD by handle. The entry goes on any ATT error from the
 * device (Database Out Of Sync included), when its advertised protocol version changes, or on request
 * (a changed firmware version), and a reconnect without an entry discovers in full. Memory only: the
 * first connection of a process pays one discovery.
 */

/** A characteristic as noble's hci-socket gatt keeps it (its `_characteristics` entries). */
export interface CachedCharacteristic {
  uuid: string;
  startHandle: number;
  valueHandle: number;
  endHandle: number;
  /** The declaration's property bits. */
  properties: number;
}

export interface CachedGatt {
  /** The advertised protocol version when the handles were found (null: no OpenClaw advert seen). */
  advertVersion: number | null;
  service: { uuid: string; startHandle: number; endHandle: number };
  characteristics: CachedCharacteristic[];
  /** The tx characteristic's Client Characteristic Configuration descriptor. */
  txCccd: number;
}

export class GattCache {
  readonly #entries = new Map<string, CachedGatt>();
  /** The firmware version each device last reported in its info, kept across entries. */
  readonly #firmware = new Map<string, string>();

  /** The entry for `id`, unless the device now advertises another protocol version (then dropped). */
  get(id: string, advertVersion: number | null): CachedGatt | undefined {
    const e = this.#entries.get(id);
    if (e && e.advertVersion !== advertVersion) {
      this.#entries.delete(id);
      return undefined;
    }
    return e;
  }

  set(id: string, entry: CachedGatt): void {
    this.#entries.set(id, entry);
  }

  /** The firmware version read from the device's info: a different one drops the entry. */
  noteFirmware(id: string, firmware: string): void {
    const before = this.#firmware.get(id);
    this.#firmware.set(id, firmware);
    if (before !== undefined && before !== firmware) this.#entries.delete(id);
  }

  forget(id: string): void {
    this.#entries.delete(id);
  }

  has(id: string): boolean {
    return this.#entries.has(id);
  }
}

const PROPERTY_NAMES = [
  "broadcast",
  "read",
  "writeWithoutResponse",
  "write",
  "notify",
  "indicate",
  "authenticatedSignedWrites",
  "extendedProperties",
] as const;

/** noble's names for a declaration's property bits (lib/hci-socket/gatt.js discoverCharacteristics). */
export function propertyNames(bits: number): string[] {
  return PROPERTY_NAMES.filter((_, i) => (bits & (1 << i)) !== 0);
}
