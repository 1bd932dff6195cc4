/**
 * bleno as the stack programs in rig/programs and test/fixtures use it: loaded directly, as a user's own
 * unmodified bleno app would (the HCI preload and the virtual air must work for code that is not ours).
 * Only the part of its API those programs call is typed.
 */
import { createRequire } from "node:module";

export type Done = (result: number, data?: Buffer) => void;

export interface CharacteristicOptions {
  uuid: string;
  properties: string[];
  onReadRequest?: (offset: number, callback: Done) => void;
  onWriteRequest?: (
    data: Buffer,
    offset: number,
    withoutResponse: boolean,
    callback: (result: number) => void,
  ) => void;
  onSubscribe?: (maxValueSize: number, update: (data: Buffer) => void) => void;
  onUnsubscribe?: () => void;
}

export interface Bleno {
  state: string;
  address: string;
  PrimaryService: new (o: { uuid: string; characteristics: unknown[] }) => unknown;
  Characteristic: (new (
    o: CharacteristicOptions,
  ) => unknown) & { RESULT_SUCCESS: number; RESULT_INVALID_OFFSET: number };
  on(event: string, listener: (...args: never[]) => void): void;
  once(event: string, listener: (...args: never[]) => void): void;
  startAdvertising(name: string, uuids: string[], cb?: (err?: Error | null) => void): void;
  startAdvertisingWithEIRData(adv: Buffer, scan: Buffer, cb?: (err?: Error | null) => void): void;
  stopAdvertising(cb?: () => void): void;
  setServices(services: unknown[], cb?: (err?: Error | null) => void): void;
  disconnect(): void;
}

/** bleno itself (it opens the HCI on its first stateChange listener). */
export function loadBleno(): Bleno {
  return createRequire(import.meta.url)("@abandonware/bleno") as Bleno;
}
