/**
 * The controller-side test driver: plays the laptop's part of OpenClaw Pair over the real noble, so the
 * simulated device is tested before the daemon exists (as HAP-NodeJS keeps pair-setup/verify clients).
 * It composes exactly what the daemon will: src/radio/central.ts (scan, connect, GATT) +
 * src/transport (MessageChannel over rx/tx) + the pure controller role (pair-setup) + verify and the
 * session client.
 *
 * noble is one adapter per process, so tests run it as a child: `startDriver(air.spec("laptop"))` spawns
 * dist/test/fixtures/driver-child.js (JSON lines, test/helpers/proc.ts) and returns a typed proxy,
 * DriverProcess. The child uses ControllerDriver below; in-process use is possible where a test process
 * owns no other noble.
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { type Child, type ChildEvent, spawnProgram } from "../../rig/proc.js";
import { resolveTag } from "../../src/protocol/advert.js";
import {
  bondRecordFromJson,
  bondRecordToJson,
  Controller,
  type ControllerBond,
  type ControllerBondJson,
} from "../../src/protocol/controller/index.js";
import type { RandomBytes } from "../../src/protocol/env.js";
import { isOpenClawError, OpenClawError, protocolError } from "../../src/protocol/errors.js";
import { type AccessoryInfo, decodeInfo } from "../../src/protocol/messages/info.js";
import type { Role, SessionClient } from "../../src/protocol/session/index.js";
import { ControllerVerify, openClientSession } from "../../src/protocol/verify/index.js";
import {
  Central,
  type CentralConnection,
  type CentralOptions,
  type ConnectOptions,
  type ScanResult,
} from "../../src/radio/central.js";
import { MessageChannel, type MessageChannelOptions } from "../../src/transport/channel.js";

export interface DriverOptions extends CentralOptions {
  /** 16 bytes; random by default (a fresh laptop). */
  controllerId?: Uint8Array;
  /** The laptop's name as the device lists it. */
  name?: string;
  random?: RandomBytes;
  channel?: MessageChannelOptions;
  /** Waiting for each protocol answer from the device (default 10 s). */
  stepTimeoutMs?: number;
}

/**
 * Fault injection for pair-setup: drop the link right after this laptop sent its n-th message (the
 * device has acknowledged it) or right after it received the device's n-th message (before answering).
 */
export type StopAt = { sent: number } | { received: number };

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new OpenClawError("TIMEOUT", { what, afterMs: ms })), ms);
    }),
  ]);
}

interface Link {
  conn: CentralConnection;
  channel: MessageChannel;
  session: SessionClient | null;
}

export class ControllerDriver {
  readonly controller: Controller;
  readonly bonds = new Map<string, ControllerBond>();
  private link: Link | null = null;
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
    return i >= 0 ? hex(bonds[i]!.deviceId) : undefined;
  }

  async connect(id: string, opts: ConnectOptions = {}): Promise<{ mtu: number }> {
    if (this.link) throw new OpenClawError("INVALID_ARGUMENT", { detail: "already connected" });
    const conn = await this.central.connect(id, opts);
    const channel = new MessageChannel(conn, this.opts.channel);
    const link: Link = { conn, channel, session: null };
    this.link = link;
    conn.onClose((reason) => {
      channel.close();
      link.session?.close(new OpenClawError("OUT_OF_RANGE", {}));
      if (this.link === link) this.link = null;
      for (const l of [...this.disconnectListeners]) l(reason);
    });
    return { mtu: conn.mtu };
  }

  async disconnect(): Promise<void> {
    const link = this.link;
    if (!link) return;
    this.link = null;
    link.channel.close();
    await link.conn.disconnect();
  }

  async close(): Promise<void> {
    await this.disconnect();
    await this.central.close();
  }

  private need(): Link {
    if (!this.link) throw new OpenClawError("OUT_OF_RANGE", {});
    return this.link;
  }

  rssi(): Promise<number> {
    return this.need().conn.readRssi();
  }

  async info(): Promise<AccessoryInfo> {
    return decodeInfo(await this.need().conn.readInfo());
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
    const info = o.info ?? (await this.info());
    const ps = this.controller.pairSetup(info, code);
    let sent = 0;
    let received = 0;
    const stopAfterSend = async (m: Uint8Array): Promise<boolean> => {
      await link.channel.send(m);
      sent++;
      if (o.stopAt && "sent" in o.stopAt && o.stopAt.sent === sent) {
        await this.disconnect();
        return true;
      }
      return false;
    };
    if (await stopAfterSend(ps.firstMessage)) return null;
    for (;;) {
      const what = received === 0 ? "the device's pair-setup challenge" : "the device's pair-setup answer";
      const msg = await link.channel.receive(this.stepTimeoutMs, what);
      received++;
      if (o.stopAt && "received" in o.stopAt && o.stopAt.received === received) {
        await this.disconnect();
        return null;
      }
      const step = ps.handle(msg);
      for (const r of step.replies) {
        if (step.outcome?.kind === "failed") await link.channel.send(r).catch(() => {});
        else if (await stopAfterSend(r)) return null;
      }
      if (step.outcome?.kind === "ok") {
        this.bonds.set(hex(step.outcome.value.deviceId), step.outcome.value);
        return step.outcome.value;
      }
      if (step.outcome?.kind === "failed") throw step.outcome.error;
    }
  }

  /** Noise KK verify with a bond; afterwards session commands go through `session`. */
  async verify(bond?: ControllerBond): Promise<{ role: Role }> {
    const link = this.need();
    const b = bond ?? [...this.bonds.values()].at(-1);
    if (!b) throw new OpenClawError("INVALID_ARGUMENT", { detail: "no bond to verify with" });
    const v = new ControllerVerify({
      deviceId: b.deviceId,
      identity: b.controllerStaticKey,
      accessoryPublicKey: b.accessoryStaticPublicKey,
      random: this.random,
    });
    await link.channel.send(v.start());
    const answer = await link.channel.receive(this.stepTimeoutMs, "the device's verify answer");
    const { client, role } = openClientSession(v, answer, {
      clock: { now: () => performance.now() },
      random: this.random,
      send: (m) => {
        link.channel.send(m).catch((err: unknown) => {
          client.close(isOpenClawError(err) ? err : protocolError("session send failed"));
        });
      },
    });
    link.session = client;
    link.channel.onMessage((m) => {
      if (client.state.kind === "open") client.receive(m);
    });
    link.channel.onError((err) => client.close(err));
    client.onNotification((m) => {
      for (const l of [...this.notificationListeners]) l(m.channel, m.payload);
    });
    return { role };
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
    return within(fn(this.session), this.stepTimeoutMs, `the device's answer to ${what}`);
  }

  /** Raw access for fault tests: one protocol message through the channel, or one frame around it. */
  sendMessage(m: Uint8Array): Promise<void> {
    return this.need().channel.send(m);
  }

  receiveMessage(timeoutMs: number): Promise<Uint8Array> {
    return this.need().channel.receive(timeoutMs, "a message from the device");
  }

  sendFrame(frame: Uint8Array): Promise<void> {
    return this.need().conn.sendFrame(frame);
  }

  exportBond(deviceIdHex?: string): ControllerBondJson {
    const b = deviceIdHex ? this.bonds.get(deviceIdHex) : [...this.bonds.values()].at(-1);
    if (!b) throw new OpenClawError("INVALID_ARGUMENT", { detail: "no such bond" });
    return bondRecordToJson(b);
  }

  importBond(json: unknown): string {
    const b = bondRecordFromJson(json);
    const id = hex(b.deviceId);
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
