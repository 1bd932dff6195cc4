/**
 * An in-memory "air" for the daemon's core: real accessories (src/protocol/accessory, the same role
 * the simulated device runs) behind in-memory frame links (src/transport/memory-link.ts), and centrals
 * that implement the core's RadioPort over them — so the core runs in-process, without noble, on a
 * ManualClock. Frames are delivered on the microtask queue (no clock time passes on a link); the
 * device's own deadlines (window expiry, provisional bonds) and advertising run on the clock.
 *
 *   const air = new MemoryAir({ clock });
 *   const dev = air.addDevice({ seed: "claw-1", app: new ClawApp(() => {}) });
 *   const core = createDaemonCore({ radio: air.central(), ... });
 *   dev.code  // the code on the device's display
 *
 * For tests, benches and examples only.
 */
import type { Clock, TimerHandle } from "../../../clock/index.js";
import { Accessory, type AccessoryLink } from "../../../protocol/accessory/accessory.js";
import { BondTable, type BondTableOptions } from "../../../protocol/accessory/bonds.js";
import { generateAccessoryIdentity } from "../../../protocol/accessory/identity.js";
import type {
  AccessoryEvent,
  AccessoryIdentity,
  AccessoryOutput,
  BondView,
} from "../../../protocol/accessory/types.js";
import { advertisedName, rotateTag } from "../../../protocol/advert.js";
import { toHex as bytesToHex } from "../../../protocol/bytes.js";
import { OpenClawError } from "../../../protocol/errors.js";
import { PROTOCOL_VERSION } from "../../../protocol/messages/constants.js";
import type { CodeFormatName } from "../../../protocol/messages/info.js";
import { type RandomBytes, seededRandom } from "../../../protocol/random.js";
import type { AppHandler } from "../../../protocol/session/accessory.js";
import { createSessionFactory } from "../../../protocol/verify/handler.js";
import type { WindowPolicy } from "../../../protocol/window/policy.js";
import { MessageChannel } from "../../../transport/channel.js";
import { createMemoryLinkPair, type MemoryLinkPair } from "../../../transport/memory-link.js";
import type { RadioAdvert, RadioConnectOptions, RadioLink, RadioPort, RadioScan } from "../radio-port.js";

export interface MemoryDeviceOptions {
  /** Seeds the device's randomness (identity, codes, tags): the same seed is the same device. */
  seed: string;
  /** Profile name (default OpenClaw-XXXX from the id). */
  name?: string;
  model?: string;
  firmware?: string;
  /** Bluetooth address (default derived from the seed). */
  address?: string;
  rssi?: number;
  format?: CodeFormatName;
  bonds?: BondTableOptions;
  window?: Partial<WindowPolicy>;
  /** The device's application functions (e.g. firmware-sim's ClawApp). */
  app?: AppHandler;
  /** ATT MTU of its links (default 247). */
  mtu?: number;
}

interface DeviceLinkState {
  pair: MemoryLinkPair;
  channel: MessageChannel;
  link: AccessoryLink;
  queue: Promise<void>;
  central: MemoryCentral;
}

/** One simulated device in memory: the accessory role plus what a radio would show of it. */
export class MemoryDevice {
  readonly radioId: string;
  readonly address: string;
  /** RSSI reported in adverts and for live links. */
  rssi: number;
  /** Every accessory event, in order (display events carry the code: tests read it, nothing logs it). */
  readonly events: AccessoryEvent[] = [];
  /** Fault hook on every new link (e.g. `pair.intercept(...)`). */
  onLink: ((pair: MemoryLinkPair) => void) | undefined;
  #accessory!: Accessory;
  #identity!: AccessoryIdentity;
  #tag!: Uint8Array;
  #code: string | undefined;
  #inRange = true;
  #deadline: TimerHandle | undefined;
  readonly #random: RandomBytes;
  readonly #links = new Set<DeviceLinkState>();
  readonly #o: MemoryDeviceOptions;
  /** What "flash" holds: the bond table as last persisted (a reboot reloads it). */
  #persistedBonds: unknown;

  constructor(
    private readonly air: MemoryAir,
    o: MemoryDeviceOptions,
  ) {
    this.#o = o;
    this.#random = seededRandom(`memory-device:${o.seed}`);
    const addr = seededRandom(`memory-address:${o.seed}`)(6);
    this.address = o.address ?? [...addr].map((b) => b.toString(16).padStart(2, "0")).join(":");
    this.radioId = this.address.replaceAll(":", "").toLowerCase();
    this.rssi = o.rssi ?? -50;
    this.#boot(generateAccessoryIdentity(this.#random), undefined);
  }

  get accessory(): Accessory {
    return this.#accessory;
  }

  get deviceId(): string {
    return bytesToHex(this.#identity.deviceId);
  }

  get name(): string {
    return this.#accessory.profile.name;
  }

  /** The canonical code on the display, while a device-shown window is open. */
  get code(): string | undefined {
    return this.#accessory.window.state.kind === "open" ? this.#code : undefined;
  }

  get connections(): number {
    return this.#links.size;
  }

  get inRange(): boolean {
    return this.#inRange;
  }

  /** Out of range: every link drops (supervision timeout) and nothing is heard from it. */
  set inRange(v: boolean) {
    this.#inRange = v;
    if (!v) this.dropLinks("supervision timeout");
  }

  bonds(): BondView[] {
    return this.#accessory.bonds(this.air.clock.now());
  }

  /** The pairing button: opens a window with a fresh code and returns it. */
  press(): string {
    const opened = this.#accessory.openWindow(
      { reason: "button", ...(this.#o.format ? { format: this.#o.format } : {}) },
      this.air.clock.now(),
    );
    this.#apply(opened.events);
    return opened.code;
  }

  /** The long press: bonds and identity gone, back up as a new device with a boot window. */
  factoryReset(): void {
    this.#apply(this.#accessory.factoryReset(this.air.clock.now()));
    this.#maybeReboot();
  }

  /** A power cut: links drop, volatile state (window, exchanges) is lost, the persisted bonds reload. */
  reboot(): void {
    this.dropLinks("device rebooted");
    this.#boot(this.#identity, this.#persistedBonds);
  }

  /** A fresh rotating tag (devices rotate it periodically). */
  rotateTag(): void {
    this.#tag = rotateTag(this.#identity.tagKey, this.#random);
  }

  dropLinks(reason = "link lost"): void {
    for (const l of [...this.#links]) l.pair.drop(reason);
  }

  /** What a scan hears now. */
  advert(): RadioAdvert {
    const w = this.#accessory.window.state.kind === "open";
    const info = this.#accessory.info(this.air.clock.now());
    const nonce = info.window.state === "open" ? info.window.nonce : undefined;
    return {
      id: this.radioId,
      address: this.address,
      rssi: this.rssi,
      name: this.name.slice(0, 13),
      connectable: true,
      advert: {
        version: PROTOCOL_VERSION,
        windowOpen: w,
        hasBonds: this.#accessory.bondTable.used > 0,
        ...(w && nonce ? { noncePrefix: nonce.slice(0, 8) } : { tag: this.#tag.slice() }),
      },
    };
  }

  /** @internal A central connects. */
  attach(central: MemoryCentral): RadioLink {
    const mtu = this.#o.mtu ?? 247;
    const pair = createMemoryLinkPair(mtu - 3);
    let scheduled = false;
    const flush = () => {
      scheduled = false;
      pair.flush();
    };
    const schedule = () => {
      if (scheduled) return;
      scheduled = true;
      queueMicrotask(flush);
    };
    const autoLink = (side: "a" | "b") => ({
      maxFrame: pair[side].maxFrame,
      sendFrame: (f: Uint8Array) => pair[side].sendFrame(f).then(schedule),
      onFrame: pair[side].onFrame,
      onClose: pair[side].onClose,
    });
    const clock = this.air.clock;
    const channel = new MessageChannel(autoLink("b"), {
      clock,
    });
    const state: DeviceLinkState = {
      pair,
      channel,
      link: this.#accessory.connect(),
      queue: Promise.resolve(),
      central,
    };
    this.#links.add(state);
    const accessoryAtConnect = this.#accessory;
    channel.onMessage((m) => {
      state.queue = state.queue.then(() => this.#onMessage(state, m));
    });
    let open = true;
    pair.b.onClose(() => {
      open = false;
      this.#links.delete(state);
      channel.close();
      // A link of an accessory replaced by a reboot belongs to the old one.
      if (accessoryAtConnect === this.#accessory) this.#apply(state.link.close(clock.now()).events);
    });
    this.onLink?.(pair);
    const a = autoLink("a");
    const link: RadioLink = {
      id: this.radioId,
      mtu,
      get open() {
        return open;
      },
      maxFrame: a.maxFrame,
      sendFrame: (f) => (open ? a.sendFrame(f) : Promise.reject(new OpenClawError("OUT_OF_RANGE", {}))),
      onFrame: a.onFrame,
      onClose: (l) => {
        if (!open) {
          queueMicrotask(() => l("disconnected"));
          return () => {};
        }
        return a.onClose(l);
      },
      readInfo: async () => {
        if (!open) throw new OpenClawError("OUT_OF_RANGE", {});
        this.#sweep();
        return this.#accessory.infoBytes(clock.now());
      },
      readRssi: async () => {
        if (!open) throw new OpenClawError("OUT_OF_RANGE", {});
        return this.rssi;
      },
      disconnect: async () => {
        pair.drop("disconnected by the central");
      },
    };
    return link;
  }

  async #onMessage(s: DeviceLinkState, m: Uint8Array): Promise<void> {
    if (!this.#links.has(s)) return;
    const out: AccessoryOutput = s.link.handle(m, this.air.clock.now());
    this.#apply(out.events);
    for (const r of out.replies) await s.channel.send(r).catch(() => {});
    if (out.disconnect) s.pair.drop("device hung up");
    this.#maybeReboot();
  }

  #rebootPending = false;

  /** After a factory reset (once its replies are out) the device restarts as a new one. */
  #maybeReboot(): void {
    if (!this.#rebootPending) return;
    this.#rebootPending = false;
    this.dropLinks("factory reset");
    this.#boot(this.#accessory.identity, undefined);
  }

  #boot(identity: AccessoryIdentity, persistedBonds: unknown): void {
    this.#identity = identity;
    const now = this.air.clock.now();
    const bonds = persistedBonds
      ? BondTable.fromJSON(persistedBonds, now, this.#o.bonds ?? {})
      : new BondTable(this.#o.bonds);
    this.#accessory = new Accessory({
      identity,
      profile: {
        name: this.#o.name ?? advertisedName(identity.deviceId),
        model: this.#o.model ?? "OpenClaw Memory",
        firmware: this.#o.firmware ?? "0.0.0-memory",
      },
      random: this.#random,
      bonds,
      ...(this.#o.window ? { window: this.#o.window } : {}),
      session: createSessionFactory({ random: this.#random, ...(this.#o.app ? { app: this.#o.app } : {}) }),
    });
    this.#persistedBonds = bonds.toJSON();
    this.#code = undefined;
    this.rotateTag();
    if (bonds.used === 0) {
      const opened = this.#accessory.openWindow(
        { reason: "boot", ...(this.#o.format ? { format: this.#o.format } : {}) },
        now,
      );
      this.#apply(opened.events);
    } else {
      this.#arm();
    }
  }

  #apply(events: AccessoryEvent[]): void {
    for (const e of events) {
      this.events.push(e);
      if (e.type === "display") this.#code = e.code;
      if (e.type === "window-closed") this.#code = undefined;
      if (e.type === "bonds-changed") this.#persistedBonds = this.#accessory.bondTable.toJSON();
      if (e.type === "factory-reset") this.#rebootPending = true;
    }
    this.#arm();
  }

  #sweep(): void {
    this.#apply(this.#accessory.tick(this.air.clock.now()).events);
  }

  #arm(): void {
    const clock = this.air.clock;
    clock.clearTimeout(this.#deadline);
    this.#deadline = undefined;
    const due = this.#accessory.nextDeadline();
    if (due === undefined) return;
    this.#deadline = clock.setTimeout(`device ${this.name} deadline`, Math.max(0, due - clock.now()), () => {
      this.#deadline = undefined;
      this.#sweep();
    });
  }

  /** @internal */
  stop(): void {
    this.dropLinks("air closed");
    this.air.clock.clearTimeout(this.#deadline);
    this.#deadline = undefined;
  }
}

export interface MemoryAirOptions {
  clock: Clock;
  /** Every in-range device is reported to every scan this often (default 1 s). */
  advertIntervalMs?: number;
}

/** The devices and the centrals that hear them. */
export class MemoryAir {
  readonly clock: Clock;
  readonly advertIntervalMs: number;
  readonly devices = new Set<MemoryDevice>();
  readonly #centrals = new Set<MemoryCentral>();
  #timer: TimerHandle | undefined;

  constructor(o: MemoryAirOptions) {
    this.clock = o.clock;
    this.advertIntervalMs = o.advertIntervalMs ?? 1000;
  }

  addDevice(o: MemoryDeviceOptions): MemoryDevice {
    const d = new MemoryDevice(this, o);
    this.devices.add(d);
    return d;
  }

  removeDevice(d: MemoryDevice): void {
    d.stop();
    this.devices.delete(d);
  }

  /** A laptop's adapter on this air. */
  central(address = "00:00:00:00:00:01"): MemoryCentral {
    const c = new MemoryCentral(this, address);
    this.#centrals.add(c);
    return c;
  }

  /** Every scan hears every in-range device now (also runs every advertIntervalMs while anyone scans). */
  advertise(): void {
    for (const c of this.#centrals) {
      if (!c.scanning) continue;
      for (const d of this.devices) if (d.inRange) c.hear(d.advert());
    }
  }

  /** @internal */
  scanningChanged(): void {
    const any = [...this.#centrals].some((c) => c.scanning);
    if (any && !this.#timer) this.#tick();
    if (!any && this.#timer) {
      this.clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #tick(): void {
    this.#timer = this.clock.setTimeout("memory air advertising", this.advertIntervalMs, () => {
      this.#timer = undefined;
      this.advertise();
      if ([...this.#centrals].some((c) => c.scanning)) this.#tick();
    });
  }

  /** @internal */
  forgetCentral(c: MemoryCentral): void {
    this.#centrals.delete(c);
    this.scanningChanged();
  }

  find(radioId: string): MemoryDevice | undefined {
    return [...this.devices].find((d) => d.radioId === radioId);
  }

  close(): void {
    for (const d of this.devices) d.stop();
    for (const c of [...this.#centrals]) c.powerOff();
    this.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** A laptop's adapter: the core's RadioPort. `powerOff` is a crash of the laptop's side of every link. */
export class MemoryCentral implements RadioPort {
  readonly #scans = new Set<(a: RadioAdvert) => void>();
  readonly #links = new Set<RadioLink>();
  #on = true;
  /** Connection attempts, in order (radio ids). */
  readonly connects: string[] = [];

  constructor(
    private readonly air: MemoryAir,
    readonly address: string,
  ) {}

  get scanning(): boolean {
    return this.#on && this.#scans.size > 0;
  }

  get links(): number {
    return this.#links.size;
  }

  /** @internal */
  hear(a: RadioAdvert): void {
    for (const l of [...this.#scans]) l(a);
  }

  async startScan(onAdvert: (a: RadioAdvert) => void): Promise<RadioScan> {
    if (!this.#on) throw new OpenClawError("ADAPTER_UNAVAILABLE", { detail: "the adapter is powered off" });
    const l = (a: RadioAdvert) => onAdvert(a);
    this.#scans.add(l);
    this.air.scanningChanged();
    return {
      stop: async () => {
        this.#scans.delete(l);
        this.air.scanningChanged();
      },
    };
  }

  async connect(id: string, opts: RadioConnectOptions = {}): Promise<RadioLink> {
    if (!this.#on) throw new OpenClawError("ADAPTER_UNAVAILABLE", { detail: "the adapter is powered off" });
    this.connects.push(id);
    const d = this.air.find(id);
    if (!d)
      throw new OpenClawError("INVALID_ARGUMENT", { detail: `device ${id} has not been seen in a scan` });
    if (!d.inRange) {
      throw new OpenClawError("TIMEOUT", {
        what: `connecting to ${opts.label ?? d.name}`,
        afterMs: opts.timeoutMs ?? 10_000,
      });
    }
    const link = d.attach(this);
    this.#links.add(link);
    link.onClose(() => this.#links.delete(link));
    return link;
  }

  /** Every link and scan gone at once, with no goodbye (a crash or a pulled adapter). */
  powerOff(): void {
    this.#on = false;
    this.#scans.clear();
    for (const l of [...this.#links]) void l.disconnect();
    this.air.forgetCentral(this);
  }

  async close(): Promise<void> {
    this.powerOff();
  }
}
