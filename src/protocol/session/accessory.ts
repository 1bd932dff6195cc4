/**
 * The accessory's side of a verified session: decrypts requests, enforces the caller's role, runs the
 * command against the host (the accessory's bond table, pairing window and identity, all injected),
 * and encrypts the response. Pure: every effect goes through the host and comes back as events.
 */
import { normaliseCode } from "../codes/index.js";
import { isOpenClawError, OpenClawError, protocolError } from "../errors.js";
import type { SessionMessage } from "../messages/schema.js";
import type { SecureChannel } from "./channel.js";
import {
  type Action,
  type AppMessage,
  AppMessageCodec,
  AppResultCodec,
  type CodeFormatName,
  type CommandName,
  commandFromWire,
  EmptyResultCodec,
  FactoryResetArgsCodec,
  ListPairingsArgsCodec,
  MAX_SHARE_TTL_MS,
  MIN_SHARE_TTL_MS,
  mayDo,
  type PairingSummary,
  pairingsPage,
  RemovePairingArgsCodec,
  RemovePairingResultCodec,
  type Role,
  RotateArgsCodec,
  SessionEvent,
  ShareArgsCodec,
  ShareResultCodec,
  StatusArgsCodec,
  StatusResultCodec,
} from "./commands.js";
import { encodeErrorBody } from "./error-body.js";
import { MAX_APP_PAYLOAD } from "./limits.js";
import { decodePayload, encodePayload } from "./payload.js";

/** The verified caller, as the bond table knew it at verify time. */
export interface Peer {
  controllerId: Uint8Array;
  name: string;
  role: Role;
}

export interface SessionBondView {
  controllerId: Uint8Array;
  name: string;
  role: Role;
  state: "provisional" | "permanent";
}

/** A window opened by `share`: the code comes from the admin controller, which shows it. */
export interface SharedWindowRequest {
  role: Role;
  ttlMs: number;
  format: CodeFormatName;
  /** Canonical code (checked canonical before this is called). Never log it. */
  code: string;
  /** The admin that opened it (for the audit trail). */
  sharedBy: Uint8Array;
}

/** The device's own functions (battery, claw, …) on top of a verified session. */
export interface AppHandler {
  /** Returns the response payload; throw an OpenClawError to answer with an error. */
  onAppRequest(peer: Peer, message: AppMessage): Uint8Array;
  onAppNotify?(peer: Peer, message: AppMessage): void;
}

/** What the session needs from the accessory (`coreSessionHost` in verify/handler.ts adapts the real one). */
export interface SessionHost {
  bonds(): readonly SessionBondView[];
  bondSlots(): { used: number; total: number };
  window(): { state: "closed" } | { state: "open"; timeLeftMs: number };
  /** False when there is no such bond. `by` is the controller that asked. */
  removeBond(controllerId: Uint8Array, by: Uint8Array): boolean;
  /** Opens the pairing window for the shared code; throws OpenClawError (BUSY, LOCKED_OUT, …). */
  openSharedWindow(request: SharedWindowRequest): { timeLeftMs: number };
  /** Replaces the bond's controller static key; throws INVALID_ARGUMENT when another bond uses it. */
  replaceControllerKey(controllerId: Uint8Array, publicKey: Uint8Array): void;
  /** Wipes every bond and the accessory identity (a new one is made before the next pairing). */
  factoryReset(): void;
  app?: AppHandler;
}

export type AccessorySessionEvent =
  | { kind: "pairingRemoved"; controllerId: Uint8Array; by: Uint8Array }
  | { kind: "windowShared"; role: Role; ttlMs: number; by: Uint8Array }
  | { kind: "keysRotated"; controllerId: Uint8Array }
  | { kind: "factoryReset"; by: Uint8Array }
  | { kind: "sessionEnded"; reason: string };

export interface HandleResult {
  replies: Uint8Array[];
  events: AccessorySessionEvent[];
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function isCanonicalCode(code: string, format: CodeFormatName): boolean {
  try {
    return normaliseCode(code, format) === code;
  } catch {
    return false;
  }
}

function invalid(detail: string): OpenClawError<"INVALID_ARGUMENT"> {
  return new OpenClawError("INVALID_ARGUMENT", { detail });
}

type Outcome = { ok: Uint8Array; after?: "end-removed" | "end-reset" } | { error: OpenClawError };

export class AccessorySession {
  readonly peer: Peer;
  readonly #channel: SecureChannel;
  readonly #host: SessionHost;

  constructor(o: { peer: Peer; channel: SecureChannel; host: SessionHost }) {
    this.peer = o.peer;
    this.#channel = o.channel;
    this.#host = o.host;
  }

  get state(): "open" | "closed" {
    return this.#channel.state;
  }

  /** Ends the session from outside (link lost, bond removed over HID). */
  end(reason: string): AccessorySessionEvent[] {
    if (this.#channel.state === "closed") return [];
    this.#channel.close(reason);
    return [{ kind: "sessionEnded", reason }];
  }

  /** An accessory-initiated application notification (e.g. "claw closed", "battery low"). */
  notify(message: AppMessage): Uint8Array {
    const body = AppMessageCodec.encode(message);
    return this.#channel.seal(encodePayload({ kind: "notification", event: SessionEvent.app, body }));
  }

  /**
   * Handles one Session message from the controller. Throws PROTOCOL_ERROR (or VERSION_MISMATCH) for
   * anything malformed, replayed, reordered or tampered: the session has then ended, and the caller
   * answers with a cleartext Error message and drops the link.
   */
  handle(message: Uint8Array | SessionMessage): HandleResult {
    const plaintext =
      message instanceof Uint8Array ? this.#channel.open(message) : this.#channel.openDecoded(message);
    try {
      return this.#dispatch(plaintext);
    } catch (err) {
      if (isOpenClawError(err) && err.is("PROTOCOL_ERROR")) this.#channel.close(err.message);
      throw err;
    }
  }

  #dispatch(plaintext: Uint8Array): HandleResult {
    const p = decodePayload(plaintext);
    if (p.kind === "notification") {
      if (p.event !== SessionEvent.app) throw protocolError("unknown notification from the controller");
      const msg = AppMessageCodec.decode(p.body);
      if (mayDo(this.peer.role, "app")) this.#host.app?.onAppNotify?.(this.peer, msg);
      return { replies: [], events: [] };
    }
    if (p.kind === "error") {
      // A controller never answers; an error response from it ends the session, but is not answered
      // with another error (§3.4: never answer an Error with an Error, encrypted or not).
      return { replies: [], events: this.end("the controller sent an error response") };
    }
    if (p.kind !== "request") throw protocolError("a controller sent a response");
    const name = commandFromWire(p.command);
    const events: AccessorySessionEvent[] = [];
    const outcome: Outcome =
      name === undefined
        ? { error: invalid(`unknown command 0x${p.command.toString(16).padStart(2, "0")}`) }
        : this.#run(name, p.body, events);
    const reply =
      "ok" in outcome
        ? encodePayload({ kind: "ok", id: p.id, body: outcome.ok })
        : encodePayload({ kind: "error", id: p.id, body: encodeErrorBody(outcome.error) });
    const sealed = this.#channel.seal(reply);
    if ("ok" in outcome && outcome.after !== undefined) {
      const reason = outcome.after === "end-reset" ? "factory reset" : "this pairing was removed";
      events.push(...this.end(reason));
    }
    return { replies: [sealed], events };
  }

  #deny(action: Action): Outcome | undefined {
    return mayDo(this.peer.role, action)
      ? undefined
      : { error: new OpenClawError("NOT_PERMITTED", { command: action, role: this.peer.role }) };
  }

  /** Runs a command. Malformed arguments throw PROTOCOL_ERROR; refusals become error responses. */
  #run(name: CommandName, body: Uint8Array, events: AccessorySessionEvent[]): Outcome {
    try {
      return this.#command(name, body, events);
    } catch (err) {
      if (isOpenClawError(err) && !err.is("PROTOCOL_ERROR")) return { error: err };
      throw err;
    }
  }

  #command(name: CommandName, body: Uint8Array, events: AccessorySessionEvent[]): Outcome {
    const host = this.#host;
    const self = this.peer.controllerId;
    switch (name) {
      case "status": {
        StatusArgsCodec.decode(body);
        return {
          ok: StatusResultCodec.encode({
            role: this.peer.role,
            controllerId: self,
            bondSlots: host.bondSlots(),
            window: host.window(),
          }),
        };
      }
      case "listPairings": {
        const { start = 0 } = ListPairingsArgsCodec.decode(body);
        const denied = this.#deny("list pairings");
        if (denied) return denied;
        const all: PairingSummary[] = host
          .bonds()
          .map((b) => ({ ...b, self: equalBytes(b.controllerId, self) }));
        return { ok: pairingsPage(all, start).encoded };
      }
      case "removePairing": {
        const args = RemovePairingArgsCodec.decode(body);
        const target = args.controllerId ?? self;
        const removingSelf = equalBytes(target, self);
        const denied = this.#deny(removingSelf ? "remove own pairing" : "remove another pairing");
        if (denied) return denied;
        if (!host.removeBond(target, self)) return { error: invalid("no such pairing on the device") };
        events.push({ kind: "pairingRemoved", controllerId: target, by: self });
        return {
          ok: RemovePairingResultCodec.encode({ removedSelf: removingSelf }),
          after: removingSelf ? "end-removed" : undefined,
        };
      }
      case "share": {
        const args = ShareArgsCodec.decode(body);
        const denied = this.#deny("share");
        if (denied) return denied;
        if (args.ttlMs < MIN_SHARE_TTL_MS || args.ttlMs > MAX_SHARE_TTL_MS) {
          return { error: invalid("window length must be 30 s to 15 min") };
        }
        if (!isCanonicalCode(args.code, args.format))
          return { error: invalid("the shared code is not canonical") };
        const { timeLeftMs } = host.openSharedWindow({ ...args, sharedBy: self });
        events.push({ kind: "windowShared", role: args.role, ttlMs: args.ttlMs, by: self });
        return { ok: ShareResultCodec.encode({ timeLeftMs: Math.max(0, Math.ceil(timeLeftMs)) }) };
      }
      case "rotate": {
        const { publicKey } = RotateArgsCodec.decode(body);
        const denied = this.#deny("rotate keys");
        if (denied) return denied;
        if (publicKey.every((b) => b === 0)) return { error: invalid("not a usable public key") };
        host.replaceControllerKey(self, publicKey);
        events.push({ kind: "keysRotated", controllerId: self });
        return { ok: EmptyResultCodec.encode({}) };
      }
      case "factoryReset": {
        FactoryResetArgsCodec.decode(body);
        const denied = this.#deny("factory reset");
        if (denied) return denied;
        host.factoryReset();
        events.push({ kind: "factoryReset", by: self });
        return { ok: EmptyResultCodec.encode({}), after: "end-reset" };
      }
      case "app": {
        const msg = AppMessageCodec.decode(body);
        const denied = this.#deny("app");
        if (denied) return denied;
        if (!host.app) return { error: invalid("this device has no application commands") };
        let payload: Uint8Array;
        try {
          payload = host.app.onAppRequest(this.peer, msg);
        } catch (err) {
          if (isOpenClawError(err))
            return { error: err.is("PROTOCOL_ERROR") ? invalid(err.details.detail) : err };
          return { error: invalid("the device could not handle the application request") };
        }
        if (payload.length > MAX_APP_PAYLOAD) return { error: invalid("application response too large") };
        return { ok: AppResultCodec.encode({ payload }) };
      }
    }
  }
}
