/**
 * The controller-side test driver: plays the laptop's part of OpenClaw Pair over the real noble, so the
 * simulated device is tested step by step (pair without verify, raw frames, fault injection) where the
 * daemon would do everything at once. It is a thin handle on the daemon core's own composition:
 * src/radio/central.ts (scan, connect) + src/daemon/core/controller-link.ts (the MessageChannel, the
 * controller role's pair-setup, verify and the session client) — nothing of that is copied here.
 *
 * noble is one adapter per process, so tests run it as a child: `startDriver(air.spec("laptop"))` spawns
 * dist/test/fixtures/driver-child.js (JSON lines, test/helpers/proc.ts) and returns a typed proxy,
 * DriverProcess. The child uses ControllerDriver below; in-process use is possible where a test process
 * owns no other noble.
 */
import { randomBytes } from "node:crypto";
import { systemClock } from "../../src/clock/index.js";
import { ControllerLink, type PairSetupTap } from "../../src/daemon/core/controller-link.js";
import { resolveTag } from "../../src/protocol/advert.js";
import {
  bondRecordFromJson,
  bondRecordToJson,
  Controller,
  type ControllerBond,
  type ControllerBondJson,
} from "../../src/protocol/controller/index.js";
import { bytesToHex } from "../../src/protocol/crypto/primitives.js";
import type { RandomBytes } from "../../src/protocol/env.js";
import { OpenClawError } from "../../src/protocol/errors.js";
import type { AccessoryInfo } from "../../src/protocol/messages/info.js";
import type { Role, SessionClient } from "../../src/protocol/session/index.js";
import {
  Central,
  type CentralOptions,
  type ConnectOptions,
  type ScanResult,
} from "../../src/radio/central.js";
import type { MessageChannelOptions } from "../../src/transport/channel.js";
import { type Child, type ChildEvent, spawnProgram } from "./proc.js";

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

// ---- the child-process proxy for tests ---------------------------------------------------------

/** What a scan reports, JSON-safe. */
export interface ScanResultJson {
  id: string;
  address: string;
  rssi: number;
  name: string | null;
  txPowerDbm: number | null;
  advert: {
    version: number;
    windowOpen: boolean;
    hasBonds: boolean;
    noncePrefix: string | null;
    tag: string | null;
    /** The bonded device id this laptop resolved the tag to. */
    resolvedDeviceId: string | null;
  } | null;
}

export interface BondSummary {
  deviceId: string;
  controllerId: string;
  role: Role;
  accessoryName: string;
  model: string;
  firmware: string;
}

export type DriverEvent =
  | { type: "ready"; address: string; controllerId: string }
  | { type: "disconnect"; reason: string }
  | { type: "notification"; channel: number; payload: string }
  | {
      type: "failure";
      cmd: string;
      error: { code: string; message: string; details: Record<string, unknown> };
    }
  | { type: "result"; req: number; ok: boolean; value?: unknown; error?: { code?: string; message: string } };

export interface StartDriverOptions {
  /** Shown in errors. */
  name?: string;
  /** 32 hex digits; random otherwise. */
  controllerId?: string;
  /** The laptop name the device lists. */
  laptopName?: string;
  /** Negotiate at most this ATT MTU (23 exercises fragmentation hardest). */
  maxMtu?: number;
  stepTimeoutMs?: number;
}

/** An error from the driver child, with the OpenClawError code and details when there were any. */
export class DriverError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly details: Record<string, unknown> | undefined,
  ) {
    super(message);
  }
}

/** A driver child on an HCI spec (e.g. `air.spec("laptop")`). Kill it with `killAll()` / `end()`. */
export class DriverProcess {
  readonly child: Child<DriverEvent & ChildEvent>;
  private readyEvent: Promise<{ address: string; controllerId: string }>;

  constructor(hci: string, o: StartDriverOptions = {}) {
    const args: string[] = [];
    if (o.controllerId) args.push("--controller-id", o.controllerId);
    if (o.laptopName) args.push("--name", o.laptopName);
    if (o.maxMtu !== undefined) args.push("--max-mtu", String(o.maxMtu));
    if (o.stepTimeoutMs !== undefined) args.push("--step-timeout", String(o.stepTimeoutMs));
    this.child = spawnProgram<DriverEvent & ChildEvent>("test/fixtures/driver-child.js", {
      name: o.name ?? "driver",
      hci,
      args,
    });
    this.readyEvent = this.child.next("ready", 10_000, "the driver's adapter powering on").then((e) => ({
      address: e.address,
      controllerId: e.controllerId,
    }));
    this.readyEvent.catch(() => {});
  }

  ready(): Promise<{ address: string; controllerId: string }> {
    return this.readyEvent;
  }

  private async call<V>(cmd: string, args: object = {}, timeoutMs = 15_000): Promise<V> {
    await this.readyEvent;
    const mark = this.child.mark();
    try {
      return await this.child.call<V>(cmd, args, timeoutMs);
    } catch (err) {
      const failure = this.child.events
        .slice(mark)
        .find((e): e is Extract<DriverEvent, { type: "failure" }> => e.type === "failure" && e.cmd === cmd);
      const code = (err as { code?: string }).code;
      throw new DriverError((err as Error).message, failure?.error.code ?? code, failure?.error.details);
    }
  }

  scan(durationMs: number): Promise<ScanResultJson[]> {
    return this.call("scan", { durationMs }, durationMs + 10_000);
  }
  /** Scans until a device with this name (or id) shows up. */
  find(nameOrId: string, timeoutMs = 10_000): Promise<ScanResultJson> {
    return this.call("find", { name: nameOrId, timeoutMs }, timeoutMs + 5000);
  }
  connect(id: string, o: { timeoutMs?: number; intervalMs?: number } = {}): Promise<{ mtu: number }> {
    return this.call("connect", { id, ...o }, (o.timeoutMs ?? 10_000) + 5000);
  }
  info(): Promise<Record<string, unknown>> {
    return this.call("info");
  }
  pair(code: string, stopAt?: StopAt): Promise<BondSummary | null> {
    return this.call("pair", { code, ...(stopAt ? { stopAt } : {}) }, 30_000);
  }
  verify(deviceId?: string): Promise<{ role: Role }> {
    return this.call("verify", deviceId ? { deviceId } : {});
  }
  status(): Promise<Record<string, unknown>> {
    return this.call("status");
  }
  listPairings(): Promise<
    Array<{ controllerId: string; name: string; role: Role; state: string; self: boolean }>
  > {
    return this.call("listPairings");
  }
  removePairing(controllerId?: string): Promise<{ removedSelf: boolean }> {
    return this.call("removePairing", controllerId ? { controllerId } : {});
  }
  share(o: { ttlMs: number; role?: Role; format?: "passkey" | "long" }): Promise<{
    code: string;
    display: string;
    format: string;
    role: Role;
    timeLeftMs: number;
  }> {
    return this.call("share", o);
  }
  rotate(): Promise<null> {
    return this.call("rotate");
  }
  factoryReset(): Promise<null> {
    return this.call("factoryReset");
  }
  app(channel: number, payloadHex: string): Promise<string> {
    return this.call("app", { channel, payload: payloadHex });
  }
  sendMessage(hexMessage: string): Promise<null> {
    return this.call("sendMessage", { data: hexMessage });
  }
  receiveMessage(timeoutMs: number): Promise<string> {
    return this.call("receiveMessage", { timeoutMs }, timeoutMs + 5000);
  }
  sendFrame(hexFrame: string): Promise<null> {
    return this.call("sendFrame", { data: hexFrame });
  }
  exportBond(deviceId?: string): Promise<ControllerBondJson> {
    return this.call("exportBond", deviceId ? { deviceId } : {});
  }
  importBond(bond: ControllerBondJson): Promise<string> {
    return this.call("importBond", { bond });
  }
  rssi(): Promise<number> {
    return this.call("rssi");
  }
  disconnect(): Promise<null> {
    return this.call("disconnect");
  }
  /** Closes stdin: the child disconnects and exits. */
  end(): Promise<unknown> {
    return this.child.end();
  }
}

export function startDriver(hci: string, o: StartDriverOptions = {}): DriverProcess {
  return new DriverProcess(hci, o);
}
