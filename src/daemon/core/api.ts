/**
 * The daemon's core, as the control API (src/daemon/server) and the test driver see it: the laptop's
 * half of OpenClaw Pair composed from the radio (a RadioPort), the transport, the controller role,
 * verify and the session client, plus a discovery registry, device references, the bond store and the
 * audit log. Everything it needs is injected (DaemonCoreDeps), so the same logic runs against noble
 * and against in-memory accessories (./testing) with a ManualClock.
 *
 * Conventions: ids are lower-case hex (device id 16 digits, controller id 32); `ref` is what a person
 * typed to name a device (id, id prefix, name or address, see `resolve`); failures are OpenClawErrors
 * from the catalogue (src/protocol/errors.ts), never plain Errors; times are the injected clock's:
 * monotonic ms for durations and ages, wall ms (`...At` fields named so) for what people read.
 * Nothing here carries a code, a key or a tag.
 */

import type { ClawOp, ClawState } from "../../app/claw.js";
import type { Clock } from "../../clock/index.js";
import type { KeyPair } from "../../protocol/accessory/types.js";
import type { ControllerBond } from "../../protocol/controller/bond-record.js";
import type { OpenClawError, OpenClawErrorJson } from "../../protocol/errors.js";
import type { CodeFormatName, CodeSource, InfoWindow } from "../../protocol/messages/info.js";
import type { RandomBytes } from "../../protocol/random.js";
import type { Role } from "../../protocol/session/commands.js";
import type { MessageChannelOptions } from "../../transport/channel.js";
import type { RadioPort } from "./radio-port.js";

export type { RadioAdvert, RadioConnectOptions, RadioLink, RadioPort, RadioScan } from "./radio-port.js";
export type { ClawOp, ClawState, Role };

type Awaitable<T> = T | Promise<T>;

// ---- injected inputs --------------------------------------------------------------------------------

/** A bond as the laptop's store keeps it (src/store BondStore's StoredBond). */
export interface CoreStoredBond {
  record: ControllerBond;
  /** Wall ms. */
  pairedAt: number;
  /** Wall ms of the last successful verify. */
  lastVerifiedAt?: number;
  /** Where it answered at the last verify (kept across restarts); absent in older bond files. */
  lastSeen?: { address: string; radioId: string; at: number };
}

/** The radio a device was just reached on (the store stamps the time). */
export interface CoreSeenAt {
  address: string;
  radioId: string;
}

/**
 * The part of src/store's BondStore the core uses. A candidate is a bond from a finished pair-setup
 * that has not verified yet: it becomes the bond (replacing an older one) only on commit.
 */
export interface CoreBondStore {
  list(): Awaitable<readonly CoreStoredBond[]>;
  get(deviceIdHex: string): Awaitable<CoreStoredBond | undefined>;
  /** Every candidate left (e.g. by a crash between pair-setup and the first verify). */
  candidates(): Awaitable<readonly ControllerBond[]>;
  candidate(deviceIdHex: string): Awaitable<ControllerBond | undefined>;
  putCandidate(record: ControllerBond): Promise<unknown>;
  /** The candidate verified: it becomes the device's bond (replacing any older one), verified now. */
  commitCandidate(deviceIdHex: string, seen?: CoreSeenAt): Promise<unknown>;
  dropCandidate(deviceIdHex: string): Promise<unknown>;
  /**
   * A verify succeeded; `key` is the key it succeeded with when the bond offered several (a rotation
   * was unresolved): the store keeps that one. `seen`: where it answered, kept with the bond.
   */
  markVerified(deviceIdHex: string, key?: KeyPair, seen?: CoreSeenAt): Promise<unknown>;
  /** True when there was a bond to remove. */
  remove(deviceIdHex: string): Promise<boolean>;
}

/** What the core writes to the audit log (never a code or key). */
export type CoreAuditEvent =
  | { type: "pair-attempt"; deviceId: string }
  | { type: "paired"; deviceId: string; role: Role; replaced: boolean }
  | { type: "pair-failed"; deviceId: string; code: string }
  | { type: "verified"; deviceId: string }
  | { type: "verify-failed"; deviceId: string; code: string }
  | { type: "candidate-dropped"; deviceId: string; code: string }
  /** Only what happened: a side not attempted (localOnly) or with nothing to remove is not logged. */
  | {
      type: "removed";
      deviceId: string;
      where: "device" | "local";
      outcome: "removed" | "already-gone" | "unreachable";
    };

export interface CoreAuditLog {
  append(event: CoreAuditEvent): Awaitable<unknown>;
}

/** pino-compatible; the core never passes a secret to it. */
export interface CoreLogger {
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export interface CoreOptions {
  /** Waiting for each protocol answer from a device (default 10 s). */
  stepTimeoutMs?: number;
  /** One connection attempt (default 10 s). */
  connectTimeoutMs?: number;
  /** How long an operation waits for its device to show up in the scan (default 5 s). */
  findTimeoutMs?: number;
  /** An open session unused for this long is closed (default 30 s). */
  sessionIdleMs?: number;
  /** A prepared pairing unused for this long is cancelled (default 5 min; also when its window ends). */
  pairingIdleMs?: number;
  /** A device not heard from for this long is lost (default 10 s). */
  discoveryTtlMs?: number;
  /** EWMA weight of a new RSSI sample, 0 < α ≤ 1 (default 0.3). */
  rssiAlpha?: number;
  /** Delays between connection attempts when a device cannot be reached (default [250, 1000]). */
  reconnectBackoffMs?: readonly number[];
  /**
   * forget: how long a device is given to be heard again before it is asked (default 1.5 s; adverts
   * come every few hundred ms); silent, it gets one connect of forgetConnectTimeoutMs, no retries.
   */
  forgetFreshMs?: number;
  /** forget: the one connection attempt to a device the scan no longer hears (default 3 s). */
  forgetConnectTimeoutMs?: number;
  /** Framing options (timers come from the clock). */
  channel?: Omit<MessageChannelOptions, "timers">;
}

export interface DaemonCoreDeps {
  radio: RadioPort;
  store: CoreBondStore;
  audit: CoreAuditLog;
  /** This laptop: 16-byte controller id and the name devices list it by. */
  identity: { controllerId: Uint8Array; name: string };
  clock: Clock;
  random: RandomBytes;
  logger?: CoreLogger;
  options?: CoreOptions;
}

// ---- what the core reports -------------------------------------------------------------------------

/** A device's pairing window as its info characteristic told it (no nonce), times as of the read. */
export type WindowView =
  | {
      state: "open";
      format: CodeFormatName;
      codeSource: CodeSource;
      timeLeftMs: number;
      attemptsLeft: number;
    }
  | { state: "closed" }
  | { state: "locked-out"; retryAfterMs: number };

/** The info's window without its nonce. */
export function windowView(w: InfoWindow): WindowView {
  if (w.state === "open") {
    const { format, codeSource, timeLeftMs, attemptsLeft } = w;
    return { state: "open", format, codeSource, timeLeftMs, attemptsLeft };
  }
  return w.state === "locked-out"
    ? { state: "locked-out", retryAfterMs: w.retryAfterMs }
    : { state: "closed" };
}

/** A device in the discovery registry (heard within the last discoveryTtlMs). */
export interface DiscoveredDevice {
  radioId: string;
  address: string;
  name: string | null;
  /** Smoothed RSSI (EWMA), dBm, rounded. */
  rssi: number;
  /** The last report's RSSI. */
  rssiLast: number;
  /** Monotonic ms of the last advert. */
  lastSeen: number;
  connectable: boolean;
  protocolVersion: number | null;
  windowOpen: boolean;
  hasBonds: boolean;
  /**
   * From the last info read (prepare, probe, status), counted down on the clock; null when not read
   * for the current window.
   */
  window: Exclude<WindowView, { state: "closed" }> | null;
  /** The device id: from the rotating tag (bonded devices) or an info read; null when unknown. */
  deviceId: string | null;
  /** This laptop holds a bond with it. */
  bonded: boolean;
}

/**
 * A pairing whose first verify never came back (the laptop hung up, crashed or lost the link just
 * then): the device may hold the bond or not. It is settled at the next contact with the device.
 */
export interface PendingBondInfo {
  deviceId: string;
  name: string;
  model: string;
  role: Role;
  /** This laptop also has a verified bond with the device (a re-pairing): that one stays until then. */
  replacesBond: boolean;
  /** The discovery registry hears it now. */
  inRange: boolean;
}

/** One of this laptop's bonds. */
export interface BondInfo {
  deviceId: string;
  name: string;
  model: string;
  firmware: string;
  /** Our role on the device. */
  role: Role;
  /** Wall ms. */
  pairedAt: number;
  /** Wall ms; null before the first verify recorded. */
  lastVerifiedAt: number | null;
  /**
   * Its address: where the scan hears it now, else where it answered at the last verify (from the
   * bond file, so known after a restart); null when neither is known.
   */
  address: string | null;
  /** Wall ms of the verify that recorded the stored address; null when none was recorded. */
  lastSeenAt: number | null;
  /** Heard in the scan now (resolved by its rotating tag or id). */
  inRange: boolean;
  radioId: string | null;
  rssi: number | null;
  /** A session to it is open now. */
  connected: boolean;
}

/** What a device reference resolved to. */
export interface ResolvedDevice {
  deviceId: string | null;
  radioId: string | null;
  name: string | null;
  address: string | null;
  bond: BondInfo | null;
  discovered: DiscoveredDevice | null;
}

export const PAIR_STEPS = [
  "connecting",
  "reading-info",
  "exchanging-keys",
  "confirming",
  "storing",
  "verifying",
] as const;
export type PairStep = (typeof PAIR_STEPS)[number];

/** What a person needs before typing the code (prepare), refreshed after each failed attempt. */
export interface PairTarget {
  pairingId: string;
  radioId: string;
  address: string;
  deviceId: string;
  name: string;
  model: string;
  firmware: string;
  window: WindowView;
  bondSlots: { used: number; total: number };
  /** This laptop already holds a bond with this device (it is replaced once the new one verifies). */
  alreadyBonded: boolean;
  /** Monotonic ms when the info was read (timeLeftMs / retryAfterMs are as of then). */
  readAt: number;
}

export interface PairResult {
  bond: BondInfo;
  /** An older bond with this device was replaced. */
  replaced: boolean;
}

export type PairingState = "ready" | "attempting" | "bonded" | "failed" | "cancelled";

/**
 * A prepared pairing: connected to the device, info read, waiting for the code. `attempt` may be called
 * again after WRONG_CODE / MALFORMED_CODE / BAD_CHECK_CHARACTER / CODE_EXPIRED (the link is kept and the
 * target re-read); after OUT_OF_RANGE / TIMEOUT the pairing is failed and the link gone.
 */
export interface Pairing {
  readonly id: string;
  readonly state: PairingState;
  /** The latest target (window time left is as of `readAt`). */
  readonly target: PairTarget;
  /**
   * Runs pair-setup with the typed code, stores the candidate, verifies with it and commits. Rejects with
   * WRONG_CODE{attemptsLeft}, CODE_EXPIRED, LOCKED_OUT{retryAfterMs}, WINDOW_CLOSED, BOND_TABLE_FULL,
   * MALFORMED_CODE, BAD_CHECK_CHARACTER (nothing sent), TIMEOUT, OUT_OF_RANGE, STORAGE, CANCELLED.
   */
  attempt(code: string, o?: { onStep?: (step: PairStep) => void }): Promise<PairResult>;
  /** Reads the info again (time left, attempts left, a fresh code's window). */
  refresh(): Promise<PairTarget>;
  /** Hangs up; nothing is stored. Idempotent. */
  cancel(): Promise<void>;
}

export interface PairOptions {
  /**
   * Asked for the code once the target is known, and again after a mistyped one (`last`: WRONG_CODE,
   * MALFORMED_CODE, BAD_CHECK_CHARACTER; any other failure ends `pair`). Reject (e.g. CANCELLED) to stop.
   */
  code(target: PairTarget, last?: OpenClawError): Promise<string>;
  onStep?: (step: PairStep) => void;
  /** Give up after this many codes (default: until the device stops accepting attempts). */
  maxCodes?: number;
}

/** `status`: a verify (or the open session) and the device's status command. */
export interface DeviceStatus {
  deviceId: string;
  name: string;
  model: string;
  firmware: string;
  role: Role;
  /** Our controller id as the device knows it. */
  controllerId: string;
  bondSlots: { used: number; total: number };
  window: { state: "closed" } | { state: "open"; timeLeftMs: number };
  rssi: number | null;
}

/** One entry of a device's pairing list (admin). */
export interface DevicePairing {
  controllerId: string;
  name: string;
  role: Role;
  state: "provisional" | "permanent";
  /** This laptop's own bond. */
  self: boolean;
}

/**
 * How forgetting went on each side. device: removed (through our session), already-gone (the device had
 * forgotten us: UNKNOWN_PEER), unreachable (stale bond left on the device), skipped (localOnly: stale
 * bond left). local: removed, or absent (there was no local bond).
 */
export interface ForgetOutcome {
  deviceId: string;
  name: string;
  device: "removed" | "already-gone" | "unreachable" | "skipped";
  local: "removed" | "absent";
  /** Set when the device still holds a bond with this laptop: how to clear it. */
  staleBondRemedy: string | null;
  /** Why the device could not be reached (unreachable only). */
  error: OpenClawErrorJson | null;
}

/** How a stale bond left on a device is cleared (DESIGN §3, Forget). */
export const STALE_BOND_REMEDY =
  "The device still holds this laptop's pairing: an admin laptop can remove it from the device's pairing list (it shows each pairing's last verify), or clear the device's bonds over USB HID, or factory-reset the device.";

export interface SessionInfo {
  deviceId: string;
  radioId: string;
  role: Role;
  /** Monotonic ms. */
  openedAt: number;
  lastUsed: number;
}

export type CoreEvent =
  | { type: "discovered"; device: DiscoveredDevice }
  | { type: "updated"; device: DiscoveredDevice }
  | { type: "lost"; device: DiscoveredDevice }
  | { type: "pairing-step"; pairingId: string; deviceId: string; step: PairStep }
  | { type: "bonded"; bond: BondInfo; replaced: boolean }
  | { type: "verified"; deviceId: string; role: Role }
  | { type: "removed"; outcome: ForgetOutcome }
  | {
      type: "error";
      deviceId: string | null;
      radioId: string | null;
      what: string;
      error: OpenClawErrorJson;
    };

// ---- the core ----------------------------------------------------------------------------------------

export interface DaemonCore {
  /** This laptop's controller id (hex) and name. */
  readonly controllerId: string;
  readonly name: string;

  /** Starts the continuous scan. Candidates left by a crash are settled when their device is next seen. */
  start(): Promise<void>;
  /** Stops scanning, cancels pairings, closes sessions and links; no timer is left pending. */
  close(): Promise<void>;
  /** Every CoreEvent; returns an unsubscribe function. A throwing listener is logged, never fatal. */
  on(listener: (event: CoreEvent) => void): () => void;

  /** The discovery registry now (devices heard within discoveryTtlMs), strongest first. */
  devices(): DiscoveredDevice[];
  /** This laptop's bonds, with whether each is in range now. */
  bonds(): Promise<BondInfo[]>;
  /** Pairings not settled yet (see PendingBondInfo). */
  pendingBonds(): Promise<PendingBondInfo[]>;
  /**
   * Resolves a device reference against the registry and the bonds: exact device id, address, radio
   * id or name (case-insensitive) first, then a device-id prefix. NO_SUCH_DEVICE{query},
   * AMBIGUOUS_DEVICE{query, candidates}. Waits up to findTimeoutMs for a device not heard yet.
   */
  resolve(ref: string): Promise<ResolvedDevice>;
  /** Connects, reads the info into the registry (window time left, attempts left) and hangs up. */
  probe(ref: string): Promise<DiscoveredDevice>;

  /**
   * Connects to the device (`ref`, or the one device with an open window when undefined) and reads its
   * info: steps connecting, reading-info. WINDOW_CLOSED / LOCKED_OUT when it is not pairing; with no
   * ref, NO_SUCH_DEVICE when none is open and AMBIGUOUS_DEVICE when several are.
   */
  preparePair(ref?: string): Promise<Pairing>;
  /** A prepared pairing by id (for the control API). */
  pairing(id: string): Pairing | undefined;
  /** preparePair + attempt, asking `o.code` again after each retryable failure. */
  pair(ref: string | undefined, o: PairOptions): Promise<PairResult>;

  /** Verifies (or reuses the open session) and asks the device's status. NOT_BONDED, UNKNOWN_PEER, ... */
  status(ref: string): Promise<DeviceStatus>;
  /** The device's pairing list (admin; NOT_PERMITTED for a user pairing). */
  listPairings(ref: string): Promise<DevicePairing[]>;
  /**
   * Removes our pairing on the device through a session, then locally; with `localOnly` (or when the
   * device cannot be reached) locally only, reporting the stale bond. `{all: true}`: every bond.
   */
  forget(target: string | { all: true }, o?: { localOnly?: boolean }): Promise<ForgetOutcome[]>;
  /** An opaque application request on the session; resolves with the response payload. */
  app(ref: string, channel: number, payload: Uint8Array): Promise<Uint8Array>;
  /** The sim's claw (src/app/claw.ts). */
  claw(ref: string, op: ClawOp): Promise<{ claw: ClawState }>;
  /** The sim's battery gauge. */
  battery(ref: string): Promise<{ percent: number }>;

  /** Sessions open now. */
  sessions(): SessionInfo[];
}
