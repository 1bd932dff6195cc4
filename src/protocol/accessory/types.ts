/**
 * Shapes shared by the accessory role and the code that plugs into it (verify/session, the
 * simulated device, a firmware port): identity, events, per-call output, and the plug points.
 *
 * Plug points (stable; see hardware/PROTOCOL.md "Architecture and plug points"):
 * - `AccessoryCore` is what a session handler may do to the device (confirm/remove bonds, open a share
 *   window, factory reset, read the bond table and identity).
 * - `AccessorySessionFactory(core)` returns one `AccessorySessionHandler` per link; the accessory routes
 *   VerifyStart and Session messages of that link to it and calls `close` when the link goes away.
 */
import type { CodeFormatName, CodeSource } from "../messages/info.js";
import type { SessionMessage, VerifyStart } from "../messages/schema.js";

export type Role = "admin" | "user";

/** Raw X25519 key pair (same shape as crypto/noise.ts KeyPair). */
export interface KeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

/** Made once (first boot) and replaced only by a factory reset. */
export interface AccessoryIdentity {
  /** 8 bytes; what controllers bond to; the SPAKE2+ verifier id and part of every context/prologue. */
  deviceId: Uint8Array;
  /** Static X25519 key pair (Noise KK verify). */
  staticKey: KeyPair;
  /** 16 bytes; given to bonded controllers so they can resolve the rotating advertising tag. */
  tagKey: Uint8Array;
}

export interface AccessoryProfile {
  name: string;
  model: string;
  firmware: string;
}

export type WindowCloseReason =
  | "expired"
  | "used"
  | "burnt"
  | "locked-out"
  | "cancelled"
  | "factory-reset"
  | "replaced";

/** Why a window (and its code) was opened; the display shows it, the sim reports it. */
export type WindowOpenReason = "boot" | "button" | "fresh-code" | "share" | "hid";

/**
 * What happened, for the device's UI, the sim's event stream and persistence. `bonds-changed`,
 * `identity-changed` and `guard-changed` mean "persist now". Controller ids are lower-case hex.
 */
export type AccessoryEvent =
  | {
      type: "display";
      /** Canonical code ("123456" / "7K4Q92XMJ"); only ever shown, never logged. */
      code: string;
      /** As people read it ("123 456" / "OCL-7K4Q-92XM-J"). */
      display: string;
      format: CodeFormatName;
      codeSource: CodeSource;
      expiresAt: number;
      expiresInMs: number;
      attemptsLeft: number;
      reason: WindowOpenReason;
    }
  | { type: "window-closed"; reason: WindowCloseReason }
  | { type: "wrong-code"; attemptsLeft: number }
  | { type: "locked-out"; retryAfterMs: number }
  | { type: "bonded"; controllerId: string; role: Role; name: string; provisional: boolean }
  | { type: "verified"; controllerId: string; role: Role }
  | { type: "bond-confirmed"; controllerId: string }
  | { type: "bond-expired"; controllerId: string }
  | { type: "removed"; controllerId: string; by: string }
  | { type: "factory-reset" }
  | { type: "bonds-changed" }
  | { type: "identity-changed" }
  /** The attempt guard changed (failure, lockout start/end, reset): persist `guardSnapshot(now)`. */
  | { type: "guard-changed" }
  /** Application-level happenings reported by a session handler (claw moved, battery read, ...). */
  | { type: "app"; op: string; detail?: Readonly<Record<string, string | number | boolean>> };

/** Result of every call into the accessory: messages to send on that link, and what happened. */
export interface AccessoryOutput {
  replies: Uint8Array[];
  events: AccessoryEvent[];
  /** The link should be dropped after sending the replies (e.g. after a factory reset). */
  disconnect?: boolean;
}

export interface OpenWindowOptions {
  /** Window length; default 120 s; 30 s to 15 min, else INVALID_ARGUMENT. */
  ttlMs?: number;
  /** Role granted to a controller that pairs through this window (the first bond is admin regardless). */
  role?: Role;
  format?: CodeFormatName;
  /**
   * A canonical code chosen by an admin controller (share): shown on that controller, not on the
   * device. When it is burnt by wrong attempts the window closes instead of showing a fresh code.
   */
  codeFromController?: string;
  reason?: WindowOpenReason;
}

export interface OpenedWindow {
  /** Canonical code (the HID `open-window` command returns it for devices without a display). */
  code: string;
  display: string;
  nonce: Uint8Array;
  expiresAt: number;
  events: AccessoryEvent[];
}

/** Read-only view of one bond, as session commands need it. */
export interface BondView {
  controllerId: Uint8Array;
  controllerStaticPublicKey: Uint8Array;
  role: Role;
  name: string;
  provisional: boolean;
  createdAt: number;
}

/** What a session handler may see and do on the device. All methods are pure state changes. */
export interface AccessoryCore {
  readonly identity: AccessoryIdentity;
  readonly profile: AccessoryProfile;
  /** Bonds (provisional and permanent) in slot order. */
  bonds(now: number): BondView[];
  /** First successful verify: provisional → permanent. Unknown id: no-op. */
  confirmBond(controllerId: Uint8Array, now: number): AccessoryEvent[];
  /** Replaces the controller's static key (rotate bond keys); the bond stays as it is otherwise. */
  rotateBondKey(controllerId: Uint8Array, newStaticPublicKey: Uint8Array, now: number): AccessoryEvent[];
  removeBond(controllerId: Uint8Array, by: string, now: number): AccessoryEvent[];
  /** Opens (or replaces) the pairing window. Throws INVALID_ARGUMENT / LOCKED_OUT. */
  openWindow(opts: OpenWindowOptions, now: number): OpenedWindow;
  closeWindow(reason: WindowCloseReason, now: number): AccessoryEvent[];
  /** Erases bonds, closes the window, makes a new identity; every link should be dropped. */
  factoryReset(now: number): AccessoryEvent[];
  /** Report something that happened (e.g. `verified`, `app`) through the accessory's output. */
  emit(event: AccessoryEvent): void;
}

/** One per link; created lazily on the link's first verify/session message. */
export interface AccessorySessionHandler {
  handle(message: VerifyStart | SessionMessage, now: number): AccessoryOutput;
  /** The link went away. */
  close(now: number): AccessoryEvent[];
  /** Earliest time this handler wants `tick` (rekey deadlines etc.), or undefined. */
  nextDeadline?(): number | undefined;
  tick?(now: number): AccessoryOutput;
}

export type AccessorySessionFactory = (core: AccessoryCore) => AccessorySessionHandler;
