/**
 * The control API's contract (version 1), shared by the daemon (server) and the CLI (client): every
 * method's params as a zod schema (validated on the server before anything runs), its result type,
 * and the notifications the daemon sends. docs/control-api.md documents the same table for people;
 * a unit test keeps the two in step.
 *
 * Secrets: the only one that ever crosses this API is the pairing code a person typed (`device.pair`
 * params.code). It is never echoed in a result, an error or a notification, and the daemon never logs
 * params.
 */
import { z } from "zod";

/** Bumped on any incompatible change; `daemon.hello` tells each side the other's. */
export const API_VERSION = 1;

// ---- shared shapes ----------------------------------------------------------------------------------

/** What a person typed to name a device: a device id (or a prefix of one), a name or an address. */
const deviceQuery = z.string().trim().min(1).max(200);
const role = z.enum(["admin", "user"]);
export type Role = z.infer<typeof role>;

export type CodeFormat = "passkey" | "long";

/** One OpenClaw device the daemon's discovery registry sees now. */
export interface DiscoveredDevice {
  /** The device id (hex) when known: resolved from a bonded device's rotating tag, or read from its info. */
  deviceId: string | null;
  /** The radio's identifier (noble's peripheral id), stable while the device keeps its address. */
  radioId: string;
  address: string;
  name: string | null;
  /** Smoothed RSSI in dBm. */
  rssi: number;
  windowOpen: boolean;
  /** Time left in the pairing window on the device's clock, when the daemon has read it. */
  timeLeftMs: number | null;
  attemptsLeft: number | null;
  /** This laptop holds a bond with it. */
  bonded: boolean;
  /** How long ago it was last heard (ms). */
  lastSeenAgoMs: number;
}

/** What the code prompt needs, read from the device itself (its info characteristic). */
export interface PairTarget {
  deviceId: string;
  name: string;
  address: string;
  model: string;
  firmware: string;
  rssi: number | null;
  window:
    | { state: "closed" }
    | { state: "open"; format: CodeFormat; timeLeftMs: number; attemptsLeft: number; shared: boolean }
    | { state: "locked-out"; retryAfterMs: number };
  bondSlots: { used: number; total: number };
  /** This laptop already holds a bond with it (pairing again replaces it once the new one verified). */
  bondedHere: boolean;
}

/** The steps `device.pair` reports, in order. */
export const PAIR_STEPS = [
  "connecting",
  "exchanging-keys",
  "confirming",
  "storing",
  "verifying",
  "done",
] as const;
export type PairStep = (typeof PAIR_STEPS)[number];

/** A bond this laptop holds (never its keys). */
export interface BondInfo {
  deviceId: string;
  name: string;
  model: string;
  firmware: string;
  role: Role;
  /** Wall-clock ISO times, for people. */
  pairedAt: string;
  lastVerifiedAt: string | null;
  address: string | null;
  /** The discovery registry hears it now. */
  inRange: boolean;
}

/** A bond file that did not load: moved aside, never deleted. */
export interface QuarantinedFile {
  file: string;
  quarantinedAs: string;
  reason: string;
}

export interface PairResult {
  bond: BondInfo;
  /** A previous bond with this device was replaced (after the new one verified). */
  replaced: boolean;
}

export interface DeviceStatus {
  bond: BondInfo;
  role: Role;
  firmware: string;
  bondSlots: { used: number; total: number };
  window: { state: "closed" } | { state: "open"; timeLeftMs: number };
  rssi: number | null;
}

/** What forgetting did on each side. */
export interface ForgetResult {
  deviceId: string;
  name: string;
  /**
   * removed: the device erased our bond; unreachable: the device still holds a stale bond (see
   * `staleRemedy`); already-gone: the device had already forgotten us; skipped: `localOnly`.
   */
  device: "removed" | "unreachable" | "already-gone" | "skipped";
  local: "removed" | "already-gone";
  /** How to clear the stale bond on the device, when `device` is unreachable or skipped. */
  staleRemedy: string | null;
}

export type ClawState = "open" | "closed";

export interface HelloResult {
  apiVersion: number;
  version: string;
  pid: number;
  stateDir: string;
  hci: string;
  /** Started by a CLI command (idles out) rather than as `openclaw daemon`. */
  onDemand: boolean;
  startedAt: string;
}

export interface DaemonStatus {
  apiVersion: number;
  version: string;
  pid: number;
  stateDir: string;
  socketPath: string;
  logFile: string;
  hci: string;
  onDemand: boolean;
  uptimeMs: number;
  /** The idle timeout when on demand; null when it never idles out. */
  idleTimeoutMs: number | null;
  connections: number;
  radio: string;
  bonds: number;
  discovered: number;
  /** Bond files that did not load, with where they were moved. */
  quarantined: QuarantinedFile[];
}

// ---- methods ----------------------------------------------------------------------------------------

const empty = z.object({}).strict().optional();
const ms = (max: number) => z.number().int().min(0).max(max);

export const METHODS = {
  "daemon.hello": z
    .object({ apiVersion: z.number().int().min(0), client: z.string().max(200).optional() })
    .strict(),
  "daemon.status": empty,
  "daemon.shutdown": empty,
  "events.subscribe": empty,
  "discovery.list": empty,
  "discovery.scan": z
    .object({ durationMs: ms(60_000).optional() })
    .strict()
    .optional(),
  "device.target": z.object({ device: deviceQuery }).strict(),
  "device.pair": z.object({ device: deviceQuery, code: z.string().min(1).max(64) }).strict(),
  "bonds.list": empty,
  "device.status": z.object({ device: deviceQuery }).strict(),
  "device.forget": z.object({ device: deviceQuery, localOnly: z.boolean().optional() }).strict(),
  "bonds.forgetAll": z.object({ localOnly: z.boolean().optional() }).strict().optional(),
  "device.claw": z.object({ device: deviceQuery, op: z.enum(["open", "close", "status"]) }).strict(),
  "device.battery": z.object({ device: deviceQuery }).strict(),
} as const;

export type MethodName = keyof typeof METHODS;
export const METHOD_NAMES = Object.keys(METHODS) as MethodName[];
export type Params<M extends MethodName> = z.input<(typeof METHODS)[M]>;
export type ParsedParams<M extends MethodName> = z.output<(typeof METHODS)[M]>;

export interface Results {
  "daemon.hello": HelloResult;
  "daemon.status": DaemonStatus;
  "daemon.shutdown": { stopping: true };
  "events.subscribe": { subscribed: true };
  "discovery.list": { devices: DiscoveredDevice[] };
  "discovery.scan": { devices: DiscoveredDevice[] };
  "device.target": PairTarget;
  "device.pair": PairResult;
  "bonds.list": { bonds: BondInfo[]; quarantined: QuarantinedFile[] };
  "device.status": DeviceStatus;
  "device.forget": ForgetResult;
  "bonds.forgetAll": { results: ForgetResult[] };
  "device.claw": { deviceId: string; claw: ClawState };
  "device.battery": { deviceId: string; percent: number };
}

// ---- notifications (daemon → client; no id, no answer) -----------------------------------------------

export interface Notifications {
  /** To the connection running `device.pair`: the step it reached. */
  "pair.step": { device: string; step: PairStep };
  /** To the connection running `discovery.scan`, and to subscribers: a device appeared or changed. */
  "discovery.device": DiscoveredDevice;
  /** To subscribers: a device was not heard for a while and left the registry. */
  "discovery.lost": { radioId: string; deviceId: string | null };
  /** To subscribers: a bond was stored (after it verified). */
  "bond.added": BondInfo;
  /** To subscribers: a bond was removed here. */
  "bond.removed": { deviceId: string; name: string };
  /** To subscribers: the daemon is shutting down (connections close next). */
  "daemon.stopping": { reason: string };
}
export type NotificationName = keyof Notifications;
export const NOTIFICATION_NAMES: readonly NotificationName[] = [
  "pair.step",
  "discovery.device",
  "discovery.lost",
  "bond.added",
  "bond.removed",
  "daemon.stopping",
];

// ---- errors -----------------------------------------------------------------------------------------

/**
 * JSON-RPC error codes. Every error response carries an OpenClawError's JSON (code, message, remedy,
 * details) in `error.data`, so a client shows the same words the daemon would.
 */
export const RPC_ERROR = {
  parse: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internal: -32603,
  /** An OpenClaw catalogue error (the catalogue code is in error.data.code). */
  openclaw: -32000,
} as const;
