/**
 * What the daemon's core needs from a BLE central, and nothing more: a continuous scan that reports
 * every advert, and connect → a link that carries frames (src/transport's FrameLink) plus the info
 * characteristic, the live RSSI and a disconnect. `centralPort` adapts src/radio/central.ts (noble);
 * `MemoryRadio` (./testing/memory-radio.ts) implements it over in-memory accessories for tests, so the
 * core's logic runs without noble.
 */
import type { ScanResult } from "../../radio/central.js";
import type { FrameLink } from "../../transport/channel.js";

/**
 * One advertising report (advert or scan response) of an OpenClaw device: src/radio's scan result —
 * `id` is what `connect` takes, `rssi` this report's (unsmoothed), `advert` the manufacturer block.
 */
export type RadioAdvert = ScanResult;

export interface RadioScan {
  stop(): Promise<void>;
}

export interface RadioConnectOptions {
  /** Connection establishment, discovery and subscription together. */
  timeoutMs?: number;
  /** Cancels the attempt. */
  signal?: AbortSignal;
  /** Shown in timeout errors. */
  label?: string;
}

/** A connected device: frames both ways (FrameLink) plus the info characteristic and RSSI. */
export interface RadioLink extends FrameLink {
  /** The radio id it was connected by. */
  readonly id: string;
  /** The negotiated ATT MTU. */
  readonly mtu: number;
  /** False once the link closed (onClose listeners have run or are about to). */
  readonly open: boolean;
  /** The info characteristic's raw value (decode with src/protocol/messages/info.ts). */
  readInfo(timeoutMs?: number): Promise<Uint8Array>;
  /** RSSI of the live link in dBm. */
  readRssi(): Promise<number>;
  /** Hangs up; resolves once the link is closed (onClose has fired). */
  disconnect(): Promise<void>;
}

export interface RadioPort {
  /** This adapter's address. */
  readonly address: string;
  /**
   * Reports OpenClaw adverts until stop(). Several scans may overlap. Rejects with ADAPTER_UNAVAILABLE
   * when the adapter cannot scan.
   */
  startScan(onAdvert: (a: RadioAdvert) => void): Promise<RadioScan>;
  /**
   * Connects to a device seen in a scan. Rejects with TIMEOUT{what}, OUT_OF_RANGE, PROTOCOL_ERROR (not an
   * OpenClaw device), INVALID_ARGUMENT (never seen), ADAPTER_UNAVAILABLE.
   */
  connect(id: string, opts?: RadioConnectOptions): Promise<RadioLink>;
  /** Stops every scan and drops every link this port made. */
  close(): Promise<void>;
}
