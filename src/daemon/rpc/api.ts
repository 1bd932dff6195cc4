/**
 * The control API's contract (version 1), shared by the daemon (server) and the CLI (client): every
 * method's params as a zod schema (validated on the server before anything runs), its result type,
 * and the notifications the daemon sends. docs/control-api.md documents the same table for people;
 * a unit test keeps the two in step.
 *
 * Secrets: the only one that ever crosses this API is the pairing code a person typed (`pair.attempt`
 * params.code). It is never echoed in a result, an error or a notification, and the daemon never logs
 * params.
 */
import { z } from "zod";
import type { DevicePairing, DeviceStatus, PairStep, PendingBondInfo } from "../core/api.js";

export { API_VERSION } from "./api-version.js";

// ---- shared shapes ----------------------------------------------------------------------------------

/** What a person typed to name a device: a device id (or a prefix of one), a name or an address. */
const deviceQuery = z.string().trim().min(1).max(200);
const hexPayload = z
  .string()
  .max(4096)
  .regex(/^(?:[0-9a-fA-F]{2})*$/, "an even number of hex digits");

export type Role = "admin" | "user";
export type CodeFormat = "passkey" | "long";
export type CodeSource = "device" | "controller";
export type ClawState = "open" | "closed";

/** The pairing window as last read from the device; `timeLeftMs`/`retryAfterMs` as of the answer. */
export type WindowInfo =
  | { state: "open"; format: CodeFormat; codeSource: CodeSource; timeLeftMs: number; attemptsLeft: number }
  | { state: "locked-out"; retryAfterMs: number };

/** One OpenClaw device the daemon's discovery registry hears now. */
export interface DiscoveredDevice {
  /** The device id (hex) when known: resolved from a bonded device's rotating tag, or read from its info. */
  deviceId: string | null;
  /** The radio's handle for it (noble's peripheral id). */
  radioId: string;
  address: string;
  name: string | null;
  /** Smoothed RSSI in dBm. */
  rssi: number;
  connectable: boolean;
  protocolVersion: number | null;
  /** The advert's flag. */
  windowOpen: boolean;
  hasBonds: boolean;
  /** From the last info read (probe, pair.prepare, status); null when not read for this window. */
  window: WindowInfo | null;
  /** This laptop holds a bond with it. */
  bonded: boolean;
  /** How long ago it was last heard (ms). */
  lastSeenAgoMs: number;
}

/** A bond this laptop holds (never its keys). Wall times are ISO 8601, for people. */
export interface BondInfo {
  deviceId: string;
  name: string;
  model: string;
  firmware: string;
  role: Role;
  pairedAt: string;
  lastVerifiedAt: string | null;
  /** Heard there now, else where it answered at the last verify (kept across restarts); null if unknown. */
  address: string | null;
  /** When that stored address was recorded (a verify); null when none was. */
  lastSeenAt: string | null;
  /** The discovery registry hears it now. */
  inRange: boolean;
  radioId: string | null;
  rssi: number | null;
  /** A session to it is open now. */
  connected: boolean;
}

/** A pairing whose first verify never came back; settled at the next contact (core's PendingBondInfo). */
export type PendingBond = PendingBondInfo;

/** A bond file that did not load: moved aside, never deleted. */
export interface QuarantinedFile {
  file: string;
  quarantinedAs: string;
  reason: string;
}

/** What the code prompt needs, read from the device itself (its info characteristic). */
export interface PairTarget {
  /** Names the prepared pairing in pair.attempt / pair.refresh / pair.cancel. */
  pairingId: string;
  deviceId: string;
  radioId: string;
  address: string;
  name: string;
  model: string;
  firmware: string;
  window: WindowInfo | { state: "closed" };
  bondSlots: { used: number; total: number };
  /** This laptop already holds a bond with it (replaced once the new one verified). */
  alreadyBonded: boolean;
}

/** The steps pair.prepare and pair.attempt report, in order (the core's). */
export { PAIR_STEPS, type PairStep } from "../core/api.js";

export interface PairResult {
  bond: BondInfo;
  /** A previous bond with this device was replaced (after the new one verified). */
  replaced: boolean;
}

/**
 * The device's status (after a verify) and one entry of its pairing list (admin only): the core's own
 * shapes, already plain JSON.
 */
export type { DevicePairing, DeviceStatus } from "../core/api.js";

/** An error as it crosses the API: OpenClawError.toJSON(). */
export interface ErrorJson {
  code: string;
  message: string;
  remedy: string;
  details: unknown;
}

/** What forgetting did on each side. */
export interface ForgetOutcome {
  deviceId: string;
  name: string;
  /**
   * removed: the device erased our bond; already-gone: it had already forgotten us; unreachable: it
   * still holds a stale bond; skipped: localOnly, so it still holds a stale bond.
   */
  device: "removed" | "already-gone" | "unreachable" | "skipped";
  /** removed, or absent (there was no local bond). */
  local: "removed" | "absent";
  /** How to clear the stale bond on the device, when it still holds one. */
  staleBondRemedy: string | null;
  /** Why the device could not be reached (unreachable only). */
  error: ErrorJson | null;
}

export interface SessionInfo {
  deviceId: string;
  radioId: string;
  role: Role;
  openForMs: number;
  idleForMs: number;
}

export interface HelloResult {
  apiVersion: number;
  version: string;
  pid: number;
  stateDir: string;
  hci: string;
  /** Started by a CLI command (idles out) rather than as `openclaw daemon`. */
  onDemand: boolean;
  controllerId: string;
  name: string;
}

export interface DaemonStatus extends HelloResult {
  socketPath: string;
  logFile: string;
  uptimeMs: number;
  /** The idle timeout when on demand; null when it never idles out. */
  idleTimeoutMs: number | null;
  connections: number;
  bonds: number;
  discovered: number;
  sessions: SessionInfo[];
  /** Bond files that did not load, with where they were moved. */
  quarantined: QuarantinedFile[];
}

// ---- methods ----------------------------------------------------------------------------------------

const empty = z.object({}).strict().optional();
const device = z.object({ device: deviceQuery }).strict();
const pairingId = z.string().min(1).max(100);

export const METHODS = {
  "daemon.hello": z
    .object({ apiVersion: z.number().int().min(0), client: z.string().max(200).optional() })
    .strict(),
  "daemon.status": empty,
  "daemon.shutdown": empty,
  "events.subscribe": empty,
  "discovery.list": empty,
  "discovery.scan": z
    .object({ durationMs: z.number().int().min(0).max(60_000).optional() })
    .strict()
    .optional(),
  "device.probe": device,
  "pair.prepare": z.object({ device: deviceQuery.optional() }).strict().optional(),
  "pair.attempt": z.object({ pairingId, code: z.string().min(1).max(64) }).strict(),
  "pair.refresh": z.object({ pairingId }).strict(),
  "pair.cancel": z.object({ pairingId }).strict(),
  "bonds.list": empty,
  "device.status": device,
  "device.pairings": device,
  "device.forget": z
    .object({
      device: deviceQuery.optional(),
      all: z.literal(true).optional(),
      localOnly: z.boolean().optional(),
    })
    .strict()
    .refine((p) => (p.device === undefined) !== (p.all === undefined), {
      message: "give either a device or all: true",
    }),
  "device.claw": z.object({ device: deviceQuery, op: z.enum(["open", "close", "status"]) }).strict(),
  "device.battery": device,
  "device.app": z
    .object({ device: deviceQuery, channel: z.number().int().min(0).max(255), payload: hexPayload })
    .strict(),
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
  "device.probe": DiscoveredDevice;
  "pair.prepare": PairTarget;
  "pair.attempt": PairResult;
  "pair.refresh": PairTarget;
  "pair.cancel": { cancelled: true };
  "bonds.list": { bonds: BondInfo[]; pending: PendingBond[]; quarantined: QuarantinedFile[] };
  "device.status": DeviceStatus;
  "device.pairings": { pairings: DevicePairing[] };
  "device.forget": { results: ForgetOutcome[] };
  "device.claw": { claw: ClawState };
  "device.battery": { percent: number };
  "device.app": { payload: string };
}

// ---- notifications (daemon → client; no id, no answer) -----------------------------------------------

export interface Notifications {
  /** To the connection running pair.prepare / pair.attempt: the step it reached. */
  "pair.step": { pairingId: string | null; step: PairStep };
  /** To the connection running discovery.scan, and to subscribers: a device appeared or changed. */
  "discovery.device": DiscoveredDevice;
  /** To subscribers: a device was not heard for a while and left the registry. */
  "discovery.lost": { radioId: string; deviceId: string | null };
  /** To subscribers: a bond was stored (after it verified). */
  "bond.added": { bond: BondInfo; replaced: boolean };
  /** To subscribers: a bond was forgotten (each side's outcome). */
  "bond.removed": ForgetOutcome;
  /** To subscribers: a bonded device verified. */
  "device.verified": { deviceId: string; role: Role };
  /** To subscribers: something went wrong with a device outside any request (a malformed advert...). */
  "device.error": { deviceId: string | null; radioId: string | null; what: string; error: ErrorJson };
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
  "device.verified",
  "device.error",
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
