/**
 * The simulated OpenClaw device: the pure accessory role (src/protocol/accessory + src/protocol/verify and
 * session handler) driven by a real monotonic clock and real randomness, behind a bleno GATT server,
 * with a screen, a button, and identity, bond table and attempt guard persisted in its state directory.
 *
 * Event flow: everything the accessory reports (AccessoryEvent) goes through `apply()`, which persists
 * first (bonds-changed, identity-changed, guard-changed), then updates the screen, the event stream
 * and the advertising.
 * Replies to a message are sent only after its events are applied, so a bond is on "flash" before the
 * controller hears PairSetupDone — the order firmware must keep too.
 *
 * Nothing here makes links fast or slow on purpose: the radio (the virtual air or a real adapter) sets
 * the pace, as it would for a device.
 *
 * This module composes the device and runs its links and deadlines; the rest lives by responsibility:
 * state.ts (the one state document on "flash"), report.ts (accessory events → sim events and state
 * writes), screen-state.ts (what the screen shows), advertiser.ts (advertising bytes and tag rotation),
 * app.ts (battery and claw), events.ts (the JSON stream and the controls), display.ts (drawing).
 */
import { randomBytes } from "node:crypto";
import type { Clock, TimerHandle } from "../../src/clock/index.js";
import { Accessory, type AccessoryLink, LINK_IDLE_MS } from "../../src/protocol/accessory/accessory.js";
import type { BondTable } from "../../src/protocol/accessory/bonds.js";
import type {
  AccessoryEvent,
  AccessoryOutput,
  AccessoryProfile,
} from "../../src/protocol/accessory/types.js";
import { isOpenClawError, type OpenClawError } from "../../src/protocol/errors.js";
import { GATT_UUIDS_DASHED } from "../../src/protocol/gatt.js";
import type { RandomBytes } from "../../src/protocol/random.js";
import { createSessionFactory } from "../../src/protocol/verify/handler.js";
import type { GuardSnapshot } from "../../src/protocol/window/guard.js";
import { HOUR_MS } from "../../src/protocol/window/policy.js";
import { Peripheral, type PeripheralConnection } from "../../src/radio/peripheral.js";
import type { WritePoint } from "../../src/store/json-file.js";
import { ensurePrivateDir, lockStateDir, type StateLock } from "../../src/store/state-dir.js";
import { MessageChannel } from "../../src/transport/channel.js";
import { Advertiser, advertisingFailed } from "./advertiser.js";
import { ClawApp } from "./app.js";
import type { Screen } from "./display.js";
import { type EventSink, errorEvent, type SimEvent } from "./events.js";
import { defaultDeviceName, deviceIdText } from "./identity.js";
import type { DeviceOptions } from "./options.js";
import { report } from "./report.js";
import { screenFor } from "./screen-state.js";
import { DeviceStateStore, type SaveCause } from "./state.js";

export const SIM_MODEL = "OpenClaw Sim";

export interface DeviceDeps {
  sink: EventSink;
  /** The screen, for people (absent with --json-events). */
  showScreen?: (screen: Screen) => void;
  /**
   * The device's clock (monotonic ms for every deadline, wall time for what people read). With
   * --time-scale it is `scaledClock(systemClock, timeScale)`.
   */
  clock: Clock;
  random?: RandomBytes;
  firmware: string;
  /**
   * How many times faster `clock` runs than real time (default 1): link bounds, which are about the
   * radio, are stretched by it so they stay in real time.
   */
  timeScale?: number;
  /** The device cannot go on (its HCI stream closed): the program should stop with this error. */
  onFatal?: (err: OpenClawError) => void;
  /** The state directory's lock, already taken (and the directory ensured) by the caller. */
  lock?: StateLock;
  /** Testing seam: called at each step of each state write (crash-consistency tests stop the process there). */
  onWritePoint?: (causes: readonly SaveCause[], point: WritePoint) => void | Promise<void>;
}

/** One central's connection: its GATT link, the framing channel on it and the accessory's view of it. */
interface Connection {
  conn: PeripheralConnection;
  channel: MessageChannel;
  link: AccessoryLink;
  /** Messages of one link are handled strictly in order (replies of one before the next). */
  queue: Promise<void>;
}

/**
 * The cool-down of a central that keeps the device's one connection without progress (PROTOCOL §7.1).
 * bleno takes one link, so a central that reconnects the moment it is dropped could keep laptops out
 * for good: each drop would only start its next hold. Strikes are counted per address: a stalled
 * pair-setup (a laptop never stalls between Challenge and Finish: it only computes) is one, and so is
 * an idle link after the first (the first is forgiven: someone slow at the code prompt). From then on
 * the address is refused at once for COOLDOWN_MS, doubling with each further strike up to
 * COOLDOWN_MAX_MS; a bond or a verify from it clears its strikes. During a cool-down every attempt of
 * that central costs it milliseconds, and any other central waiting to connect wins the next race;
 * 30 s leaves a laptop time for a connect attempt that failed and its retry (the daemon's is 10 s).
 * An attacker that changes its address each time is not recognised: then only the race is left (on
 * average it wins half the drops, so a laptop waits a few bounds, not for ever).
 */
export const COOLDOWN_MS = 30_000;
export const COOLDOWN_MAX_MS = 5 * 60_000;
/** Addresses remembered (the oldest is forgotten): an address-rotating attacker cannot grow the map. */
const STRIKES_KEPT = 64;

interface Strikes {
  /** Counted strikes (the forgiven first idle hang-up is 0.5). */
  count: number;
  /** Refused until then (device clock), or 0. */
  until: number;
}

const systemRandom: RandomBytes = (n) => new Uint8Array(randomBytes(n));

export class SimDevice {
  private accessory!: Accessory;
  private profile!: AccessoryProfile;
  private peripheral!: Peripheral;
  private readonly connections = new Map<PeripheralConnection, Connection>();
  /** Centrals dropped for making no progress, by address (see COOLDOWN_MS). */
  private readonly strikes = new Map<string, Strikes>();
  private advertiser!: Advertiser;
  private deadlineTimer: TimerHandle | undefined;
  private saveQueue: Promise<void> = Promise.resolve();
  private emitQueue: Promise<void> = Promise.resolve();
  private lastBonded: { peerName: string; role: "admin" | "user" } | undefined;
  private stopped = false;
  private rebootPending = false;
  private readonly app: ClawApp;
  private readonly state: DeviceStateStore;
  private lock: StateLock | undefined;
  readonly clock: Clock;
  /** The device's monotonic time, ms. */
  private readonly now: () => number;
  private readonly random: RandomBytes;
  private readonly timeScale: number;

  private constructor(
    private readonly options: DeviceOptions,
    private readonly deps: DeviceDeps,
  ) {
    this.timeScale = deps.timeScale ?? 1;
    this.clock = deps.clock;
    this.now = () => deps.clock.now();
    this.random = deps.random ?? systemRandom;
    this.state = new DeviceStateStore(options.stateDir, {
      slots: options.slots,
      provisionalTtlMs: options.provisionalTtlMs,
      now: this.now,
      wallClock: () => deps.clock.wallNow(),
      random: this.random,
      ...(deps.onWritePoint ? { onWritePoint: deps.onWritePoint } : {}),
    });
    this.app = new ClawApp((r) => this.accessory.emit({ type: "app", op: r.op, detail: r.detail }));
  }

  /** Boots the device: state, radio, advertising; opens a window by itself when it has no bonds. */
  static async boot(options: DeviceOptions, deps: DeviceDeps): Promise<SimDevice> {
    const device = new SimDevice(options, deps);
    await device.bootState();
    await device.bootRadio();
    return device;
  }

  get name(): string {
    return this.profile.name;
  }

  get deviceId(): string {
    return deviceIdText(this.accessory.identity.deviceId);
  }

  // ---- controls ----

  /** The pairing button: opens a window (a fresh code if one is showing). LOCKED_OUT while locked. */
  pressButton(): { expiresInMs: number } {
    const now = this.now();
    try {
      const opened = this.accessory.openWindow(
        { reason: "button", format: this.options.format, ttlMs: this.options.windowTtlMs },
        now,
      );
      this.apply(opened.events);
      return { expiresInMs: opened.expiresAt - now };
    } catch (err) {
      if (isOpenClawError(err) && err.is("LOCKED_OUT")) {
        this.emit({ type: "locked-out", retryAfterMs: err.details.retryAfterMs });
      }
      throw err;
    }
  }

  /** The long press: erase bonds and identity, then come back up as a new device. */
  async factoryReset(): Promise<void> {
    const events = this.accessory.factoryReset(this.now());
    await this.applyAndPersist(events);
    await this.maybeReboot();
  }

  status(): Extract<SimEvent, { type: "status" }> {
    return {
      type: "status",
      bonds: this.accessory.bondTable.used,
      slots: this.accessory.bondTable.slots,
      windowOpen: this.accessory.window.state.kind === "open",
      connected: this.connections.size > 0,
    };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.clearTimers();
    for (const c of this.connections.values()) {
      c.channel.close();
      c.link.close(this.now());
    }
    this.connections.clear();
    await this.peripheral?.close().catch(() => {});
    await this.saveQueue.catch(() => {});
    await this.emitQueue.catch(() => {});
    await this.lock?.release();
  }

  // ---- boot ----

  private async bootState(): Promise<void> {
    // Never chmod what a person named: a directory others can reach is refused with the reason. One
    // device per directory: a second process on it is STATE_LOCKED with the first one's pid.
    if (this.deps.lock) this.lock = this.deps.lock;
    else {
      await ensurePrivateDir(this.options.stateDir);
      this.lock = await lockStateDir(this.options.stateDir);
    }
    let booted: Awaited<ReturnType<DeviceStateStore["boot"]>>;
    try {
      booted = await this.state.boot();
    } catch (err) {
      await this.lock.release();
      throw err;
    }
    for (const n of booted.notices) {
      this.emit({ type: "warning", message: n.message, ...(n.error ? { error: n.error.toJSON() } : {}) });
    }
    // An empty guard needs no restore (a restore re-reports itself as a change to persist).
    const guard = booted.guard && isEmptyGuard(booted.guard) ? undefined : booted.guard;
    this.makeAccessory(booted.identity, booted.bonds, guard);
    const restore = this.accessory.guardRestore;
    if (restore?.restored === false) {
      this.emit({
        type: "warning",
        message: `${this.state.path}: the count of failed pairing attempts is lost (${restore.reason}), so the device starts at the limit: pairing is locked for ${Math.ceil(restore.lockedForMs / 1000)} s`,
      });
    }
    // One write before the radio comes up: a new identity, a repair and a restored guard are on disk
    // before anyone can talk to the device.
    await this.state.save(this.snapshot(), ["boot"]);
  }

  /** The whole state document as it is now. */
  private snapshot(): { identity: Accessory["identity"]; bonds: BondTable; guard: GuardSnapshot } {
    return {
      identity: this.accessory.identity,
      bonds: this.accessory.bondTable,
      guard: this.accessory.guardSnapshot(this.now()),
    };
  }

  private makeAccessory(
    identity: Accessory["identity"],
    bonds: BondTable | undefined,
    guard?: GuardSnapshot | null,
  ): void {
    this.profile = {
      name: this.options.name ?? defaultDeviceName(identity.deviceId),
      model: SIM_MODEL,
      firmware: this.deps.firmware,
    };
    const lockoutMs = this.options.lockoutMs;
    this.accessory = new Accessory({
      identity,
      profile: this.profile,
      random: this.random,
      ...(bonds ? { bonds } : {}),
      bondOptions: {
        slots: this.options.slots,
        provisionalTtlMs: this.options.provisionalTtlMs,
        wallNow: () => this.clock.wallNow(),
      },
      window: {
        defaultTtlMs: this.options.windowTtlMs,
        attemptsPerCode: this.options.maxAttempts,
        failuresPerHour: this.options.lockoutThreshold,
        lockoutBaseMs: lockoutMs,
        lockoutMaxMs: Math.max(lockoutMs, HOUR_MS),
      },
      session: createSessionFactory({ random: this.random, app: this.app }),
      // Link bounds are about the radio, which --time-scale does not speed up: they stay in real time.
      linkIdleMs: LINK_IDLE_MS * this.timeScale,
      ...(guard !== undefined ? { guard: { snapshot: guard, now: this.now() } } : {}),
    });
  }

  private async bootRadio(): Promise<void> {
    this.peripheral = await Peripheral.start({
      profile: GATT_UUIDS_DASHED,
      deviceName: this.profile.name,
      readInfo: () => this.accessory.infoBytes(this.now()),
      maxMtu: this.options.maxMtu,
      ...(this.options.hci !== undefined ? { hci: this.options.hci } : {}),
    });
    this.peripheral.on("connect", (conn) => this.onConnect(conn));
    this.peripheral.on("mtu", (conn, mtu) => this.emit({ type: "mtu", peer: conn.peer, mtu }));
    this.peripheral.on("disconnect", (conn, reason) => this.onDisconnect(conn, reason));
    this.peripheral.on("adapterLost", (err) => {
      this.emit(errorEvent(err));
      // A kernel adapter may come back (re-plugged, `hciconfig up`); a closed HCI stream does not.
      if (/^(unix|tcp):/.test(this.options.hci ?? "")) this.deps.onFatal?.(err);
    });
    this.peripheral.on("advertisingError", (err) => this.emit(errorEvent(advertisingFailed(err))));
    this.advertiser = new Advertiser({
      peripheral: this.peripheral,
      clock: this.clock,
      random: this.random,
      accessory: () => this.accessory,
      name: () => this.profile.name,
      tagRotationMs: this.options.tagRotationMs,
      emit: (e) => this.emit(e),
    });
    await this.comeUp();
  }

  /** Boot (or reboot after a factory reset): ready, advertising, and the first-boot window. */
  private async comeUp(): Promise<void> {
    this.emit({
      type: "ready",
      id: this.deviceId,
      name: this.profile.name,
      address: this.peripheral.address,
      slots: this.accessory.bondTable.slots,
      bonds: this.accessory.bondTable.used,
      format: this.options.format,
    });
    this.advertiser.start();
    if (this.accessory.bondTable.used === 0 && this.accessory.window.state.kind !== "locked-out") {
      const opened = this.accessory.openWindow(
        { reason: "boot", format: this.options.format, ttlMs: this.options.windowTtlMs },
        this.now(),
      );
      this.apply(opened.events);
    } else if (this.accessory.window.state.kind === "locked-out") {
      // Rebooted during a lockout (the guard was restored): it resumes; no boot window until it ends.
      const info = this.accessory.info(this.now()).window;
      if (info.state === "locked-out") this.emit({ type: "locked-out", retryAfterMs: info.retryAfterMs });
      this.refreshScreen();
    } else {
      this.refreshScreen();
    }
    await this.advertiser.update();
    this.armDeadline();
  }

  // ---- connections ----

  private onConnect(conn: PeripheralConnection): void {
    this.emit({ type: "connected", peer: conn.peer });
    // Transport timeouts stay in real time: the time scale is for the device's own deadlines only.
    const channel = new MessageChannel(conn);
    const c: Connection = {
      conn,
      channel,
      link: this.accessory.connect(this.now()),
      queue: Promise.resolve(),
    };
    this.connections.set(conn, c);
    const cooling = this.strikes.get(conn.peer);
    const left = cooling ? cooling.until - this.now() : 0;
    if (left > 0) {
      // Hung up before anything it sends is listened to.
      this.emit({
        type: "hang-up",
        peer: conn.peer,
        reason: `it keeps the device's connection without progress: refused for ${Math.ceil(left / this.timeScale / 1000)} s more`,
      });
      this.peripheral.disconnect();
      return;
    }
    channel.onMessage((message) => {
      c.queue = c.queue.then(() => this.onMessage(c, message)).catch((err: unknown) => this.internal(err));
    });
    channel.onError((err) => {
      // The channel resets itself; a pair-setup exchange on this link cannot continue.
      if (!channel.closed) this.emit(errorEvent(err));
    });
    // The link's idle bound starts now (an unauthenticated central must make progress to stay).
    this.armDeadline();
  }

  private onDisconnect(conn: PeripheralConnection, reason: string): void {
    const c = this.connections.get(conn);
    this.connections.delete(conn);
    this.emit({ type: "disconnected", peer: conn.peer, reason });
    if (!c) return;
    c.channel.close();
    const out = c.link.close(this.now());
    void this.applyAndPersist(out.events).then(() => this.maybeReboot());
    // A new central will want to find us; bleno resumes advertising, we make sure it is current.
    void this.advertiser.update();
  }

  private async onMessage(c: Connection, message: Uint8Array): Promise<void> {
    if (this.stopped || !this.connections.has(c.conn)) return;
    let out: AccessoryOutput;
    try {
      out = c.link.handle(message, this.now());
    } catch (err) {
      // A bug in the protocol code must not take the device down: report it and hang up on this link.
      this.emit(errorEvent(err));
      this.peripheral.disconnect();
      return;
    }
    // A bond or a verify is the progress no attacker makes: the address starts afresh.
    if (out.events.some((e) => e.type === "bonded" || e.type === "verified"))
      this.strikes.delete(c.conn.peer);
    await this.deliver(c, out);
  }

  /** Persist and show what happened, then send the replies, then hang up if asked. */
  private async deliver(
    c: Connection,
    out: AccessoryOutput,
    from: "message" | "timer" = "message",
  ): Promise<void> {
    await this.applyAndPersist(out.events);
    try {
      for (const reply of out.replies) await c.channel.send(reply);
    } catch (err) {
      // A link that went away mid-reply is the central's business, not an error of the device.
      if (!(isOpenClawError(err) && err.is("OUT_OF_RANGE"))) this.emit(errorEvent(err));
    }
    if (out.disconnect && this.connections.has(c.conn)) {
      if (!c.link.authenticated) {
        const why = from === "timer" ? c.link.hungUp : undefined;
        if (why) this.strike(c.conn.peer, why);
        this.emit({
          type: "hang-up",
          peer: c.conn.peer,
          reason:
            why === "stalled"
              ? "it made no progress in time (its pair-setup stalled past the step timeout)"
              : why === "idle"
                ? "it made no progress in time (an unpaired central gets 10 s to start pairing or verify)"
                : "its pairing exchange failed or was refused",
        });
      }
      this.peripheral.disconnect();
    }
    await this.maybeReboot();
  }

  /** Counts a no-progress hang-up of `peer`; from the first full strike its address cools down. */
  private strike(peer: string, why: "idle" | "stalled"): void {
    const prev = this.strikes.get(peer);
    this.strikes.delete(peer); // re-inserted last: the map forgets the address heard of longest ago
    const count = (prev?.count ?? 0) + (why === "stalled" || prev !== undefined ? 1 : 0.5);
    const full = Math.floor(count);
    const ms = full >= 1 ? Math.min(COOLDOWN_MS * 2 ** (full - 1), COOLDOWN_MAX_MS) : 0;
    // Like the link bounds, the cool-down is about the radio: it stays in real time under --time-scale.
    this.strikes.set(peer, { count, until: ms > 0 ? this.now() + ms * this.timeScale : 0 });
    while (this.strikes.size > STRIKES_KEPT) {
      const oldest = this.strikes.keys().next().value;
      if (oldest === undefined) break;
      this.strikes.delete(oldest);
    }
  }

  // ---- events ----

  private async applyAndPersist(events: AccessoryEvent[]): Promise<void> {
    this.apply(events);
    await this.saveQueue;
  }

  /** Applies accessory events; persistence is queued on saveQueue (await it before replying). */
  private apply(events: AccessoryEvent[]): void {
    const r = report(events);
    if (r.bonded) this.lastBonded = r.bonded;
    if (r.causes.length > 0) this.persist(r.causes);
    // Events go out once what they report is on "flash": a tester who sees `bonded` finds the bond stored.
    const saved = this.saveQueue;
    this.emitQueue = this.emitQueue
      .then(() => saved)
      .then(() => {
        for (const e of r.events) this.deps.sink.emit(e);
      });
    if (r.reboot) {
      // The reboot waits until the replies that announced it are sent (see deliver / maybeReboot).
      this.rebootPending = true;
      return;
    }
    this.refreshScreen();
    if (r.advert) void this.advertiser.update();
    this.armDeadline();
  }

  private async maybeReboot(): Promise<void> {
    if (!this.rebootPending || this.stopped) return;
    this.rebootPending = false;
    await this.reboot();
  }

  /** After a factory reset a device restarts as a new one: new identity, no bonds, first-boot window. */
  private async reboot(): Promise<void> {
    this.peripheral.disconnect();
    for (const c of this.connections.values()) c.channel.close();
    // A factory reset is an owner's act (an admin session or HID, someone with the device) and DESIGN
    // says it leaves nothing half behind: the attempt guard went with the bonds and the identity, in
    // the one write persist() queued for it.
    await this.saveQueue;
    const identity = this.accessory.identity;
    this.lastBonded = undefined;
    this.makeAccessory(identity, undefined);
    await this.comeUp();
  }

  /**
   * Queues one write of the whole state document, as it is now (so writes land in the order of the
   * changes). A factory reset is one write of the new identity with no bonds and no guard.
   */
  private persist(causes: SaveCause[]): void {
    const snap = this.snapshot();
    const write = causes.includes("reset")
      ? () => this.state.reset(snap.identity)
      : () => this.state.save(snap, causes);
    this.saveQueue = this.saveQueue.then(write).catch((err: unknown) => this.emit(errorEvent(err)));
  }

  private refreshScreen(): void {
    this.deps.showScreen?.(
      screenFor(this.accessory, {
        name: this.profile.name,
        now: this.now(),
        maxAttempts: this.options.maxAttempts,
        lastBonded: this.lastBonded,
      }),
    );
  }

  // ---- time ----

  /** One timer at the earliest deadline of the accessory and of every link's session. */
  private armDeadline(): void {
    if (this.stopped) return;
    this.clock.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    const deadlines = [this.accessory.nextDeadline()];
    for (const c of this.connections.values()) deadlines.push(c.link.nextDeadline());
    const due = deadlines.filter((d): d is number => d !== undefined);
    if (due.length === 0) return;
    const wait = Math.max(0, Math.min(...due) - this.now());
    // +1 ms: a timer may fire a hair early relative to the monotonic clock; Node caps a delay at 2^31-1.
    this.deadlineTimer = this.clock.setTimeout("sim.deadline", Math.min(wait + 1, 2 ** 31 - 1), () =>
      this.onDeadline(),
    );
  }

  private onDeadline(): void {
    this.deadlineTimer = undefined;
    if (this.stopped) return;
    const now = this.now();
    this.apply(this.accessory.tick(now).events);
    void this.maybeReboot();
    for (const c of this.connections.values()) {
      const d = c.link.nextDeadline();
      if (d !== undefined && d <= now) {
        const out = c.link.tick(now);
        c.queue = c.queue
          .then(() => this.deliver(c, out, "timer"))
          .catch((err: unknown) => this.internal(err));
      }
    }
    this.armDeadline();
  }

  private clearTimers(): void {
    this.clock.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    this.advertiser?.stop();
  }

  private internal(err: unknown): void {
    this.emit(errorEvent(err));
  }

  /** Every event goes through one queue, so a batch waiting for its save never overtakes or lags others. */
  private emit(event: SimEvent): void {
    this.emitQueue = this.emitQueue.then(() => this.deps.sink.emit(event));
  }
}

function isEmptyGuard(g: GuardSnapshot): boolean {
  return g.failuresInLastHour === 0 && g.lockouts === 0 && g.lockedForMs === 0 && (g.unsettled ?? 0) === 0;
}
