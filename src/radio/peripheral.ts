/**
 * The GATT server side of OpenClaw Pair over bleno (one of the two modules that may import bleno/noble).
 * It knows GATT and advertising, not the protocol: it serves the info characteristic from a snapshot
 * function, carries frames over rx (write / write without response) and tx (notify) as a FrameLink per
 * connected central, and advertises whatever bytes it is given.
 *
 * bleno is loaded lazily, after `useHci(spec)`, so the same code runs on a kernel adapter or on a
 * unix:/tcp: HCI stream (the virtual air). bleno serves one central at a time; a real single-connection
 * peripheral stops advertising while connected, and so does this one (bleno restarts advertising when
 * the central leaves).
 */
import { EventEmitter } from "node:events";
import type { Clock } from "../clock/clock.js";
import { systemClock } from "../clock/system.js";
import { OpenClawError, protocolError } from "../protocol/errors.js";
import { adapterStateText } from "./adapter-state.js";
import { onHciReport } from "./hci/reports.js";

/** The slice of the FrameLink contract (src/transport) this module implements, structurally. */
export interface PeripheralFrameLink {
  readonly maxFrame: number;
  sendFrame(frame: Uint8Array): Promise<void>;
  onFrame(listener: (frame: Uint8Array) => void): () => void;
  onClose(listener: (reason: string) => void): () => void;
}

export interface GattProfile {
  /** 128-bit UUIDs, with or without dashes. */
  service: string;
  info: string;
  rx: string;
  tx: string;
}

export interface PeripheralOptions {
  profile: GattProfile;
  /** GAP device name (characteristic 0x2A00). */
  deviceName: string;
  /** The info characteristic's value; called once per read (offset 0), long reads reuse that snapshot. */
  readInfo(): Uint8Array;
  /** Largest ATT MTU accepted (23..256: bleno cannot exceed 256). */
  maxMtu?: number;
  /** HCI spec for useHci; undefined = default kernel adapter. */
  hci?: string;
  /** How long to wait for the adapter to power on. */
  powerOnTimeoutMs?: number;
  /** Where every wait runs (default: the system clock; entry points pass theirs). */
  clock?: Clock;
}

export const ATT_MTU_MIN = 23;
const BLENO_MAX_MTU = 256;

// ---- the bits of bleno we use (it ships no types) ----------------------------------------------------
type ReadCallback = (result: number, data?: Buffer | null) => void;
type WriteCallback = (result: number) => void;
type NotifyCallback = (data: Buffer) => void;
interface BlenoCharacteristicOptions {
  uuid: string;
  properties: string[];
  onReadRequest?: (offset: number, callback: ReadCallback) => void;
  onWriteRequest?: (data: Buffer, offset: number, withoutResponse: boolean, callback: WriteCallback) => void;
  onSubscribe?: (maxValueSize: number, updateValueCallback: NotifyCallback) => void;
  onUnsubscribe?: () => void;
}
interface BlenoModule extends EventEmitter {
  state: string;
  address: string;
  PrimaryService: new (o: { uuid: string; characteristics: unknown[] }) => unknown;
  Characteristic: (new (o: BlenoCharacteristicOptions) => unknown) & { RESULT_SUCCESS: number };
  setServices(services: unknown[], cb?: (err?: Error) => void): void;
  startAdvertisingWithEIRData(adv: Buffer, scan: Buffer, cb?: (err?: Error) => void): void;
  stopAdvertising(cb?: () => void): void;
  disconnect(): void;
  _bindings?: { _gatt?: { maxMtu: number } };
}
const ATT_SUCCESS = 0x00;
const ATT_INVALID_OFFSET = 0x07;
const ATT_UNLIKELY = 0x0e;

let blenoPromise: Promise<BlenoModule> | undefined;

/** Routes bleno to the HCI spec, then loads it. Once per process: bleno is a singleton. */
async function loadBleno(hci: string | undefined, clock: Clock): Promise<BlenoModule> {
  blenoPromise ??= (async () => {
    const { useHci } = await import("./hci/index.js");
    useHci(hci, { clock });
    const mod = (await import("@abandonware/bleno")) as unknown as { default?: BlenoModule } & BlenoModule;
    return mod.default ?? mod;
  })();
  return blenoPromise;
}

/** One connected central: a FrameLink over rx/tx whose frame size follows the negotiated ATT MTU. */
export class PeripheralConnection implements PeripheralFrameLink {
  private mtu = ATT_MTU_MIN;
  private notify: NotifyCallback | undefined;
  private readonly frameListeners = new Set<(frame: Uint8Array) => void>();
  private readonly closeListeners = new Set<(reason: string) => void>();
  /** Frames written before anyone listens (the channel attaches a moment after connect). */
  private pending: Uint8Array[] = [];
  private closedReason: string | undefined;
  private readyWaiters: Array<() => void> = [];

  constructor(readonly peer: string) {}

  get attMtu(): number {
    return this.mtu;
  }

  /** ATT MTU − 3: the most a single notification or write carries. */
  get maxFrame(): number {
    return this.mtu - 3;
  }

  get subscribed(): boolean {
    return this.notify !== undefined;
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /** Resolves when the central has subscribed to tx (it can hear us). */
  whenSubscribed(): Promise<void> {
    if (this.notify || this.closedReason) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  async sendFrame(frame: Uint8Array): Promise<void> {
    if (this.closedReason !== undefined) throw new OpenClawError("OUT_OF_RANGE", {});
    if (frame.length > this.maxFrame) {
      // bleno would silently truncate the notification; refuse instead.
      throw protocolError(`frame of ${frame.length} bytes exceeds the ${this.maxFrame}-byte link limit`);
    }
    if (!this.notify) throw protocolError("the controller has not subscribed to notifications");
    this.notify(Buffer.from(frame));
  }

  onFrame(listener: (frame: Uint8Array) => void): () => void {
    this.frameListeners.add(listener);
    if (this.pending.length > 0) {
      const queued = this.pending;
      this.pending = [];
      queueMicrotask(() => {
        for (const f of queued) listener(f);
      });
    }
    return () => this.frameListeners.delete(listener);
  }

  onClose(listener: (reason: string) => void): () => void {
    if (this.closedReason !== undefined) {
      const reason = this.closedReason;
      queueMicrotask(() => listener(reason));
      return () => {};
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  // ---- driven by Peripheral ----
  setMtu(mtu: number): void {
    this.mtu = mtu;
  }

  setNotify(cb: NotifyCallback | undefined): void {
    this.notify = cb;
    if (cb) {
      const waiters = this.readyWaiters;
      this.readyWaiters = [];
      for (const w of waiters) w();
    }
  }

  deliver(frame: Uint8Array): void {
    if (this.closedReason !== undefined) return;
    if (this.frameListeners.size === 0) {
      this.pending.push(frame);
      return;
    }
    for (const l of this.frameListeners) l(frame);
  }

  end(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    this.notify = undefined;
    this.pending = [];
    for (const w of this.readyWaiters) w();
    this.readyWaiters = [];
    for (const l of this.closeListeners) l(reason);
    this.closeListeners.clear();
    this.frameListeners.clear();
  }
}

export interface PeripheralEvents {
  connect: [conn: PeripheralConnection];
  /** The central subscribed to tx: frames can flow both ways. */
  linkReady: [conn: PeripheralConnection];
  mtu: [conn: PeripheralConnection, mtu: number];
  disconnect: [conn: PeripheralConnection, reason: string];
  /** The adapter went away or powered off after start. */
  adapterLost: [err: OpenClawError<"ADAPTER_UNAVAILABLE">];
  advertisingError: [err: Error];
  /**
   * Trouble the HCI layer contained without stopping: a malformed PDU from a central (answered or
   * dropped: PROTOCOL_ERROR), an exception inside bleno (INTERNAL; that central's link was dropped).
   */
  warning: [err: OpenClawError];
}

export class Peripheral extends EventEmitter<PeripheralEvents> {
  private conn: PeripheralConnection | undefined;
  private advert: { adv: Buffer; scan: Buffer } | undefined;
  private advertising = false;
  private stopped = false;
  private infoSnapshot: Buffer | undefined;
  private readonly clock: Clock;
  private unsubscribe: () => void = () => {};
  /** The last adapter failure the HCI layer reported after start-up (it says why better than a state). */
  private lastAdapterError: OpenClawError<"ADAPTER_UNAVAILABLE"> | undefined;

  private constructor(
    private readonly bleno: BlenoModule,
    private readonly opts: PeripheralOptions,
  ) {
    super();
    this.clock = opts.clock ?? systemClock;
  }

  /**
   * Loads bleno on the given HCI, waits for the adapter to power on, installs the GATT service. Nothing
   * bleno does or a central sends ends the process: the HCI layer contains it (`warning` events).
   */
  static async start(opts: PeripheralOptions): Promise<Peripheral> {
    const clock = opts.clock ?? systemClock;
    // Subscribed before bleno loads: a failing adapter is then reported by powerOn, once, not as a
    // process warning too.
    const early: OpenClawError<"ADAPTER_UNAVAILABLE">[] = [];
    let p: Peripheral | undefined;
    const unsubscribe = onHciReport((r) => {
      if (r.kind === "adapter") {
        if (!p)
          early.push(r.error); // later ones: powerOn's own subscription, then adapterLost
        else p.lastAdapterError = r.error;
      } else p?.emit("warning", r.error);
    });
    try {
      const bleno = await loadBleno(opts.hci, clock);
      p = new Peripheral(bleno, opts);
      p.unsubscribe = unsubscribe;
      await p.powerOn(opts.powerOnTimeoutMs ?? 10_000, early);
      p.installServices();
      p.wire();
      return p;
    } catch (err) {
      unsubscribe();
      throw err;
    }
  }

  /** The adapter's public address as bleno reports it. */
  get address(): string {
    return this.bleno.address;
  }

  get connection(): PeripheralConnection | undefined {
    return this.conn;
  }

  /**
   * Advertises these bytes (≤ 31 each). While a central is connected the new data is kept and applied
   * when it leaves, because a single-connection peripheral is not advertising then.
   */
  async setAdvertising(adv: Uint8Array, scan: Uint8Array): Promise<void> {
    this.advert = { adv: Buffer.from(adv), scan: Buffer.from(scan) };
    if (this.conn || this.stopped) return;
    await this.applyAdvertising();
  }

  async stopAdvertising(): Promise<void> {
    this.advert = undefined;
    // Without an adapter there is nothing to stop, and no answer would come.
    if (!this.advertising || this.bleno.state !== "poweredOn") return;
    this.advertising = false;
    await new Promise<void>((resolve) => {
      const t = this.clock.setTimeout("peripheral.stop-advertising", 2000, resolve);
      this.bleno.stopAdvertising(() => {
        this.clock.clearTimeout(t);
        resolve();
      });
    });
  }

  /** Drops the current central's link (the device decided to hang up). */
  disconnect(): void {
    if (this.conn) this.bleno.disconnect();
  }

  /** Stops advertising, drops the link and detaches from bleno's events. */
  async close(): Promise<void> {
    if (this.stopped) return;
    await this.stopAdvertising().catch(() => {});
    this.stopped = true;
    this.unsubscribe();
    this.disconnect();
    this.conn?.end("shutdown");
    this.conn = undefined;
    this.bleno.removeAllListeners("accept");
    this.bleno.removeAllListeners("disconnect");
    this.bleno.removeAllListeners("mtuChange");
  }

  /**
   * Waits for poweredOn. An adapter the HCI layer reports unusable (no Bluetooth, no such adapter, no
   * permission, no virtual radio at that path) fails at once with that reason.
   */
  private async powerOn(timeoutMs: number, early: OpenClawError<"ADAPTER_UNAVAILABLE">[]): Promise<void> {
    if (this.bleno.state === "poweredOn") return;
    const isStream = /^(unix|tcp):/.test(this.opts.hci ?? "");
    await new Promise<void>((resolve, reject) => {
      let off = (): void => {};
      const finish = (err?: OpenClawError): void => {
        this.clock.clearTimeout(timer);
        this.bleno.removeListener("stateChange", onState);
        off();
        if (err) reject(err);
        else resolve();
      };
      const timer = this.clock.setTimeout("peripheral.power-on", timeoutMs, () =>
        finish(
          early[0] ??
            new OpenClawError("ADAPTER_UNAVAILABLE", {
              detail: `the adapter did not power on within ${Math.round(timeoutMs / 1000)} s: ${adapterStateText(this.bleno.state)}`,
            }),
        ),
      );
      const onState = (state: string) => {
        if (state === "poweredOn") finish();
        else if (
          state === "unauthorized" ||
          state === "unsupported" ||
          // An HCI stream that is down at start is not coming up by itself (the air is not running).
          (state === "poweredOff" && isStream)
        ) {
          finish(early[0] ?? new OpenClawError("ADAPTER_UNAVAILABLE", { detail: adapterStateText(state) }));
        }
      };
      off = onHciReport((r) => {
        if (r.kind === "adapter") finish(r.error);
      });
      if (early[0]) {
        finish(early[0]);
        return;
      }
      // Adding the first stateChange listener is what makes bleno open the HCI socket.
      this.bleno.on("stateChange", onState);
    });
  }

  private installServices(): void {
    const { profile } = this.opts;
    const Characteristic = this.bleno.Characteristic;
    const strip = (u: string) => u.replace(/-/g, "").toLowerCase();

    const info = new Characteristic({
      uuid: strip(profile.info),
      properties: ["read"],
      onReadRequest: (offset, callback) => {
        // A long read at MTU 23 arrives as Read then Read Blob at growing offsets: serve one snapshot,
        // or the pieces of two different values (a countdown ticked in between) would be glued together.
        if (offset === 0 || !this.infoSnapshot) this.infoSnapshot = Buffer.from(this.opts.readInfo());
        if (offset > this.infoSnapshot.length) return callback(ATT_INVALID_OFFSET, null);
        callback(ATT_SUCCESS, this.infoSnapshot.subarray(offset));
      },
    });
    const rx = new Characteristic({
      uuid: strip(profile.rx),
      properties: ["write", "writeWithoutResponse"],
      onWriteRequest: (data, offset, _withoutResponse, callback) => {
        const conn = this.conn;
        if (!conn || offset !== 0) return callback(ATT_UNLIKELY);
        callback(ATT_SUCCESS);
        conn.deliver(new Uint8Array(data));
      },
    });
    const tx = new Characteristic({
      uuid: strip(profile.tx),
      properties: ["notify"],
      onSubscribe: (_max, update) => {
        const conn = this.conn;
        if (!conn) return;
        conn.setNotify(update);
        this.emit("linkReady", conn);
      },
      onUnsubscribe: () => this.conn?.setNotify(undefined),
    });

    // bleno reads the GAP name from the environment when the services are built.
    process.env["BLENO_DEVICE_NAME"] = this.opts.deviceName;
    const maxMtu = Math.min(Math.max(this.opts.maxMtu ?? BLENO_MAX_MTU, ATT_MTU_MIN), BLENO_MAX_MTU);
    // bleno has no option for its MTU ceiling; its GATT server keeps it in maxMtu (checked in bleno 0.6.2).
    const gatt = this.bleno._bindings?._gatt;
    if (gatt && typeof gatt.maxMtu === "number") gatt.maxMtu = maxMtu;
    this.bleno.setServices([
      new this.bleno.PrimaryService({ uuid: strip(profile.service), characteristics: [info, rx, tx] }),
    ]);
  }

  private wire(): void {
    this.bleno.on("accept", (address: string) => {
      this.conn?.end("replaced");
      const conn = new PeripheralConnection(address);
      this.conn = conn;
      this.infoSnapshot = undefined;
      this.advertising = false;
      this.emit("connect", conn);
    });
    this.bleno.on("mtuChange", (mtu: number) => {
      if (!this.conn) return;
      this.conn.setMtu(mtu);
      this.emit("mtu", this.conn, mtu);
    });
    this.bleno.on("disconnect", () => {
      const conn = this.conn;
      this.conn = undefined;
      this.infoSnapshot = undefined;
      if (conn) {
        conn.end("disconnected");
        this.emit("disconnect", conn, "disconnected");
      }
      // bleno re-enables advertising with the data it had; push the current data (window may have changed).
      if (!this.stopped && this.advert) this.applyAdvertising().catch(() => {});
    });
    this.bleno.on("stateChange", (state: string) => {
      if (state !== "poweredOn" && !this.stopped) {
        this.advertising = false;
        this.conn?.end("adapter lost");
        this.conn = undefined;
        // The HCI layer's own words first (for a stream: "the virtual radio at … is gone"), else the state.
        const err =
          this.lastAdapterError ??
          new OpenClawError("ADAPTER_UNAVAILABLE", { detail: adapterStateText(state) });
        this.lastAdapterError = undefined;
        this.emit("adapterLost", err);
      } else if (state === "poweredOn" && !this.stopped && this.advert) {
        this.applyAdvertising().catch(() => {});
      }
    });
  }

  private applyAdvertising(): Promise<void> {
    const advert = this.advert;
    if (!advert) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = this.clock.setTimeout("peripheral.advertising-start", 2000, () => {
        cleanup();
        // Some controllers answer a re-enable with "command disallowed" yet keep advertising the new
        // data; a missing confirmation is not worth failing the device over.
        resolve();
      });
      const onStart = () => {
        cleanup();
        this.advertising = true;
        resolve();
      };
      const onError = (err: Error) => {
        cleanup();
        this.emit("advertisingError", err);
        reject(err);
      };
      const cleanup = () => {
        this.clock.clearTimeout(timer);
        this.bleno.removeListener("advertisingStart", onStart);
        this.bleno.removeListener("advertisingStartError", onError);
      };
      this.bleno.once("advertisingStart", onStart);
      this.bleno.once("advertisingStartError", onError);
      this.bleno.startAdvertisingWithEIRData(advert.adv, advert.scan);
    });
  }
}
