/**
 * The GATT client side of OpenClaw Pair over noble (with src/radio/peripheral.ts, the only modules that
 * load noble or bleno). It knows advertising and GATT, not the protocol: it scans for OpenClaw devices
 * (adverts parsed by src/protocol/advert.ts), connects with a timeout and cancels cleanly, discovers our
 * service, reads the info characteristic, and exposes rx/tx as a FrameLink for src/transport.
 *
 * noble is loaded lazily, after `useHci(spec)` (src/radio/hci), so the same code drives a kernel adapter
 * or an H4 stream (the virtual air). noble is one adapter per process and a singleton: open one Central.
 *
 * MTU: noble has no API to ask for a particular MTU; it always requests 256 right after connecting and
 * records the answer on `peripheral.mtu` (lib/noble.js onMtu; lib/hci-socket/gatt.js exchangeMtu), which
 * we read once discovery is done (the MTU exchange is queued before it). To negotiate less (tests at MTU
 * 23), `maxMtu` wraps Gatt.prototype.mtuRequest — the builder of the request PDU — in this process only.
 * Frames are sized from the MTU actually negotiated, never above it (noble would send a Write Command
 * longer than the MTU otherwise, which real devices reject).
 */
import { createRequire } from "node:module";
import { type Clock, sleep, type TimerHandle, withDeadline } from "../clock/clock.js";
import { systemClock } from "../clock/system.js";
import { type OpenClawAdvert, parseManufacturerData } from "../protocol/advert.js";
import { OpenClawError, protocolError } from "../protocol/errors.js";
import { INFO_CHAR_UUID, RX_CHAR_UUID, SERVICE_UUID, TX_CHAR_UUID } from "../protocol/gatt.js";
import { decodeInfo } from "../protocol/messages/info.js";
import type { FrameLink } from "../transport/channel.js";
import { MAX_ATT_MTU, MIN_ATT_MTU } from "../transport/frame.js";
import { adapterStateText } from "./adapter-state.js";
import { type CachedCharacteristic, type CachedGatt, GattCache, propertyNames } from "./gatt-cache.js";
import { type HciReport, onHciReport } from "./hci/reports.js";
import { forgetNoblePeripheral, noblePeripheralCount } from "./noble-tables.js";

// ---- the bits of noble we use (it ships no types) ----------------------------------------------------
interface NobleCharacteristic {
  uuid: string;
  properties: string[];
  readAsync(): Promise<Buffer>;
  writeAsync(data: Buffer, withoutResponse: boolean): Promise<void>;
  subscribeAsync(): Promise<void>;
  on(event: "data", listener: (data: Buffer, isNotification: boolean) => void): void;
  removeAllListeners(event?: string): void;
}
interface NoblePeripheral {
  id: string;
  address: string;
  connectable: boolean;
  rssi: number;
  mtu: number | null;
  state: string;
  /** noble's service objects of the peripheral (null before the first discovery). */
  services?: Array<{ uuid: string }> | null;
  advertisement: {
    localName?: string;
    serviceUuids?: string[];
    manufacturerData?: Buffer;
    txPowerLevel?: number;
  };
  connect(params: ConnectParams | undefined, cb: (err?: Error | null) => void): void;
  disconnect(cb?: () => void): void;
  cancelConnect(): void;
  updateRssiAsync(): Promise<number>;
  discoverSomeServicesAndCharacteristicsAsync(
    services: string[],
    characteristics: string[],
  ): Promise<{ characteristics: NobleCharacteristic[] }>;
  writeHandleAsync(handle: number, data: Buffer, withoutResponse: boolean): Promise<void>;
  readHandleAsync(handle: number): Promise<Buffer>;
  once(event: "disconnect", listener: (reason?: number) => void): void;
  on(event: "servicesDiscover", listener: (services: NobleService[]) => void): void;
  on(event: "servicesDiscovered", listener: (p: unknown, services: RawService[]) => void): void;
  removeListener(event: string, listener: (...args: never[]) => void): void;
}
interface NobleService {
  uuid: string;
  once(event: "characteristicsDiscovered", listener: (raw: CachedCharacteristic[]) => void): void;
}
interface RawService {
  uuid: string;
  startHandle: number;
  endHandle: number;
}
interface ConnectParams {
  minInterval?: number;
  maxInterval?: number;
  latency?: number;
  timeout?: number;
}
interface Noble {
  state: string;
  address: string;
  on(event: "stateChange", listener: (state: string) => void): void;
  on(event: "discover", listener: (p: NoblePeripheral) => void): void;
  on(event: "warning", listener: (message: string) => void): void;
  removeListener(event: string, listener: (...args: never[]) => void): void;
  startScanningAsync(services?: string[], allowDuplicates?: boolean): Promise<void>;
  stopScanningAsync(): Promise<void>;
  /** noble's way to seed a peripheral's tables without discovery (lib/noble.js). */
  addServices?(peripheralId: string, services: RawService[]): unknown[];
  addCharacteristics?(
    peripheralId: string,
    serviceUuid: string,
    characteristics: CachedCharacteristic[],
  ): NobleCharacteristic[] | undefined;
}
interface GattInstance {
  _address: string;
  _currentCommand: { buffer: Buffer } | null;
  _aclStream?: { _handle?: unknown };
}
interface GattClass {
  prototype: {
    mtuRequest(mtu: number): Buffer;
    onAclStreamData(this: GattInstance, cid: number, data: Buffer): void;
    writeAtt(this: GattInstance, data: Buffer): void;
  };
}

/** What the ATT tap reports of one device's link (noble drops ATT errors to handle reads/writes). */
type AttEvent =
  | { kind: "error"; request: number; handle: number; code: number }
  | { kind: "cccd"; handle: number };
const attListeners = new Set<(deviceId: string, e: AttEvent) => void>();
const ATT_CID = 0x0004;
const deviceIdOf = (address: string) => address.replaceAll(":", "").toLowerCase();
/**
 * The device on each HCI link handle, learnt from what noble writes on it: the HCI guard's reports of
 * malformed PDUs name a handle, connect() needs to know whether it is the device being connected.
 * One handle per device: a device's new link replaces its old one, whose handle is never asked about
 * again (a controller may give it to another device, whose first write names it anew). Without that
 * the table kept an entry per link the process ever made.
 */
export class LinkDevices {
  readonly #byHandle = new Map<number, string>();

  note(handle: number, deviceId: string): void {
    if (this.#byHandle.get(handle) === deviceId) return;
    for (const [h, d] of this.#byHandle) if (d === deviceId) this.#byHandle.delete(h);
    this.#byHandle.set(handle, deviceId);
  }

  get(handle: number): string | undefined {
    return this.#byHandle.get(handle);
  }

  get size(): number {
    return this.#byHandle.size;
  }
}
const linkDevices = new LinkDevices();

function onAtt(id: string, fn: (e: AttEvent) => void): () => void {
  const l = (deviceId: string, e: AttEvent) => {
    if (deviceId === id) fn(e);
  };
  attListeners.add(l);
  return () => attListeners.delete(l);
}

export interface CentralOptions {
  /** HCI spec for useHci (`unix:/path?label=x`, `tcp:host:port`, `hci0`); undefined = default adapter. */
  hci?: string;
  /** How long to wait for the adapter to report poweredOn (default 10 s). */
  powerOnTimeoutMs?: number;
  /** Ask for at most this ATT MTU (23..517; noble asks 256 otherwise). Process-wide. */
  maxMtu?: number;
  /**
   * Trouble that did not stop the radio: noble's own warnings (text only), and what the HCI layer
   * contained (a malformed PDU from a device, an exception inside noble; `error` is then typed).
   * Default: dropped.
   */
  onWarning?: (message: string, error?: OpenClawError) => void;
  /** Where every wait runs (default: the system clock; entry points pass theirs). */
  clock?: Clock;
  /**
   * An advertiser not heard for this long, with no link or connect, is forgotten here and in noble's
   * tables (default 2 min; src/radio/noble-tables.ts says why).
   */
  peripheralTtlMs?: number;
}

export const DEFAULT_PERIPHERAL_TTL_MS = 120_000;

/** One OpenClaw device as seen in a scan. */
export interface ScanResult {
  /** noble's peripheral id (the address without colons): what connect() takes. */
  id: string;
  address: string;
  rssi: number;
  name?: string;
  connectable: boolean;
  txPowerDbm?: number;
  /** The manufacturer block: version, window state, nonce prefix or rotating tag; null if absent. */
  advert: OpenClawAdvert | null;
}

export interface ScanOptions {
  /** Report every device, not only OpenClaw ones. */
  all?: boolean;
}

export interface ConnectOptions {
  /** Connection establishment, service discovery and subscription together (default 10 s). */
  timeoutMs?: number;
  /** Cancels a connection attempt in progress. */
  signal?: AbortSignal;
  /** Connection interval in ms (7.5..4000), and supervision timeout in ms. */
  intervalMs?: number;
  supervisionTimeoutMs?: number;
  /** GATT write timeout per frame (default 10 s). */
  writeTimeoutMs?: number;
  /** Shown in timeout errors (defaults to the device's name or id). */
  label?: string;
}

const adapterError = (detail: string) => new OpenClawError("ADAPTER_UNAVAILABLE", { detail });

function within<T>(clock: Clock, p: Promise<T>, ms: number, what: string): Promise<T> {
  return withDeadline(
    clock,
    p,
    ms,
    `central: ${what}`,
    () => new OpenClawError("TIMEOUT", { what, afterMs: ms }),
  );
}

let noblePromise: Promise<Noble> | undefined;
let mtuCap: number | undefined;

/** Routes noble to the HCI spec, then loads it (once per process: noble is a singleton). */
async function loadNoble(hci: string | undefined, maxMtu: number | undefined, clock: Clock): Promise<Noble> {
  if (maxMtu !== undefined) {
    if (!Number.isInteger(maxMtu) || maxMtu < MIN_ATT_MTU || maxMtu > MAX_ATT_MTU) {
      throw new OpenClawError("INVALID_ARGUMENT", {
        detail: `maxMtu must be ${MIN_ATT_MTU}..${MAX_ATT_MTU}`,
      });
    }
    mtuCap = maxMtu;
  }
  noblePromise ??= (async () => {
    const { useHci } = await import("./hci/index.js");
    useHci(hci, { clock });
    const require = createRequire(import.meta.url);
    try {
      const Gatt = require("@abandonware/noble/lib/hci-socket/gatt.js") as GattClass;
      const original = Gatt.prototype.mtuRequest;
      Gatt.prototype.mtuRequest = function (mtu: number) {
        return original.call(this, mtuCap === undefined ? mtu : Math.min(mtu, mtuCap));
      };
      // An ATT tap on what devices answer: the error responses noble swallows (a write or read by
      // handle would wait forever), and the CCCD handle its subscribe finds but does not keep.
      const onData = Gatt.prototype.onAclStreamData;
      Gatt.prototype.onAclStreamData = function (cid: number, data: Buffer) {
        if (cid === ATT_CID && attListeners.size > 0 && data.length > 0) {
          const id = deviceIdOf(this._address);
          const req = this._currentCommand?.buffer;
          let e: AttEvent | undefined;
          if (data[0] === 0x01 && data.length >= 5)
            e = { kind: "error", request: data[1]!, handle: data.readUInt16LE(2), code: data[4]! };
          else if (
            data[0] === 0x09 &&
            data.length >= 4 &&
            req?.[0] === 0x08 &&
            req.length === 7 &&
            req.readUInt16LE(5) === 0x2902
          )
            e = { kind: "cccd", handle: data.readUInt16LE(2) };
          if (e) for (const l of [...attListeners]) l(id, e);
        }
        return onData.call(this, cid, data);
      };
      const writeAtt = Gatt.prototype.writeAtt;
      Gatt.prototype.writeAtt = function (data: Buffer) {
        const handle = this._aclStream?._handle;
        if (typeof handle === "number") linkDevices.note(handle, deviceIdOf(this._address));
        return writeAtt.call(this, data);
      };
    } catch {
      // Another noble layout: the MTU noble negotiates is used as is (frames still fit it).
    }
    try {
      return require("@abandonware/noble") as Noble;
    } catch (err) {
      throw adapterError(`cannot load noble: ${(err as Error).message}`);
    }
  })();
  try {
    return await noblePromise;
  } catch (err) {
    noblePromise = undefined;
    throw err;
  }
}

/**
 * Resolves once noble is poweredOn. Fails at once when the HCI layer reports the adapter unusable
 * (no Bluetooth, no such adapter, no permission, no virtual radio at that path): that reason, not a
 * generic "did not power on", is what a person needs.
 */
function waitPoweredOn(noble: Noble, timeoutMs: number, clock: Clock): Promise<void> {
  return new Promise((resolve, reject) => {
    let lastAdapterError: OpenClawError<"ADAPTER_UNAVAILABLE"> | undefined;
    const done = (err?: OpenClawError) => {
      clock.clearTimeout(timer);
      unsubscribe();
      noble.removeListener("stateChange", onState);
      if (err) reject(err);
      else resolve();
    };
    const unsubscribe = onHciReport((r) => {
      if (r.kind !== "adapter") return;
      lastAdapterError = r.error;
      done(r.error);
    });
    const onState = (state: string) => {
      if (state === "poweredOn") done();
      else if (state === "unsupported" || state === "unauthorized")
        done(lastAdapterError ?? adapterError(adapterStateText(state)));
    };
    const timer = clock.setTimeout("central.power-on", timeoutMs, () =>
      done(
        lastAdapterError ??
          adapterError(
            `the adapter did not power on within ${Math.round(timeoutMs / 1000)} s: ${adapterStateText(noble.state)}`,
          ),
      ),
    );
    noble.on("stateChange", onState);
    if (noble.state === "poweredOn") done();
  });
}

function toScanResult(p: NoblePeripheral): ScanResult {
  const a = p.advertisement;
  return {
    id: p.id,
    address: p.address,
    rssi: p.rssi,
    connectable: p.connectable,
    advert: parseManufacturerData(a.manufacturerData),
    ...(a.localName !== undefined ? { name: a.localName } : {}),
    ...(a.txPowerLevel !== undefined ? { txPowerDbm: a.txPowerLevel } : {}),
  };
}

function isOurs(p: NoblePeripheral): boolean {
  const uuids = p.advertisement.serviceUuids ?? [];
  return (
    uuids.some((u) => u.replaceAll("-", "").toLowerCase() === SERVICE_UUID) || toScanResult(p).advert !== null
  );
}

/** Whether a characteristic declaration's value (properties, value handle, UUID) is `c`'s. */
function declares(decl: Buffer, c: CachedCharacteristic): boolean {
  if (decl.length !== 3 + 16) return false;
  const uuid = Buffer.from(decl.subarray(3)).reverse().toString("hex");
  return decl[0] === c.properties && decl.readUInt16LE(1) === c.valueHandle && uuid === c.uuid;
}

type ScanListener = { all: boolean; fn: (r: ScanResult) => void };

/** When a device's adverts were last heard, and the gap between them (its advertising interval). */
interface Heard {
  at: number;
  intervalMs: number | undefined;
}

/** One connect waiting for the controller's single LE Create Connection. */
interface Initiation {
  p: NoblePeripheral;
  params: ConnectParams | undefined;
  /** Called with noble's connect callback result once the attempt has been handed to noble. */
  done: (err?: Error | null) => void;
  started: boolean;
  /** When it was queued (clock ms). */
  at: number;
}

/** An advert and its scan response arrive together: gaps shorter than this are not an interval. */
const MIN_ADV_GAP_MS = 15;
/** What an LE Create Connection takes to reach the controller: an advert due sooner is missed. */
const INITIATE_LEAD_MS = 10;
/** A device silent for this many of its intervals (or 2 s) is not counted on to advertise soon. */
const STALE_INTERVALS = 4;
const STALE_MS = 2000;
const HEARD_MAX = 512;
/**
 * Connects asked for together (a batch of devices) are pooled this long before the first is chosen,
 * while the best one's advert is still DEFER_GUARD_MS or more away: the wait costs nothing when the
 * advert comes when expected (the link could not come up before it), and at most this when it does not.
 */
const POOL_MS = 10;
const DEFER_GUARD_MS = 25;

/**
 * A controller initiates one connection at a time (LE Create Connection; another is Command
 * Disallowed), and the link comes up at the target's next advert. noble queues connects first come
 * first served, so with N devices every connect waits on average half an advertising interval for a
 * device whose advert was just heard, N times over. Here the queue is ours (noble gets one attempt at a
 * time) and the next attempt is the device whose next advert is due soonest: from the adverts the scan
 * hears, its last one plus its interval. Devices not heard lately go last, in arrival order.
 * An attempt given up while still queued just leaves the queue (noble's cancelConnect would cancel
 * whichever connection is pending at the controller, another device's).
 */
class Initiator {
  private readonly queue: Initiation[] = [];
  /** Settles the attempt noble has (undefined: the controller is free). */
  private current: ((err?: Error | null) => void) | undefined;
  /** A pick put off while connects are pooled. */
  private deferred: TimerHandle | undefined;
  private readonly heard = new Map<string, Heard>();

  constructor(
    private readonly clock: Clock,
    /** Tests watch the order connections are handed to noble. */
    private readonly onStart?: (id: string) => void,
  ) {}

  noteAdvert(id: string): void {
    const now = this.clock.now();
    const h = this.heard.get(id);
    if (!h) {
      // Every advertiser in range is heard (phones change address): the long silent ones go.
      if (this.heard.size >= HEARD_MAX)
        for (const [k, v] of this.heard) if (now - v.at > STALE_MS) this.heard.delete(k);
      this.heard.set(id, { at: now, intervalMs: undefined });
      return;
    }
    const gap = now - h.at;
    if (gap < MIN_ADV_GAP_MS) return;
    // A mean of the gaps (advDelay's jitter included); a gap of 1.5 intervals or more is an advert
    // missed (the scan does not hear every one) and moves it slowly (the device may have slowed down).
    if (h.intervalMs === undefined) h.intervalMs = gap;
    else h.intervalMs += (gap - h.intervalMs) / (gap < 1.5 * h.intervalMs ? 4 : 16);
    h.at = now;
  }

  /** When the device's next advert is expected (Infinity: not heard lately, or not heard twice). */
  nextAdvert(id: string, now: number): number {
    const h = this.heard.get(id);
    if (!h || h.intervalMs === undefined) return Number.POSITIVE_INFINITY;
    const since = now - h.at;
    if (since > Math.min(STALE_MS, STALE_INTERVALS * h.intervalMs)) return Number.POSITIVE_INFINITY;
    const periods = Math.max(1, Math.ceil((since + INITIATE_LEAD_MS) / h.intervalMs));
    return h.at + periods * h.intervalMs;
  }

  /** Queues a connect; returns a function that withdraws it (false once noble has it: cancel there). */
  enqueue(i: Initiation): () => boolean {
    this.queue.push(i);
    this.pump();
    return () => {
      if (i.started) return false;
      const at = this.queue.indexOf(i);
      if (at >= 0) {
        this.queue.splice(at, 1);
        i.done(new Error("withdrawn before it was started"));
      }
      return true;
    };
  }

  private pump(): void {
    this.clock.clearTimeout(this.deferred);
    this.deferred = undefined;
    if (this.current !== undefined || this.queue.length === 0) return;
    const now = this.clock.now();
    let best = 0;
    let bestDue = this.nextAdvert(this.queue[0]!.p.id, now);
    for (let k = 1; k < this.queue.length; k++) {
      const due = this.nextAdvert(this.queue[k]!.p.id, now);
      if (due < bestDue) {
        best = k;
        bestDue = due;
      }
    }
    // Nothing known of the best one's adverts: no reason to wait.
    const wait = Number.isFinite(bestDue)
      ? Math.min(Math.min(...this.queue.map((q) => q.at)) + POOL_MS, bestDue - DEFER_GUARD_MS) - now
      : 0;
    if (wait > 0) {
      this.deferred = this.clock.setTimeout("central.initiate", wait, () => this.pump());
      return;
    }
    const [i] = this.queue.splice(best, 1) as [Initiation];
    i.started = true;
    this.onStart?.(i.p.id);
    let settled = false;
    const settle = (err?: Error | null) => {
      if (settled) return;
      settled = true;
      // noble's callback comes with LE Connection Complete (or at once on a cancel, noble then queues
      // the next attempt behind the cancel itself): the controller is free for the next one.
      if (this.current === settle) this.current = undefined;
      i.done(err);
      this.pump();
    };
    this.current = settle;
    try {
      i.p.connect(i.params, settle);
    } catch (err) {
      settle(err as Error);
    }
  }

  /** The adapter went away: nothing queued will be connected. */
  fail(err: Error): void {
    this.clock.clearTimeout(this.deferred);
    this.deferred = undefined;
    for (const i of this.queue.splice(0)) i.done(err);
    this.current?.(err); // noble may never call back for the attempt it had
  }
}

export class Central {
  private readonly peripherals = new Map<string, NoblePeripheral>();
  /** When each peripheral's last advert came (the clock's ms). */
  private readonly heardAt = new Map<string, number>();
  /** connect() calls running per peripheral: those are never forgotten. */
  private readonly connecting = new Map<string, number>();
  /** The background sweep that forgets advertisers gone quiet (armed while any are known). */
  private sweep: TimerHandle | undefined;
  private readonly scanListeners = new Set<ScanListener>();
  private readonly connections = new Set<CentralConnection>();
  private scanning: Promise<void> | null = null;
  private readonly initiator: Initiator;
  /** GATT handles of devices connected before, per device id (src/radio/gatt-cache.ts). */
  readonly gattCache = new GattCache();

  private constructor(
    private readonly noble: Noble,
    private readonly clock: Clock,
    onInitiate?: (id: string) => void,
    private readonly ttlMs = DEFAULT_PERIPHERAL_TTL_MS,
  ) {
    this.initiator = new Initiator(clock, onInitiate);
    // A powered-off or vanished adapter takes every link with it, whether or not noble says so.
    noble.on("stateChange", (state) => {
      if (state === "poweredOn") return;
      this.scanning = null;
      for (const c of [...this.connections]) c.lost(`the adapter is ${state}`);
      this.initiator.fail(adapterError(adapterStateText(state)));
    });
    noble.on("discover", (p) => {
      this.peripherals.set(p.id, p);
      this.heardAt.set(p.id, clock.now());
      this.armSweep();
      this.initiator.noteAdvert(p.id);
      if (this.scanListeners.size === 0) return;
      const ours = isOurs(p);
      const result = toScanResult(p);
      for (const l of [...this.scanListeners]) if (l.all || ours) l.fn(result);
    });
  }

  /** Wraps an already loaded noble-compatible object (tests drive Central with a fake this way). */
  static async fromNoble(
    noble: unknown,
    powerOnTimeoutMs = 10_000,
    clock: Clock = systemClock,
    onInitiate?: (id: string) => void,
    peripheralTtlMs?: number,
  ): Promise<Central> {
    const n = noble as Noble;
    await waitPoweredOn(n, powerOnTimeoutMs, clock);
    return new Central(n, clock, onInitiate, peripheralTtlMs);
  }

  /**
   * Forgets the advertisers not heard for ttlMs that have no link and no connect running, here and in
   * noble. Run every ttlMs, so what is held is at most what was heard in the last two TTLs.
   */
  private forgetStale(now: number): void {
    for (const [id, at] of this.heardAt) {
      if (now - at < this.ttlMs || this.connecting.has(id)) continue;
      const p = this.peripherals.get(id);
      // noble's states: disconnected, connecting, connected, disconnecting, error.
      if (p && p.state !== "disconnected" && p.state !== "error") continue;
      this.peripherals.delete(id);
      this.heardAt.delete(id);
      forgetNoblePeripheral(this.noble, id, p?.address);
    }
  }

  /** A sweep every ttlMs while any advertiser is known (also once the crowd has left). */
  private armSweep(): void {
    if (this.sweep !== undefined || this.closed) return;
    this.sweep = this.clock.setTimeout("central.forget", this.ttlMs, () => {
      this.sweep = undefined;
      this.forgetStale(this.clock.now());
      if (this.peripherals.size > 0) this.armSweep();
    });
  }

  /** Advertisers known (for tests and the bench: it must not grow with every address ever heard). */
  get peripheralCount(): { central: number; noble: number | undefined } {
    return { central: this.peripherals.size, noble: noblePeripheralCount(this.noble) };
  }

  /**
   * Loads noble on the given HCI transport and waits until the adapter is powered on. Nothing noble
   * does or a device sends ends the process: the HCI layer contains it and `onWarning` hears of it.
   */
  static async open(opts: CentralOptions = {}): Promise<Central> {
    const clock = opts.clock ?? systemClock;
    const warn = opts.onWarning;
    // Subscribed before noble loads, so what the HCI layer contains is never a bare process warning.
    const unsubscribe = onHciReport((r: HciReport) => warn?.(r.error.message, r.error));
    try {
      const noble = await loadNoble(opts.hci, opts.maxMtu, clock);
      noble.on("warning", (message: string) => warn?.(message)); // also keeps noble from printing
      await waitPoweredOn(noble, opts.powerOnTimeoutMs ?? 10_000, clock);
      const central = new Central(noble, clock, undefined, opts.peripheralTtlMs);
      central.unsubscribe = unsubscribe;
      return central;
    } catch (err) {
      unsubscribe();
      throw err;
    }
  }

  private unsubscribe: () => void = () => {};
  private closed = false;

  get address(): string {
    return this.noble.address;
  }

  /**
   * Reports OpenClaw devices (every advert and scan response: RSSI and window state stay current) until
   * the returned stop() is called. Several scans may overlap; the radio scans while any is active.
   */
  async startScan(
    onResult: (r: ScanResult) => void,
    opts: ScanOptions = {},
  ): Promise<{ stop(): Promise<void> }> {
    if (this.noble.state !== "poweredOn") throw adapterError(adapterStateText(this.noble.state));
    const listener: ScanListener = { all: opts.all === true, fn: onResult };
    this.scanListeners.add(listener);
    if (this.scanning === null) {
      this.scanning = within(
        this.clock,
        this.noble.startScanningAsync([], true),
        5000,
        "starting a scan",
      ).catch((err) => {
        this.scanning = null;
        throw err;
      });
    }
    try {
      await this.scanning;
    } catch (err) {
      this.scanListeners.delete(listener);
      throw err;
    }
    let stopped = false;
    return {
      stop: async () => {
        if (stopped) return;
        stopped = true;
        this.scanListeners.delete(listener);
        if (this.scanListeners.size === 0 && this.scanning !== null) {
          this.scanning = null;
          await within(this.clock, this.noble.stopScanningAsync(), 5000, "stopping a scan").catch(() => {});
        }
      },
    };
  }

  /** Scans for durationMs and returns the latest sighting of each device. */
  async scan(durationMs: number, opts: ScanOptions = {}): Promise<ScanResult[]> {
    const seen = new Map<string, ScanResult>();
    const s = await this.startScan((r) => seen.set(r.id, r), opts);
    await sleep(this.clock, "central.scan", durationMs);
    await s.stop();
    return [...seen.values()];
  }

  /** Scans until a device matches, or TIMEOUT{what}. */
  async find(test: (r: ScanResult) => boolean, timeoutMs: number, what: string): Promise<ScanResult> {
    let found!: (r: ScanResult) => void;
    const hit = new Promise<ScanResult>((resolve) => {
      found = resolve;
    });
    const s = await this.startScan((r) => {
      if (test(r)) found(r);
    });
    try {
      return await within(this.clock, hit, timeoutMs, what);
    } finally {
      await s.stop();
    }
  }

  /**
   * Connects, discovers the OpenClaw service, subscribes to tx and returns the link. On timeout or abort
   * the attempt is cancelled (LE Create Connection Cancel, or a disconnect if it got that far).
   */
  async connect(id: string, opts: ConnectOptions = {}): Promise<CentralConnection> {
    if (this.noble.state !== "poweredOn") throw adapterError(adapterStateText(this.noble.state));
    const p = this.peripherals.get(id);
    if (!p)
      throw new OpenClawError("INVALID_ARGUMENT", { detail: `device ${id} has not been seen in a scan` });
    const label = opts.label ?? p.advertisement.localName ?? id;
    const timeoutMs = opts.timeoutMs ?? 10_000;
    if (opts.signal?.aborted)
      throw new OpenClawError("TIMEOUT", { what: `connecting to ${label}`, afterMs: 0 });
    const params: ConnectParams = {};
    if (opts.intervalMs !== undefined)
      params.minInterval = params.maxInterval = Math.round(opts.intervalMs / 1.25);
    if (opts.supervisionTimeoutMs !== undefined) params.timeout = Math.round(opts.supervisionTimeoutMs / 10);

    const st: { phase: "connecting" | "connected" | "done" } = { phase: "connecting" };
    let timer: TimerHandle | undefined;
    let withdraw: () => boolean = () => false;
    const cancel = (): void => {
      // Still queued here: it just leaves the queue; handed to noble: LE Create Connection Cancel.
      if (st.phase === "connecting" && !withdraw()) p.cancelConnect();
      else if (st.phase === "connected") p.disconnect();
      st.phase = "done";
    };
    let onAbort: (() => void) | undefined;
    const giveUp = new Promise<never>((_, reject) => {
      timer = this.clock.setTimeout("central.connect", timeoutMs, () => {
        cancel();
        reject(new OpenClawError("TIMEOUT", { what: `connecting to ${label}`, afterMs: timeoutMs }));
      });
      onAbort = () => {
        cancel();
        reject(new OpenClawError("TIMEOUT", { what: `connecting to ${label} (cancelled)`, afterMs: 0 }));
      };
      opts.signal?.addEventListener("abort", onAbort, { once: true });
    });
    giveUp.catch(() => {});
    // A malformed PDU from the device while connecting (the HCI guard contained it, and noble may now
    // wait for an answer that never comes) ends the attempt at once, as PROTOCOL_ERROR: a device that
    // answers garbage is not a fading link, and waiting for the timeout or retrying only delays that.
    let malformed!: (err: OpenClawError) => void;
    const refused = new Promise<never>((_, reject) => {
      malformed = reject;
    });
    refused.catch(() => {});
    const stopReports = onHciReport((r) => {
      if (r.kind !== "malformed" || st.phase === "done" || linkDevices.get(r.handle) !== p.id) return;
      malformed(protocolError(`${label} sent malformed ATT data (${r.error.details.detail})`));
    });
    const attempt = (async () => {
      await new Promise<void>((resolve, reject) => {
        withdraw = this.initiator.enqueue({
          p,
          params: Object.keys(params).length > 0 ? params : undefined,
          started: false,
          at: this.clock.now(),
          done: (err) => {
            if (err)
              reject(
                err instanceof OpenClawError ? err : new OpenClawError("OUT_OF_RANGE", {}, { cause: err }),
              );
            else resolve();
          },
        });
      });
      if (st.phase === "done")
        throw new OpenClawError("TIMEOUT", { what: `connecting to ${label}`, afterMs: timeoutMs });
      st.phase = "connected";
      const lost = new Promise<never>((_, reject) => {
        p.once("disconnect", () => reject(new OpenClawError("OUT_OF_RANGE", {})));
      });
      lost.catch(() => {});
      const found = await this.openGatt(p, label, lost);
      const conn = new CentralConnection(
        p,
        found.info,
        found.rx,
        found.tx,
        opts.writeTimeoutMs ?? 10_000,
        label,
        this.clock,
        this.gattCache,
      );
      return conn;
    })();
    // Not forgotten while the attempt runs (it may outlive the race below, see catch).
    this.connecting.set(p.id, (this.connecting.get(p.id) ?? 0) + 1);
    attempt
      .finally(() => {
        const n = (this.connecting.get(p.id) ?? 1) - 1;
        if (n > 0) this.connecting.set(p.id, n);
        else this.connecting.delete(p.id);
      })
      .catch(() => {});
    try {
      const conn = await Promise.race([attempt, giveUp, refused]);
      if (st.phase === "done") {
        conn.disconnect().catch(() => {});
        throw new OpenClawError("TIMEOUT", { what: `connecting to ${label}`, afterMs: timeoutMs });
      }
      st.phase = "done";
      this.connections.add(conn);
      conn.onClose(() => this.connections.delete(conn));
      return conn;
    } catch (err) {
      attempt.then((c) => c.disconnect()).catch(() => {});
      if (st.phase === "connected") p.disconnect();
      st.phase = "done";
      throw err;
    } finally {
      stopReports();
      this.clock.clearTimeout(timer);
      // A signal may outlive many connections (a client's): the attempt's listener goes with it.
      if (onAbort) opts.signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * The OpenClaw characteristics of a fresh link, subscribed to tx: from the cached handles when this
   * process has connected to the device before (the tx declaration checked, one CCCD write), else by full discovery (whose handles
   * are then cached). A cached link the device refuses (any ATT error) is discovered in full instead.
   */
  private async openGatt(
    p: NoblePeripheral,
    label: string,
    lost: Promise<never>,
  ): Promise<Record<"info" | "rx" | "tx", NobleCharacteristic>> {
    const version = parseManufacturerData(p.advertisement.manufacturerData)?.version ?? null;
    const cached = this.gattCache.get(p.id, version);
    if (cached) {
      const seeded = await this.seeded(p, cached, lost).catch((err: unknown) => {
        if (err instanceof OpenClawError && err.code === "OUT_OF_RANGE") throw err;
        return undefined;
      });
      if (seeded) return seeded;
      this.gattCache.forget(p.id);
    }
    return this.discovered(p, label, version, lost);
  }

  private async seeded(
    p: NoblePeripheral,
    c: CachedGatt,
    lost: Promise<never>,
  ): Promise<Record<"info" | "rx" | "tx", NobleCharacteristic> | undefined> {
    const { addServices, addCharacteristics } = this.noble;
    if (!addServices || !addCharacteristics) return undefined;
    // noble's addService appends to the peripheral's service list on every call (1.9.2-26,
    // lib/noble.js), where a discovery replaces the list: without this, each reconnect on cached
    // handles would keep the last link's service and characteristics for the daemon's lifetime.
    if (p.services) p.services = p.services.filter((s) => s.uuid !== c.service.uuid);
    addServices.call(this.noble, p.id, [{ ...c.service }]);
    // noble hands these objects to its gatt as they are (numeric properties, handles); the objects it
    // returns get the decoded names, as discovery would have given them.
    const chars =
      addCharacteristics.call(
        this.noble,
        p.id,
        c.service.uuid,
        c.characteristics.map((ch) => ({ ...ch })),
      ) ?? [];
    const raw = new Map(c.characteristics.map((ch) => [ch.uuid, ch]));
    for (const ch of chars) ch.properties = propertyNames(raw.get(ch.uuid)?.properties ?? 0);
    const byUuid = new Map(chars.map((ch) => [ch.uuid, ch]));
    const info = byUuid.get(INFO_CHAR_UUID);
    const rx = byUuid.get(RX_CHAR_UUID);
    const tx = byUuid.get(TX_CHAR_UUID);
    if (!info || !rx || !tx) return undefined;
    let refuse!: (err: Error) => void;
    const refused = new Promise<never>((_, reject) => {
      refuse = reject;
    });
    refused.catch(() => {});
    const stop = onAtt(p.id, (e) => {
      if (e.kind === "error") refuse(protocolError("the cached GATT handles were refused"));
    });
    try {
      // The tx declaration first: a moved layout can put a writable attribute at the old CCCD handle,
      // and a blind write there would land on it. An unchanged declaration (properties, value handle,
      // UUID) is one round trip where discovery and the CCCD lookup are seven.
      const txRaw = raw.get(TX_CHAR_UUID);
      if (!txRaw) return undefined;
      const decl = await Promise.race([p.readHandleAsync(txRaw.startHandle), refused, lost]);
      if (!declares(decl, txRaw)) return undefined;
      await Promise.race([p.writeHandleAsync(c.txCccd, Buffer.from([0x01, 0x00]), false), refused, lost]);
    } finally {
      stop();
    }
    return { info, rx, tx };
  }

  private async discovered(
    p: NoblePeripheral,
    label: string,
    version: number | null,
    lost: Promise<never>,
  ): Promise<Record<"info" | "rx" | "tx", NobleCharacteristic>> {
    // The handles noble finds, heard from its own events and the ATT tap, for the next connection.
    let service: RawService | undefined;
    let raw: CachedCharacteristic[] | undefined;
    let txCccd: number | undefined;
    const onServices = (services: NobleService[]) => {
      for (const s of services)
        if (s.uuid === SERVICE_UUID)
          s.once("characteristicsDiscovered", (r) => {
            raw = r;
          });
    };
    const onRawServices = (_: unknown, services: RawService[]) => {
      service = services.find((s) => s.uuid === SERVICE_UUID);
    };
    p.on("servicesDiscover", onServices);
    p.on("servicesDiscovered", onRawServices);
    const stop = onAtt(p.id, (e) => {
      if (e.kind === "cccd") txCccd = e.handle;
    });
    try {
      const { characteristics } = await Promise.race([
        p.discoverSomeServicesAndCharacteristicsAsync(
          [SERVICE_UUID],
          [INFO_CHAR_UUID, RX_CHAR_UUID, TX_CHAR_UUID],
        ),
        lost,
      ]).catch((err: unknown) => {
        if (err instanceof OpenClawError) throw err;
        throw protocolError(`${label} does not offer the OpenClaw service`);
      });
      p.removeListener("servicesDiscover", onServices);
      p.removeListener("servicesDiscovered", onRawServices);
      const byUuid = new Map(characteristics.map((c) => [c.uuid, c]));
      const info = byUuid.get(INFO_CHAR_UUID);
      const rx = byUuid.get(RX_CHAR_UUID);
      const tx = byUuid.get(TX_CHAR_UUID);
      if (!info || !rx || !tx) throw protocolError(`${label} lacks an OpenClaw characteristic`);
      await Promise.race([tx.subscribeAsync(), lost]);
      const ours = raw?.filter((c) => [INFO_CHAR_UUID, RX_CHAR_UUID, TX_CHAR_UUID].includes(c.uuid));
      if (service && ours?.length === 3 && txCccd !== undefined) {
        this.gattCache.set(p.id, {
          advertVersion: version,
          service: { uuid: service.uuid, startHandle: service.startHandle, endHandle: service.endHandle },
          characteristics: ours.map(({ uuid, startHandle, valueHandle, endHandle, properties }) => ({
            uuid,
            startHandle,
            valueHandle,
            endHandle,
            properties,
          })),
          txCccd,
        });
      }
      return { info, rx, tx };
    } finally {
      p.removeListener("servicesDiscover", onServices);
      p.removeListener("servicesDiscovered", onRawServices);
      stop();
    }
  }

  /** Stops scanning and disconnects everything. noble itself stays loaded until the process exits. */
  async close(): Promise<void> {
    this.closed = true;
    this.clock.clearTimeout(this.sweep);
    this.sweep = undefined;
    this.unsubscribe();
    this.scanListeners.clear();
    if (this.scanning !== null) {
      this.scanning = null;
      await within(this.clock, this.noble.stopScanningAsync(), 5000, "stopping a scan").catch(() => {});
    }
    await Promise.all([...this.connections].map((c) => c.disconnect().catch(() => {})));
  }
}

type LinkState = { kind: "open" } | { kind: "closed"; reason: string };

/** A connected OpenClaw device: the info characteristic and the rx/tx frame link. */
export class CentralConnection implements FrameLink {
  readonly id: string;
  /** The negotiated ATT MTU. */
  readonly mtu: number;
  readonly maxFrame: number;
  private state: LinkState = { kind: "open" };
  private readonly frameListeners = new Set<(f: Uint8Array) => void>();
  private readonly closeListeners = new Set<(reason: string) => void>();
  private readonly withoutResponse: boolean;

  constructor(
    private readonly p: NoblePeripheral,
    private readonly info: NobleCharacteristic,
    private readonly rx: NobleCharacteristic,
    tx: NobleCharacteristic,
    private readonly writeTimeoutMs: number,
    private readonly label: string,
    private readonly clock: Clock,
    private readonly gattCache?: GattCache,
  ) {
    this.id = p.id;
    this.mtu = Math.min(MAX_ATT_MTU, Math.max(MIN_ATT_MTU, p.mtu ?? MIN_ATT_MTU));
    this.maxFrame = this.mtu - 3;
    this.withoutResponse = rx.properties.includes("writeWithoutResponse");
    tx.on("data", (data) => {
      if (this.state.kind !== "open") return;
      const frame = new Uint8Array(data.buffer, data.byteOffset, data.length).slice();
      for (const l of [...this.frameListeners]) l(frame);
    });
    // Any ATT error from the device (Database Out Of Sync, a handle gone) and the handles are not
    // trusted for the next connection.
    const stopAtt = onAtt(p.id, (e) => {
      if (e.kind === "error") gattCache?.forget(p.id);
    });
    const onDisconnect = (reason?: number) => {
      stopAtt();
      tx.removeAllListeners("data");
      this.closed(
        reason === undefined ? "disconnected" : `disconnected (HCI reason 0x${reason.toString(16)})`,
      );
    };
    p.once("disconnect", onDisconnect);
  }

  get open(): boolean {
    return this.state.kind === "open";
  }

  /** RSSI of the live link, in dBm. */
  readRssi(): Promise<number> {
    return within(this.clock, this.p.updateRssiAsync(), 5000, `reading the signal strength of ${this.label}`);
  }

  /** The info characteristic's value (decode it with src/protocol/messages/info.ts). */
  async readInfo(timeoutMs = 5000): Promise<Uint8Array> {
    if (this.state.kind === "closed") throw new OpenClawError("OUT_OF_RANGE", {});
    const data = await within(
      this.clock,
      this.info.readAsync(),
      timeoutMs,
      `reading the info of ${this.label}`,
    );
    const bytes = new Uint8Array(data);
    this.noteFirmware(bytes);
    return bytes;
  }

  /** New firmware may lay its GATT out anew: the cached handles go when the version changes. */
  private noteFirmware(infoBytes: Uint8Array): void {
    let firmware: string;
    try {
      firmware = decodeInfo(infoBytes).firmware;
    } catch {
      this.gattCache?.forget(this.id);
      return;
    }
    this.gattCache?.noteFirmware(this.id, firmware);
  }

  async sendFrame(frame: Uint8Array): Promise<void> {
    if (this.state.kind === "closed") throw new OpenClawError("OUT_OF_RANGE", {});
    if (frame.length > this.maxFrame)
      throw protocolError(`frame of ${frame.length} bytes over ${this.maxFrame}`);
    await within(
      this.clock,
      this.rx.writeAsync(Buffer.from(frame), this.withoutResponse),
      this.writeTimeoutMs,
      `writing to ${this.label}`,
    );
  }

  onFrame(listener: (frame: Uint8Array) => void): () => void {
    this.frameListeners.add(listener);
    return () => this.frameListeners.delete(listener);
  }

  onClose(listener: (reason: string) => void): () => void {
    if (this.state.kind === "closed") {
      const reason = this.state.reason;
      queueMicrotask(() => listener(reason));
      return () => {};
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** Disconnects (resolves when the controller confirms, or after 5 s). */
  async disconnect(): Promise<void> {
    if (this.state.kind === "closed") return;
    const gone = new Promise<void>((resolve) => this.onClose(() => resolve()));
    this.p.disconnect();
    await within(this.clock, gone, 5000, `disconnecting from ${this.label}`).catch(() =>
      this.closed("disconnect timed out"),
    );
  }

  /** The adapter went away: the link is gone even if no disconnect event will ever come. */
  lost(reason: string): void {
    this.closed(reason);
  }

  private closed(reason: string): void {
    if (this.state.kind === "closed") return;
    this.state = { kind: "closed", reason };
    for (const l of [...this.closeListeners]) l(reason);
    this.closeListeners.clear();
    this.frameListeners.clear();
  }
}
