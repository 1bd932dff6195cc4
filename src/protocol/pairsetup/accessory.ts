/**
 * Pair-setup, accessory side. One exchange at a time on the whole device (a second controller gets
 * BUSY until the first finishes or its step times out). States:
 *
 *   idle ──Start (checks pass, confirmV sent, attempt counted)──▶ awaiting-finish{link, deadline}
 *   awaiting-finish ──Finish, good confirmP, sealed payload ok──▶ idle  (provisional bond, window used)
 *   awaiting-finish ──Finish bad confirmP / Abort / link lost / step timeout / unexpected──▶ idle (failure)
 *
 * Checks on Start, in order and before any crypto: BUSY, LOCKED_OUT, BOND_TABLE_FULL, WINDOW_CLOSED /
 * CODE_EXPIRED (nonce of a window that is not the open one). An invalid shareP is PROTOCOL_ERROR and
 * costs no attempt (nothing was learnt).
 */

import { type BondTable, idHex } from "../accessory/bonds.js";
import type {
  AccessoryEvent,
  AccessoryIdentity,
  AccessoryOutput,
  AccessoryProfile,
  Role,
} from "../accessory/types.js";
import { Spake2PlusVerifier } from "../crypto/spake2plus.js";
import { isOpenClawError, OpenClawError, protocolError } from "../errors.js";
import { encodeMessage } from "../messages/codec.js";
import { errorToMessage } from "../messages/errors.js";
import type { ErrorMessage, PairSetupAbort, PairSetupFinish, PairSetupStart } from "../messages/schema.js";
import type { RandomBytes } from "../random.js";
import type { PairingWindow } from "../window/window.js";
import { drawScalar, openControllerInfo, sealAccessoryInfo, setupContext, setupKeys } from "./keys.js";

export const DEFAULT_STEP_TIMEOUT_MS = 30_000;

export type LinkId = number;

export interface PairSetupHost {
  readonly identity: AccessoryIdentity;
  readonly profile: AccessoryProfile;
  readonly window: PairingWindow;
  readonly bonds: BondTable;
  readonly random: RandomBytes;
}

type Exchange =
  | { kind: "idle" }
  | {
      kind: "awaiting-finish";
      link: LinkId;
      controllerId: Uint8Array;
      nonce: Uint8Array;
      verifier: Spake2PlusVerifier;
      startedAt: number;
      deadline: number;
    };

export type PairSetupInbound = PairSetupStart | PairSetupFinish | PairSetupAbort;

const out = (replies: Uint8Array[] = [], events: AccessoryEvent[] = []): AccessoryOutput => ({
  replies,
  events,
});
const errorReply = (err: OpenClawError) => encodeMessage(errorToMessage(err));

export class AccessoryPairSetup {
  #ex: Exchange = { kind: "idle" };
  /** Links whose exchange the step timeout ended, so a late Finish hears TIMEOUT, not a bare error. */
  #timedOut = new Set<LinkId>();

  constructor(
    private readonly host: PairSetupHost,
    readonly stepTimeoutMs: number = DEFAULT_STEP_TIMEOUT_MS,
  ) {
    if (!Number.isInteger(stepTimeoutMs) || stepTimeoutMs < 1000 || stepTimeoutMs > 10 * 60_000) {
      throw new OpenClawError("INVALID_ARGUMENT", {
        detail: "the pair-setup step timeout must be 1 s to 10 min",
      });
    }
  }

  get state(): Exchange["kind"] {
    return this.#ex.kind;
  }

  /** The link whose exchange is in progress. */
  get owner(): LinkId | undefined {
    return this.#ex.kind === "idle" ? undefined : this.#ex.link;
  }

  nextDeadline(): number | undefined {
    return this.#ex.kind === "idle" ? undefined : this.#ex.deadline;
  }

  /** Ends an exchange whose step timed out (the attempt it counted stays a failure). */
  tick(now: number): AccessoryEvent[] {
    const ex = this.#ex;
    if (ex.kind === "idle" || now < ex.deadline) return [];
    this.#timedOut.add(ex.link);
    return this.#fail(now).events;
  }

  handle(link: LinkId, msg: PairSetupInbound, now: number): AccessoryOutput {
    const events = this.tick(now);
    const r =
      msg.type === "PairSetupStart"
        ? this.#start(link, msg, now)
        : msg.type === "PairSetupFinish"
          ? this.#finish(link, msg, now)
          : this.#abort(link, msg, now);
    return { replies: r.replies, events: [...events, ...r.events] };
  }

  /**
   * The link sent something this state cannot take (malformed, wrong type, an Error): its own exchange,
   * if any, ends as a failure. Another link's exchange is never touched.
   */
  resetLink(link: LinkId, now: number): AccessoryEvent[] {
    this.#timedOut.delete(link);
    if (this.#ex.kind !== "idle" && this.#ex.link === link) return this.#fail(now).events;
    return [];
  }

  /** Factory reset: drop any exchange without touching the (already reset) guard. */
  abandon(): void {
    this.#ex = { kind: "idle" };
    this.#timedOut.clear();
  }

  /** The peer's Error message: end its exchange, never answer an Error with an Error. */
  peerError(link: LinkId, _msg: ErrorMessage, now: number): AccessoryOutput {
    return out([], this.resetLink(link, now));
  }

  #start(link: LinkId, msg: PairSetupStart, now: number): AccessoryOutput {
    this.#timedOut.delete(link);
    const ex = this.#ex;
    if (ex.kind !== "idle") {
      if (ex.link === link) {
        const { events } = this.#fail(now);
        return out([errorReply(protocolError("PairSetupStart while an exchange is in progress"))], events);
      }
      return out([errorReply(new OpenClawError("BUSY", {}))]);
    }
    const { window, bonds, identity, random } = this.host;
    if (window.state.kind === "locked-out") {
      return out([errorReply(new OpenClawError("LOCKED_OUT", { retryAfterMs: window.state.until - now }))]);
    }
    if (bonds.isFullFor(msg.controllerId)) {
      return out([errorReply(new OpenClawError("BOND_TABLE_FULL", { slots: bonds.slots }))]);
    }
    const refused = window.admit(msg.windowNonce, now);
    if (refused) return out([errorReply(refused)]);
    const w = window.state;
    if (w.kind !== "open") throw new Error("window admitted but not open");
    if (w.codeSource === "controller" && bonds.find(msg.controllerId)) {
      // A shared code is for a new controller; letting it replace an existing bond would let a guest
      // who reuses someone's (cleartext) controller id push that bond, even the admin's, out.
      return out([
        errorReply(
          new OpenClawError("NOT_PERMITTED", {
            command: "replace a pairing with a shared code",
            role: w.role,
          }),
        ),
      ]);
    }
    const verifier = new Spake2PlusVerifier({
      context: setupContext(identity.deviceId, w.nonce),
      idProver: msg.controllerId,
      idVerifier: identity.deviceId,
      w0: w.w0,
      L: w.L,
      random,
      scalar: drawScalar(random),
    });
    let answer: { shareV: Uint8Array; confirmV: Uint8Array };
    try {
      answer = verifier.respond(msg.shareP);
    } catch (err) {
      if (isOpenClawError(err)) return out([errorReply(protocolError("invalid SPAKE2+ share"))]);
      throw err;
    }
    window.beginAttempt(now);
    this.#ex = {
      kind: "awaiting-finish",
      link,
      controllerId: msg.controllerId,
      nonce: w.nonce,
      verifier,
      startedAt: now,
      deadline: now + this.stepTimeoutMs,
    };
    return out([
      encodeMessage({ type: "PairSetupChallenge", shareV: answer.shareV, confirmV: answer.confirmV }),
    ]);
  }

  #finish(link: LinkId, msg: PairSetupFinish, now: number): AccessoryOutput {
    const ex = this.#ex;
    if (ex.kind === "idle" || ex.link !== link) {
      const late = this.#timedOut.delete(link);
      const err = late
        ? new OpenClawError("TIMEOUT", {
            what: "pair-setup (the device's step timer)",
            afterMs: this.stepTimeoutMs,
          })
        : protocolError("PairSetupFinish without a PairSetupStart");
      return out([errorReply(err)], this.resetLink(link, now));
    }
    const { window, bonds, identity, profile } = this.host;
    const verified = ex.verifier.finish(msg.confirmP);
    if (verified === null) {
      const r = this.#fail(now);
      return out([errorReply(r.error)], r.events);
    }
    this.#ex = { kind: "idle" };
    const w = window.state;
    if (w.kind !== "open" || !sameBytes(w.nonce, ex.nonce)) {
      // The right code, but its window ended (expired or replaced) while the exchange ran.
      const { events } = window.settle("refund", ex.nonce, now);
      return out([errorReply(new OpenClawError("CODE_EXPIRED", { reason: "ttl" }))], events);
    }
    const keys = setupKeys(verified.kShared);
    let controller: { staticPublicKey: Uint8Array; name: string };
    try {
      controller = openControllerInfo(keys.c2a, msg.sealed);
    } catch (err) {
      if (!isOpenClawError(err)) throw err;
      const { events } = window.settle("refund", ex.nonce, now);
      return out([errorReply(protocolError("sealed controller info rejected"))], events);
    }
    if (bonds.isFullFor(ex.controllerId)) {
      const { events } = window.settle("refund", ex.nonce, now);
      return out([errorReply(new OpenClawError("BOND_TABLE_FULL", { slots: bonds.slots }))], events);
    }
    const role = grantedRole(bonds, ex.controllerId, w.role, w.codeSource === "device");
    const settled = window.settle("success", ex.nonce, now);
    const bond = bonds.addProvisional(
      {
        controllerId: ex.controllerId,
        controllerStaticPublicKey: controller.staticPublicKey,
        role,
        name: controller.name,
      },
      now,
    );
    const sealed = sealAccessoryInfo(keys.a2c, {
      staticPublicKey: identity.staticKey.publicKey,
      tagKey: identity.tagKey,
      role,
      name: profile.name,
      model: profile.model,
      firmware: profile.firmware,
    });
    return out(
      [encodeMessage({ type: "PairSetupDone", sealed })],
      [
        ...settled.events,
        { type: "bonded", controllerId: idHex(bond.controllerId), role, name: bond.name, provisional: true },
        { type: "bonds-changed" },
      ],
    );
  }

  #abort(link: LinkId, _msg: PairSetupAbort, now: number): AccessoryOutput {
    const ex = this.#ex;
    if (ex.kind === "idle" || ex.link !== link) {
      return out(
        [errorReply(protocolError("PairSetupAbort without an exchange"))],
        this.resetLink(link, now),
      );
    }
    const r = this.#fail(now);
    return out([errorReply(r.error)], r.events);
  }

  /** Ends the exchange as a failed attempt. */
  #fail(now: number): { events: AccessoryEvent[]; error: OpenClawError } {
    const ex = this.#ex;
    this.#ex = { kind: "idle" };
    if (ex.kind === "idle") return { events: [], error: protocolError("no exchange") };
    const settled = this.host.window.settle("failure", ex.nonce, now);
    return {
      events: settled.events,
      error: settled.error ?? new OpenClawError("CODE_EXPIRED", { reason: "ttl" }),
    };
  }
}

/**
 * The first admin bond is the one made when the table holds no admin. Otherwise the window's role,
 * except that a controller re-pairing over its own admin bond through a device-shown code (someone at
 * the device) keeps admin. (Share windows never replace a bond: see #start.)
 */
export function grantedRole(
  bonds: BondTable,
  controllerId: Uint8Array,
  windowRole: Role,
  deviceCode: boolean,
): Role {
  if (!bonds.hasAdmin()) return "admin";
  if (deviceCode && bonds.find(controllerId)?.role === "admin") return "admin";
  return windowRole;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
