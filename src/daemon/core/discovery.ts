/**
 * The discovery registry: what the continuous scan has heard, one entry per device.
 *
 * - De-duplicated by radio id (every advert and scan response updates the same entry); two radio ids
 *   that resolve to one device id (an address change) list once, the freshest.
 * - RSSI smoothed with an EWMA (α = rssiAlpha), so a table does not flicker with every report.
 * - Window state from the adverts (open flag, nonce prefix); time and attempts left from the last info
 *   read (`noteInfo`), counted down on the clock and forgotten when the advert shows another window.
 * - Bonded devices are recognised by their rotating tag (src/protocol/advert.ts resolveTag) against
 *   the tag keys of this laptop's bonds and candidates; the id found stays with the radio id while the
 *   device advertises an open window (no tag then).
 * - Entries not heard for ttlMs are lost, on the injected clock (one named timer for the earliest).
 *
 * Events: discovered (new entry), updated (a visible change; RSSI-only changes at most every
 * updateIntervalMs), lost.
 */
import type { Clock, TimerHandle } from "../../clock/index.js";
import { NONCE_PREFIX_LEN, resolveTag } from "../../protocol/advert.js";
import { toHex as bytesToHex, fromHex } from "../../protocol/bytes.js";
import type { AccessoryInfo } from "../../protocol/messages/info.js";
import { type DiscoveredDevice, type RadioAdvert, type WindowView, windowView } from "./api.js";

export type DiscoveryEvent =
  | { type: "discovered"; device: DiscoveredDevice }
  | { type: "updated"; device: DiscoveredDevice }
  | { type: "lost"; device: DiscoveredDevice };

export interface DiscoveryOptions {
  clock: Clock;
  /** Not heard for this long: lost (default 10 s). */
  ttlMs?: number;
  /** EWMA weight of a new sample (default 0.3). */
  rssiAlpha?: number;
  /** RSSI-only updates are reported at most this often per device (default 1 s). */
  updateIntervalMs?: number;
  onEvent?: (e: DiscoveryEvent) => void;
}

/** A device this laptop can recognise: a bond (bonded) or a candidate (not bonded yet). */
export interface KnownDevice {
  deviceId: string;
  tagKey: Uint8Array;
  bonded: boolean;
}

/** The last info read's window (open or locked out), and which window it was. */
interface InfoNote {
  view: Exclude<WindowView, { state: "closed" }>;
  /** The open window's nonce prefix (a fresh code has another). */
  noncePrefix: string | null;
  readAt: number;
}

interface Entry {
  radioId: string;
  address: string;
  name: string | null;
  rssiSmoothed: number;
  rssiLast: number;
  lastSeen: number;
  connectable: boolean;
  protocolVersion: number | null;
  windowOpen: boolean;
  hasBonds: boolean;
  noncePrefix: string | null;
  tag: string | null;
  /** From the current tag (kept while an open window advertises no tag). */
  tagDeviceId: string | null;
  /** From the last info read on this radio id. */
  infoDeviceId: string | null;
  info: InfoNote | null;
  lastEmitted: number;
  lastView: DiscoveredDevice | null;
}

const deviceIdOf = (e: Entry): string | null => e.tagDeviceId ?? e.infoDeviceId;

export class DiscoveryRegistry {
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #alpha: number;
  readonly #updateIntervalMs: number;
  readonly #onEvent: (e: DiscoveryEvent) => void;
  readonly #entries = new Map<string, Entry>();
  #known: KnownDevice[] = [];
  #timer: TimerHandle | undefined;
  #timerDue = Number.POSITIVE_INFINITY;

  constructor(o: DiscoveryOptions) {
    this.#clock = o.clock;
    this.#ttlMs = o.ttlMs ?? 10_000;
    this.#alpha = o.rssiAlpha ?? 0.3;
    if (!(this.#alpha > 0 && this.#alpha <= 1)) throw new RangeError("rssiAlpha must be in (0, 1]");
    this.#updateIntervalMs = o.updateIntervalMs ?? 1000;
    this.#onEvent = o.onEvent ?? (() => {});
  }

  /** The devices this laptop can recognise by tag; entries are re-resolved at once. */
  setKnown(known: readonly KnownDevice[]): void {
    this.#known = [...known];
    for (const e of this.#entries.values()) {
      if (e.tag !== null) e.tagDeviceId = this.#resolve(e.tag) ?? null;
      this.#emitIfChanged(e, false);
    }
  }

  /** One advert or scan response. */
  report(a: RadioAdvert): void {
    const now = this.#clock.now();
    let e = this.#entries.get(a.id);
    const isNew = e === undefined;
    if (!e) {
      e = {
        radioId: a.id,
        address: a.address,
        name: null,
        rssiSmoothed: a.rssi,
        rssiLast: a.rssi,
        lastSeen: now,
        connectable: a.connectable,
        protocolVersion: null,
        windowOpen: false,
        hasBonds: false,
        noncePrefix: null,
        tag: null,
        tagDeviceId: null,
        infoDeviceId: null,
        info: null,
        lastEmitted: Number.NEGATIVE_INFINITY,
        lastView: null,
      };
      this.#entries.set(a.id, e);
    } else {
      e.rssiSmoothed = this.#alpha * a.rssi + (1 - this.#alpha) * e.rssiSmoothed;
      e.rssiLast = a.rssi;
      e.lastSeen = now;
      e.connectable = a.connectable;
      e.address = a.address;
    }
    if (a.name !== undefined) e.name = a.name;
    const adv = a.advert;
    if (adv) {
      e.protocolVersion = adv.version;
      e.windowOpen = adv.windowOpen;
      e.hasBonds = adv.hasBonds;
      e.noncePrefix = adv.noncePrefix ? bytesToHex(adv.noncePrefix) : null;
      const tag = adv.tag ? bytesToHex(adv.tag) : null;
      if (tag !== null && tag !== e.tag) {
        // Tags rotate: resolve each new one once (an HMAC per known device), not every advert.
        e.tagDeviceId = (adv.tag && this.#resolve(adv.tag)) || null;
      }
      e.tag = tag;
      // The info read belongs to one window: another code (nonce) or a closed window makes it stale.
      const inf = e.info;
      if (inf?.view.state === "open" && (!e.windowOpen || e.noncePrefix !== inf.noncePrefix)) e.info = null;
      if (inf?.view.state === "locked-out" && e.windowOpen) e.info = null;
    }
    this.#arm(now + this.#ttlMs);
    if (isNew) {
      const view = this.#view(e, now);
      e.lastView = view;
      e.lastEmitted = now;
      this.#onEvent({ type: "discovered", device: view });
    } else {
      this.#emitIfChanged(e, false);
    }
  }

  /** What an info read told about the device behind `radioId` (its id, and the window's countdown). */
  noteInfo(radioId: string, info: AccessoryInfo): void {
    const e = this.#entries.get(radioId);
    if (!e) return;
    const now = this.#clock.now();
    e.infoDeviceId = bytesToHex(info.deviceId);
    if (e.name === null) e.name = info.name;
    const view = windowView(info.window);
    e.windowOpen = view.state === "open";
    if (info.window.state === "open")
      e.noncePrefix = bytesToHex(info.window.nonce.subarray(0, NONCE_PREFIX_LEN));
    e.info = view.state === "closed" ? null : { view, noncePrefix: e.noncePrefix, readAt: now };
    this.#emitIfChanged(e, true);
  }

  /** Devices heard within ttlMs, strongest first; one per device id. */
  list(): DiscoveredDevice[] {
    const now = this.#clock.now();
    const byDevice = new Map<string, Entry>();
    const out: Entry[] = [];
    for (const e of this.#entries.values()) {
      const id = deviceIdOf(e);
      if (id === null) {
        out.push(e);
        continue;
      }
      const prev = byDevice.get(id);
      if (!prev || e.lastSeen > prev.lastSeen) byDevice.set(id, e);
    }
    out.push(...byDevice.values());
    return out
      .map((e) => this.#view(e, now))
      .sort((a, b) => b.rssi - a.rssi || a.radioId.localeCompare(b.radioId));
  }

  get(radioId: string): DiscoveredDevice | undefined {
    const e = this.#entries.get(radioId);
    return e ? this.#view(e, this.#clock.now()) : undefined;
  }

  /** The freshest entry known to be this device. */
  byDeviceId(deviceId: string): DiscoveredDevice | undefined {
    return this.list().find((d) => d.deviceId === deviceId);
  }

  /** Forgets everything and clears the age-out timer. */
  close(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerDue = Number.POSITIVE_INFINITY;
    this.#entries.clear();
  }

  #resolve(tag: Uint8Array | string): string | undefined {
    const bytes = typeof tag === "string" ? fromHex(tag) : tag;
    const i = resolveTag(
      bytes,
      this.#known.map((k) => k.tagKey),
    );
    return i >= 0 ? this.#known[i]!.deviceId : undefined;
  }

  #view(e: Entry, now: number): DiscoveredDevice {
    let window: DiscoveredDevice["window"] = null;
    const inf = e.info;
    if (inf) {
      const elapsed = now - inf.readAt;
      window =
        inf.view.state === "open"
          ? { ...inf.view, timeLeftMs: Math.max(0, inf.view.timeLeftMs - elapsed) }
          : { ...inf.view, retryAfterMs: Math.max(0, inf.view.retryAfterMs - elapsed) };
    }
    const deviceId = deviceIdOf(e);
    return {
      radioId: e.radioId,
      address: e.address,
      name: e.name,
      rssi: Math.round(e.rssiSmoothed),
      rssiLast: e.rssiLast,
      lastSeen: e.lastSeen,
      connectable: e.connectable,
      protocolVersion: e.protocolVersion,
      windowOpen: e.windowOpen,
      hasBonds: e.hasBonds,
      window,
      deviceId,
      bonded: deviceId !== null && this.#known.some((k) => k.bonded && k.deviceId === deviceId),
    };
  }

  /**
   * Reports an entry whose visible state changed (`force`: an info read, always news); a change of the
   * smoothed RSSI alone at most every updateIntervalMs.
   */
  #emitIfChanged(e: Entry, force: boolean): void {
    const now = this.#clock.now();
    const view = this.#view(e, now);
    const prev = e.lastView;
    const stateChanged =
      !prev ||
      prev.name !== view.name ||
      prev.windowOpen !== view.windowOpen ||
      prev.hasBonds !== view.hasBonds ||
      prev.deviceId !== view.deviceId ||
      prev.bonded !== view.bonded ||
      prev.protocolVersion !== view.protocolVersion ||
      prev.address !== view.address ||
      (prev.window === null) !== (view.window === null) ||
      prev.window?.state !== view.window?.state;
    const rssiDue = prev !== null && prev.rssi !== view.rssi && now - e.lastEmitted >= this.#updateIntervalMs;
    if (!stateChanged && !force && !rssiDue) return;
    e.lastView = view;
    e.lastEmitted = now;
    this.#onEvent({ type: "updated", device: view });
  }

  #arm(due: number): void {
    if (this.#timer && due >= this.#timerDue) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timerDue = due;
    this.#timer = this.#clock.setTimeout("discovery age-out", Math.max(0, due - this.#clock.now()), () =>
      this.#sweep(),
    );
  }

  #sweep(): void {
    this.#timer = undefined;
    this.#timerDue = Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [id, e] of [...this.#entries]) {
      const due = e.lastSeen + this.#ttlMs;
      if (due <= now) {
        this.#entries.delete(id);
        this.#onEvent({ type: "lost", device: this.#view(e, now) });
      } else {
        next = Math.min(next, due);
      }
    }
    if (next < Number.POSITIVE_INFINITY) this.#arm(next);
  }
}
