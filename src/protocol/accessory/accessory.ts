/**
 * The accessory role (the OpenClaw device), pure and deterministic. The device-wide object holds the
 * identity, the pairing window and attempt guard, the bond table and the (single) pair-setup exchange;
 * each connection is an `AccessoryLink` created by `connect()`:
 *
 *   const link = accessory.connect();
 *   const { replies, events, disconnect } = link.handle(bytes, now);   // for every inbound message
 *   link.close(now);                                                   // when the connection drops
 *   accessory.tick(now);                                               // at accessory.nextDeadline()
 *
 * `now` is the device's monotonic clock in ms (a value smaller than one seen before is treated as the
 * latest seen: time never runs backwards here). VerifyStart and Session messages go to the session
 * handler that the session factory makes for the link (see types.ts for the plug points).
 */

import { isOpenClawError, OpenClawError, protocolError } from "../errors.js";
import { decodeMessage, encodeMessage } from "../messages/codec.js";
import { MESSAGE_HEADER, PROTOCOL_VERSION } from "../messages/constants.js";
import { errorToMessage } from "../messages/errors.js";
import { type AccessoryInfo, encodeInfo } from "../messages/info.js";
import { MessageType } from "../messages/schema.js";
import { AccessoryPairSetup, DEFAULT_STEP_TIMEOUT_MS, type LinkId } from "../pairsetup/accessory.js";
import type { RandomBytes } from "../random.js";
import type { GuardRestore, GuardSnapshot } from "../window/guard.js";
import type { WindowPolicy } from "../window/policy.js";
import { PairingWindow } from "../window/window.js";
import { BondTable, type BondTableOptions, idHex } from "./bonds.js";
import { generateAccessoryIdentity } from "./identity.js";
import type {
  AccessoryCore,
  AccessoryEvent,
  AccessoryIdentity,
  AccessoryOutput,
  AccessoryProfile,
  AccessorySessionFactory,
  AccessorySessionHandler,
  BondView,
  OpenedWindow,
  OpenWindowOptions,
  WindowCloseReason,
} from "./types.js";

export interface AccessoryOptions {
  identity: AccessoryIdentity;
  profile: AccessoryProfile;
  random: RandomBytes;
  /** A table loaded from storage; otherwise an empty one made with `bondOptions`. */
  bonds?: BondTable;
  bondOptions?: BondTableOptions;
  window?: Partial<WindowPolicy>;
  /** How long the device waits for the controller's next pair-setup message (default 30 s). */
  stepTimeoutMs?: number;
  /**
   * How long an unauthenticated link may go without progress before the device drops it (default
   * LINK_IDLE_MS): from connecting to the first pair-setup or verify message, and from a bond made to
   * the verify that should follow. A running pair-setup is bounded by its step timeout instead.
   */
  linkIdleMs?: number;
  session?: AccessorySessionFactory;
  /**
   * The attempt guard saved before a reboot (`guardSnapshot`, persisted on `guard-changed`) and the boot
   * time on the monotonic clock. Restored conservatively (PairingWindow.restoreGuard); an invalid one is
   * ignored and reported in `guardRestore`.
   */
  guard?: { snapshot: unknown; now: number };
}

/**
 * An unauthenticated link that makes no progress for this long is dropped (PROTOCOL §7): the device
 * has one connection, and a central that connects and does nothing must not keep laptops out.
 */
export const LINK_IDLE_MS = 10_000;

export class Accessory implements AccessoryCore {
  readonly profile: AccessoryProfile;
  readonly window: PairingWindow;
  #identity: AccessoryIdentity;
  #bonds: BondTable;
  readonly #random: RandomBytes;
  readonly #pairSetup: AccessoryPairSetup;
  readonly #sessionFactory: AccessorySessionFactory | undefined;
  readonly #links = new Set<AccessoryLink>();
  #nextLink: LinkId = 1;
  #lastNow = Number.NEGATIVE_INFINITY;
  #emitted: AccessoryEvent[] = [];
  #guardSeen: number;
  /** How restoring `AccessoryOptions.guard` went (undefined when none was given). */
  readonly guardRestore: GuardRestore | undefined;
  /** @internal */
  readonly linkIdleMs: number;

  constructor(o: AccessoryOptions) {
    this.linkIdleMs = o.linkIdleMs ?? LINK_IDLE_MS;
    if (!Number.isFinite(this.linkIdleMs) || this.linkIdleMs < 1000) {
      throw new OpenClawError("INVALID_ARGUMENT", { detail: "the link idle bound must be at least 1 s" });
    }
    this.#identity = o.identity;
    this.profile = o.profile;
    this.#random = o.random;
    this.#bonds = o.bonds ?? new BondTable(o.bondOptions);
    this.window = new PairingWindow(o.random, o.window);
    this.#guardSeen = this.window.guardVersion;
    if (o.guard) {
      const { events, ...result } = this.window.restoreGuard(o.guard.snapshot, this.clamp(o.guard.now));
      this.guardRestore = result;
      this.#emitted.push(...events);
      // A restore re-reports `guard-changed` once (it may have recorded lost attempts as failures).
    }
    this.#sessionFactory = o.session;
    const host = this;
    this.#pairSetup = new AccessoryPairSetup(
      {
        get identity() {
          return host.#identity;
        },
        get profile() {
          return host.profile;
        },
        get window() {
          return host.window;
        },
        get bonds() {
          return host.#bonds;
        },
        random: o.random,
      },
      o.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS,
    );
  }

  get identity(): AccessoryIdentity {
    return this.#identity;
  }

  /** The bond table (persist `bondTable.toJSON()` on every `bonds-changed` event). */
  get bondTable(): BondTable {
    return this.#bonds;
  }

  /** The attempt guard to persist (on every `guard-changed` event), without timestamps or secrets. */
  guardSnapshot(now: number): GuardSnapshot {
    return this.window.guardSnapshot(this.clamp(now));
  }

  /** Pair-setup exchange state: "idle" or "awaiting-finish". */
  get pairSetupState(): string {
    return this.#pairSetup.state;
  }

  /** A central connected (at `now`; without it the link's idle bound starts at its first message). */
  connect(now?: number): AccessoryLink {
    const link = new AccessoryLink(this, this.#nextLink++, now === undefined ? undefined : this.clamp(now));
    this.#links.add(link);
    return link;
  }

  /** Time-driven transitions: window expiry, lockout end, step timeout, provisional bond expiry. */
  tick(now: number): AccessoryOutput {
    return { replies: [], events: this.sweep(this.clamp(now)) };
  }

  nextDeadline(): number | undefined {
    const ds = [this.window.nextDeadline(), this.#pairSetup.nextDeadline(), this.#bonds.nextDeadline()];
    const defined = ds.filter((d): d is number => d !== undefined);
    return defined.length ? Math.min(...defined) : undefined;
  }

  info(now: number): AccessoryInfo {
    const t = this.clamp(now);
    return {
      protocolVersion: PROTOCOL_VERSION,
      deviceId: this.#identity.deviceId,
      name: this.profile.name,
      model: this.profile.model,
      firmware: this.profile.firmware,
      window: this.window.snapshot(t),
      bondSlots: { used: this.#bonds.used, total: this.#bonds.slots },
    };
  }

  /** The info characteristic's value. */
  infoBytes(now: number): Uint8Array {
    return encodeInfo(this.info(now));
  }

  // ---- AccessoryCore ----

  bonds(now: number): BondView[] {
    // Timers due now still run; their events go out with the current call's output.
    this.#emitted.push(...this.#timers(this.clamp(now)));
    return this.#bonds.views();
  }

  openWindow(opts: OpenWindowOptions, now: number): OpenedWindow {
    const t = this.clamp(now);
    const events = this.#timers(t);
    const opened = this.window.open(opts, t);
    return { ...opened, events: [...events, ...opened.events] };
  }

  closeWindow(reason: WindowCloseReason, now: number): AccessoryEvent[] {
    const t = this.clamp(now);
    return [...this.#timers(t), ...this.window.close(reason, t)];
  }

  confirmBond(controllerId: Uint8Array, now: number): AccessoryEvent[] {
    const events = this.#timers(this.clamp(now));
    if (this.#bonds.confirm(controllerId)) {
      events.push({ type: "bond-confirmed", controllerId: idHex(controllerId) }, { type: "bonds-changed" });
    }
    return events;
  }

  rotateBondKey(controllerId: Uint8Array, newStaticPublicKey: Uint8Array, now: number): AccessoryEvent[] {
    const events = this.#timers(this.clamp(now));
    if (this.#bonds.setStaticKey(controllerId, newStaticPublicKey)) events.push({ type: "bonds-changed" });
    return events;
  }

  removeBond(controllerId: Uint8Array, by: string, now: number): AccessoryEvent[] {
    const events = this.#timers(this.clamp(now));
    if (this.#bonds.remove(controllerId)) {
      events.push({ type: "removed", controllerId: idHex(controllerId), by }, { type: "bonds-changed" });
    }
    return events;
  }

  factoryReset(now: number): AccessoryEvent[] {
    const t = this.clamp(now);
    const events = this.#timers(t);
    events.push(...this.window.close("factory-reset", t));
    this.window.reset();
    events.push(...this.guardEvents());
    this.#pairSetup.abandon();
    this.#bonds.clear();
    for (const link of this.#links) link.dropSession();
    this.#identity = generateAccessoryIdentity(this.#random);
    events.push({ type: "factory-reset" }, { type: "bonds-changed" }, { type: "identity-changed" });
    return events;
  }

  emit(event: AccessoryEvent): void {
    this.#emitted.push(event);
  }

  // ---- used by AccessoryLink ----

  /** @internal */
  clamp(now: number): number {
    if (!Number.isFinite(now)) throw new RangeError("now must be a finite monotonic time in ms");
    this.#lastNow = Math.max(this.#lastNow, now);
    return this.#lastNow;
  }

  /** @internal Drains emitted events and runs every timer that is due. */
  sweep(now: number): AccessoryEvent[] {
    const events = [...this.#emitted];
    this.#emitted = [];
    events.push(...this.#timers(now));
    return events;
  }

  /** Timer-driven transitions due at `now` (does not touch emitted events). */
  #timers(now: number): AccessoryEvent[] {
    const events = [...this.window.tick(now), ...this.#pairSetup.tick(now)];
    const expired = this.#bonds.expire(now);
    for (const b of expired) events.push({ type: "bond-expired", controllerId: idHex(b.controllerId) });
    if (expired.length) events.push({ type: "bonds-changed" });
    events.push(...this.guardEvents());
    return events;
  }

  /** @internal `guard-changed` once after the guard changed (call last when assembling an output). */
  guardEvents(): AccessoryEvent[] {
    if (this.window.guardVersion === this.#guardSeen) return [];
    this.#guardSeen = this.window.guardVersion;
    return [{ type: "guard-changed" }];
  }

  /** @internal */
  get pairSetup(): AccessoryPairSetup {
    return this.#pairSetup;
  }

  /** @internal */
  makeSession(): AccessorySessionHandler | undefined {
    return this.#sessionFactory?.(this);
  }

  /** @internal */
  forget(link: AccessoryLink): void {
    this.#links.delete(link);
  }

  /** @internal */
  drainEmitted(): AccessoryEvent[] {
    const e = this.#emitted;
    this.#emitted = [];
    return e;
  }
}

const errorReply = (err: OpenClawError) => encodeMessage(errorToMessage(err));

const isErrorMessage = (m: Uint8Array) => m.length >= MESSAGE_HEADER && m[1] === MessageType.Error;

/**
 * One connection to the accessory. Until a verify succeeds on it, the link is unauthenticated and
 * bounded (PROTOCOL §7): it must make progress — start pair-setup or verify within `linkIdleMs` of
 * connecting, finish each pair-setup step within the step timeout, verify within `linkIdleMs` of the
 * bond being made — and it is dropped after an exchange that fails or is refused (`disconnect` in the
 * output, or `tick` at `nextDeadline`). A verified link has no such bound: it belongs to a bonded laptop.
 */
export class AccessoryLink {
  #session: AccessorySessionHandler | undefined;
  #closed = false;
  #authenticated = false;
  /** When the link last made progress (connected, exchange started, bond made). */
  #progressAt: number | undefined;
  /** The step deadline of the pair-setup exchange this link runs (kept after it ends by timeout). */
  #exchangeDeadline: number | undefined;
  /** Why `tick` asked to drop the link; once set the link has no deadline left (one hang-up, not one per tick). */
  #hungUp: "idle" | "stalled" | undefined;

  constructor(
    private readonly accessory: Accessory,
    readonly id: LinkId,
    connectedAt?: number,
  ) {
    this.#progressAt = connectedAt;
  }

  /** The session handler for this link, once a verify/session message has arrived. */
  get session(): AccessorySessionHandler | undefined {
    return this.#session;
  }

  /** True once a verify succeeded on this link. */
  get authenticated(): boolean {
    return this.#authenticated;
  }

  /**
   * Set once `tick` dropped the link for making no progress: "idle" (nothing started within the idle
   * bound, or no verify after a bond), "stalled" (its pair-setup exchange missed a step timeout).
   */
  get hungUp(): "idle" | "stalled" | undefined {
    return this.#hungUp;
  }

  handle(bytes: Uint8Array, now: number): AccessoryOutput {
    if (this.#closed) throw new Error("handle() on a closed link");
    const a = this.accessory;
    const t = a.clamp(now);
    this.#progressAt ??= t;
    const events = a.sweep(t);
    const result = this.#dispatch(bytes, t);
    const all = [...events, ...result.events, ...a.drainEmitted(), ...a.guardEvents()];
    const disconnect = this.#bound(result, all, t, bytes);
    return {
      replies: result.replies,
      events: all,
      ...(result.disconnect || disconnect ? { disconnect: true } : {}),
    };
  }

  /** Session timers (rekey etc.) for this link, and its idle bound while unauthenticated. */
  tick(now: number): AccessoryOutput {
    const a = this.accessory;
    const t = a.clamp(now);
    const bound = this.#unauthenticatedDeadline();
    if (bound !== undefined && t >= bound) {
      // No progress in time (or the exchange stalled at its step timeout): hang up on it.
      this.#hungUp = this.#exchangeDeadline !== undefined ? "stalled" : "idle";
      this.#exchangeDeadline = undefined;
      return {
        replies: [],
        events: [...a.sweep(t), ...a.drainEmitted(), ...a.guardEvents()],
        disconnect: true,
      };
    }
    const r = this.#session?.tick?.(t) ?? { replies: [], events: [] };
    return { ...r, events: [...a.sweep(t), ...r.events, ...a.drainEmitted(), ...a.guardEvents()] };
  }

  nextDeadline(): number | undefined {
    const ds = [this.#session?.nextDeadline?.(), this.#unauthenticatedDeadline()];
    const defined = ds.filter((d): d is number => d !== undefined);
    return defined.length ? Math.min(...defined) : undefined;
  }

  #unauthenticatedDeadline(): number | undefined {
    if (this.#authenticated || this.#closed || this.#hungUp) return undefined;
    if (this.#exchangeDeadline !== undefined) return this.#exchangeDeadline;
    return this.#progressAt === undefined ? undefined : this.#progressAt + this.accessory.linkIdleMs;
  }

  /** Updates the link's progress after one message; true when the link should now be dropped. */
  #bound(result: AccessoryOutput, events: AccessoryEvent[], now: number, bytes: Uint8Array): boolean {
    if (this.#authenticated) return false;
    if (events.some((e) => e.type === "verified")) {
      this.#authenticated = true;
      this.#exchangeDeadline = undefined;
      return false;
    }
    const ps = this.accessory.pairSetup;
    if (ps.owner === this.id) {
      // An exchange started (or goes on) on this link: its step timeout bounds it now.
      if (this.#exchangeDeadline === undefined) this.#progressAt = now;
      this.#exchangeDeadline = ps.nextDeadline();
      return false;
    }
    if (this.#exchangeDeadline !== undefined) {
      // This link's exchange just ended: a bond (time to verify now), or a failure (hang up).
      this.#exchangeDeadline = undefined;
      if (events.some((e) => e.type === "bonded")) {
        this.#progressAt = now;
        return false;
      }
      return true;
    }
    // Verify and session messages: their handler decides (an unknown peer may retry a couple of times).
    const type = bytes.length >= MESSAGE_HEADER ? bytes[1] : undefined;
    if (type === MessageType.VerifyStart || type === MessageType.Session) return false;
    // A refused start (BUSY, LOCKED_OUT, WINDOW_CLOSED, …) or a malformed or misdirected message.
    return result.replies.some(isErrorMessage);
  }

  /** The connection is gone: a pair-setup exchange it owned ends as a failed attempt. */
  close(now: number): AccessoryOutput {
    if (this.#closed) return { replies: [], events: [] };
    this.#closed = true;
    const a = this.accessory;
    const t = a.clamp(now);
    const events = a.sweep(t);
    events.push(...a.pairSetup.resetLink(this.id, t));
    if (this.#session) events.push(...this.#session.close(t));
    this.#session = undefined;
    a.forget(this);
    return { replies: [], events: [...events, ...a.drainEmitted(), ...a.guardEvents()] };
  }

  /** @internal (factory reset) */
  dropSession(): void {
    this.#session = undefined;
  }

  #dispatch(bytes: Uint8Array, now: number): AccessoryOutput {
    const a = this.accessory;
    let msg: ReturnType<typeof decodeMessage>;
    try {
      msg = decodeMessage(bytes);
    } catch (err) {
      if (!isOpenClawError(err)) throw err;
      // Never answer an Error with an Error (§3.4), however malformed it is or whatever its version:
      // two sides that both do would answer each other forever.
      if (bytes.length >= MESSAGE_HEADER && bytes[1] === MessageType.Error) {
        return { replies: [], events: this.#fault(now) };
      }
      return { replies: [errorReply(err)], events: this.#fault(now) };
    }
    switch (msg.type) {
      case "PairSetupStart":
      case "PairSetupFinish":
      case "PairSetupAbort":
        return a.pairSetup.handle(this.id, msg, now);
      case "VerifyStart":
      case "Session": {
        this.#session ??= a.makeSession();
        if (!this.#session) {
          return {
            replies: [errorReply(protocolError("verify is not supported by this device"))],
            events: [],
          };
        }
        return this.#session.handle(msg, now);
      }
      case "Error":
        return a.pairSetup.peerError(this.id, msg, now);
      default:
        return {
          replies: [errorReply(protocolError(`${msg.type} is not sent to a device`))],
          events: this.#fault(now),
        };
    }
  }

  /** A malformed or misdirected message resets whatever this link had going. */
  #fault(now: number): AccessoryEvent[] {
    const events = this.accessory.pairSetup.resetLink(this.id, now);
    if (this.#session) events.push(...this.#session.close(now));
    this.#session = undefined;
    return events;
  }
}
