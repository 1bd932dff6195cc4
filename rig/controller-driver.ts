/**
 * The laptop's side of OpenClaw Pair in one process, for rigs (tests and the bench): the daemon core's
 * ControllerLink over the real noble Central, with the fault-injection hooks tests need. Child programs
 * use it (test/fixtures/driver-child.ts, bench/fixtures/journey-child.ts); test/helpers/driver.ts
 * wraps the child as a typed proxy.
 */
import { randomBytes } from "node:crypto";
import { systemClock } from "../src/clock/index.js";
import { ControllerLink, type PairSetupTap } from "../src/daemon/core/controller-link.js";
import { resolveTag } from "../src/protocol/advert.js";
import { toHex as bytesToHex } from "../src/protocol/bytes.js";
import {
  bondRecordFromJson,
  bondRecordToJson,
  Controller,
  type ControllerBond,
  type ControllerBondJson,
} from "../src/protocol/controller/index.js";
import { OpenClawError } from "../src/protocol/errors.js";
import type { AccessoryInfo } from "../src/protocol/messages/info.js";
import type { RandomBytes } from "../src/protocol/random.js";
import type { Role, SessionClient } from "../src/protocol/session/index.js";
import { Central, type CentralOptions, type ConnectOptions, type ScanResult } from "../src/radio/central.js";
import type { MessageChannelOptions } from "../src/transport/channel.js";

export interface DriverOptions extends CentralOptions {
  /** 16 bytes; random by default (a fresh laptop). */
  controllerId?: Uint8Array;
  /** The laptop's name as the device lists it. */
  name?: string;
  random?: RandomBytes;
  channel?: Omit<MessageChannelOptions, "timers">;
  /** Waiting for each protocol answer from the device (default 10 s). */
  stepTimeoutMs?: number;
}

/**
 * Fault injection for pair-setup: drop the link right after this laptop sent its n-th message (the
 * device has acknowledged it) or right after it received the device's n-th message (before answering).
 */
export type StopAt = { sent: number } | { received: number };

export class ControllerDriver {
  readonly controller: Controller;
  readonly bonds = new Map<string, ControllerBond>();
  private link: ControllerLink | null = null;
  private readonly disconnectListeners = new Set<(reason: string) => void>();
  private readonly notificationListeners = new Set<(channel: number, payload: Uint8Array) => void>();
  private readonly random: RandomBytes;
  private readonly stepTimeoutMs: number;

  private constructor(
    readonly central: Central,
    private readonly opts: DriverOptions,
  ) {
    this.random = opts.random ?? ((n) => new Uint8Array(randomBytes(n)));
    this.controller = new Controller({
      controllerId: opts.controllerId ?? this.random(16),
      name: opts.name ?? "test laptop",
      random: this.random,
    });
    this.stepTimeoutMs = opts.stepTimeoutMs ?? 10_000;
  }

  static async open(opts: DriverOptions = {}): Promise<ControllerDriver> {
    return new ControllerDriver(await Central.open(opts), opts);
  }

  get connected(): boolean {
    return this.link !== null;
  }

  get mtu(): number | undefined {
    return this.link?.conn.mtu;
  }

  onDisconnect(l: (reason: string) => void): () => void {
    this.disconnectListeners.add(l);
    return () => this.disconnectListeners.delete(l);
  }

  onNotification(l: (channel: number, payload: Uint8Array) => void): () => void {
    this.notificationListeners.add(l);
    return () => this.notificationListeners.delete(l);
  }

  scan(durationMs: number): Promise<ScanResult[]> {
    return this.central.scan(durationMs);
  }

  find(test: (r: ScanResult) => boolean, timeoutMs: number, what: string): Promise<ScanResult> {
    return this.central.find(test, timeoutMs, what);
  }

  /** Which bonded device (by id hex) a closed-window advert's rotating tag belongs to, if any. */
  resolve(r: ScanResult): string | undefined {
    const tag = r.advert?.tag;
    if (!tag) return undefined;
    const bonds = [...this.bonds.values()];
    const i = resolveTag(
      tag,
      bonds.map((b) => b.tagKey),
    );
    return i >= 0 ? bytesToHex(bonds[i]!.deviceId) : undefined;
  }

  async connect(id: string, opts: ConnectOptions = {}): Promise<{ mtu: number }> {
    if (this.link) throw new OpenClawError("INVALID_ARGUMENT", { detail: "already connected" });
    const conn = await this.central.connect(id, opts);
    const link = new ControllerLink(conn, {
      controller: this.controller,
      clock: systemClock,
      random: this.random,
      stepTimeoutMs: this.stepTimeoutMs,
      label: opts.label ?? id,
      ...(this.opts.channel ? { channel: this.opts.channel } : {}),
    });
    this.link = link;
    link.onNotification((channel, payload) => {
      for (const l of [...this.notificationListeners]) l(channel, payload);
    });
    link.onClose((reason) => {
      if (this.link === link) this.link = null;
      for (const l of [...this.disconnectListeners]) l(reason);
    });
    return { mtu: conn.mtu };
  }

  async disconnect(): Promise<void> {
    const link = this.link;
    if (!link) return;
    this.link = null;
    await link.disconnect();
  }

  async close(): Promise<void> {
    await this.disconnect();
    await this.central.close();
  }

  private need(): ControllerLink {
    if (!this.link) throw new OpenClawError("OUT_OF_RANGE", {});
    return this.link;
  }

  rssi(): Promise<number> {
    return this.need().readRssi();
  }

  info(): Promise<AccessoryInfo> {
    return this.need().readInfo();
  }

  /**
   * Pair-setup with a typed code: reads info, runs SPAKE2+ and the sealed key exchange. Resolves with
   * the bond (also kept in `bonds`), or null when `stopAt` dropped the link on purpose. Rejects with the
   * device's error (WRONG_CODE{attemptsLeft}, CODE_EXPIRED, LOCKED_OUT, BOND_TABLE_FULL, ...), a local
   * one (MALFORMED_CODE, BAD_CHECK_CHARACTER, WINDOW_CLOSED: nothing sent), TIMEOUT or OUT_OF_RANGE.
   */
  async pair(
    code: string,
    o: { stopAt?: StopAt; info?: AccessoryInfo } = {},
  ): Promise<ControllerBond | null> {
    const link = this.need();
    const info = o.info ?? (await link.readInfo());
    const stopAt = o.stopAt;
    const tap: PairSetupTap | undefined = stopAt
      ? (e) =>
          ("sent" in stopAt && "sent" in e && e.sent === stopAt.sent) ||
          ("received" in stopAt && "received" in e && e.received === stopAt.received)
            ? "stop"
            : "continue"
      : undefined;
    const bond = await link.pairSetup(info, code, tap ? { tap } : {});
    if (bond) this.bonds.set(bytesToHex(bond.deviceId), bond);
    return bond;
  }

  /** Noise KK verify with a bond; afterwards session commands go through `session`. */
  async verify(bond?: ControllerBond): Promise<{ role: Role }> {
    const link = this.need();
    const b = bond ?? [...this.bonds.values()].at(-1);
    if (!b) throw new OpenClawError("INVALID_ARGUMENT", { detail: "no bond to verify with" });
    return link.verify(b);
  }

  /** The verified session (after verify()). */
  get session(): SessionClient {
    const s = this.link?.session;
    if (!s)
      throw new OpenClawError("INVALID_ARGUMENT", { detail: "no verified session (call verify first)" });
    return s;
  }

  /** A session call bounded by the step timeout, named in the TIMEOUT. */
  call<T>(what: string, fn: (s: SessionClient) => Promise<T>): Promise<T> {
    const s = this.session; // INVALID_ARGUMENT before verify
    return this.need().call(what, () => fn(s));
  }

  /** Raw access for fault tests: one protocol message through the channel, or one frame around it. */
  sendMessage(m: Uint8Array): Promise<void> {
    return this.need().sendMessage(m);
  }

  receiveMessage(timeoutMs: number): Promise<Uint8Array> {
    return this.need().receiveMessage(timeoutMs);
  }

  sendFrame(frame: Uint8Array): Promise<void> {
    return this.need().sendFrame(frame);
  }

  exportBond(deviceIdHex?: string): ControllerBondJson {
    const b = deviceIdHex ? this.bonds.get(deviceIdHex) : [...this.bonds.values()].at(-1);
    if (!b) throw new OpenClawError("INVALID_ARGUMENT", { detail: "no such bond" });
    return bondRecordToJson(b);
  }

  importBond(json: unknown): string {
    const b = bondRecordFromJson(json);
    const id = bytesToHex(b.deviceId);
    this.bonds.set(id, b);
    return id;
  }
}
