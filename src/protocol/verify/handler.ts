/**
 * The plug into the accessory (`AccessorySessionFactory`, src/protocol/accessory/types.ts):
 * one handler per link that answers VerifyStart (Noise KK, trial decryption over the bond table),
 * confirms a provisional bond, then runs the encrypted session against the accessory core.
 *
 *   idle ──VerifyStart ok──▶ session ──removed / reset / protocol error / link closed──▶ closed
 *   idle ──VerifyStart, no bond matches──▶ idle (Error UNKNOWN_PEER sent; the link stays up, the 3rd time
                                               it is dropped: each attempt costs a trial per bond)
 *
 * Failures become cleartext Error messages here, so the accessory never has to interpret them.
 */
import type {
  AccessoryCore,
  AccessoryEvent,
  AccessoryOutput,
  AccessorySessionFactory,
  AccessorySessionHandler,
} from "../accessory/types.js";
import { toHex } from "../bytes.js";
import { isOpenClawError, OpenClawError, protocolError } from "../errors.js";
import { encodeMessage } from "../messages/codec.js";
import { errorToMessage } from "../messages/errors.js";
import type { SessionMessage, VerifyStart } from "../messages/schema.js";
import type { RandomBytes } from "../random.js";
import type { AccessorySession, AppHandler, Peer, SessionHost } from "../session/accessory.js";
import type { AppMessage } from "../session/commands.js";
import type { RekeyPolicy } from "../session/limits.js";
import { openAccessorySession, type VerifyCandidate } from "./accessory.js";

export interface SessionFactoryOptions {
  random: RandomBytes;
  /** The device's application commands (battery, claw, …). */
  app?: AppHandler;
  rekey?: RekeyPolicy;
  features?: number;
  /** Told when a session opens on a link, so the device can push app notifications on it. */
  onSession?: (session: LinkSession) => void;
}

/** A verified session on one link, as the device's application sees it. */
export interface LinkSession {
  readonly peer: Peer;
  readonly open: boolean;
  /** Encrypts an application notification for this link (send `replies` on that link); none once ended. */
  notify(message: AppMessage, now: number): AccessoryOutput;
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

/** Slot usage and window state for `status`, when the core can tell (it may offer `info(now)`). */
interface CoreWithInfo {
  info(now: number): {
    bondSlots: { used: number; total: number };
    window: { state: "closed" } | { state: "locked-out" } | { state: "open"; timeLeftMs: number };
  };
}
function hasInfo(core: AccessoryCore): core is AccessoryCore & CoreWithInfo {
  return typeof (core as Partial<CoreWithInfo>).info === "function";
}

/** SessionHost over the accessory core; core events are collected in `sink` for the output. */
export function coreSessionHost(
  core: AccessoryCore,
  now: () => number,
  sink: AccessoryEvent[],
  app?: AppHandler,
): SessionHost {
  return {
    bonds: () =>
      core.bonds(now()).map((b) => ({
        controllerId: b.controllerId,
        name: b.name,
        role: b.role,
        state: b.provisional ? "provisional" : "permanent",
      })),
    bondSlots: () => {
      if (hasInfo(core)) return core.info(now()).bondSlots;
      const used = core.bonds(now()).length;
      return { used, total: used };
    },
    window: () => {
      if (!hasInfo(core)) return { state: "closed" };
      const w = core.info(now()).window;
      return w.state === "open" ? { state: "open", timeLeftMs: w.timeLeftMs } : { state: "closed" };
    },
    removeBond: (controllerId, by) => {
      if (!core.bonds(now()).some((b) => sameBytes(b.controllerId, controllerId))) return false;
      sink.push(...core.removeBond(controllerId, toHex(by), now()));
      return true;
    },
    openSharedWindow: (r) => {
      const t = now();
      const opened = core.openWindow(
        { ttlMs: r.ttlMs, role: r.role, format: r.format, codeFromController: r.code, reason: "share" },
        t,
      );
      sink.push(...opened.events);
      return { timeLeftMs: opened.expiresAt - t };
    },
    replaceControllerKey: (controllerId, publicKey) => {
      const clash = core
        .bonds(now())
        .some(
          (b) =>
            !sameBytes(b.controllerId, controllerId) && sameBytes(b.controllerStaticPublicKey, publicKey),
        );
      if (clash)
        throw new OpenClawError("INVALID_ARGUMENT", { detail: "that key belongs to another pairing" });
      sink.push(...core.rotateBondKey(controllerId, publicKey, now()));
    },
    factoryReset: () => {
      sink.push(...core.factoryReset(now()));
    },
    app,
  };
}

type LinkState =
  | { kind: "idle"; unknownPeers: number }
  | { kind: "session"; session: AccessorySession }
  | { kind: "closed" };

/** UNKNOWN_PEER answers one link gets before it is dropped (each costs a trial per bond). */
export const MAX_UNKNOWN_PEER_PER_LINK = 3;

class LinkHandler implements AccessorySessionHandler {
  readonly #core: AccessoryCore;
  readonly #o: SessionFactoryOptions;
  #state: LinkState = { kind: "idle", unknownPeers: 0 };
  #now = 0;
  readonly #clock = { now: () => this.#now };
  readonly #sink: AccessoryEvent[] = [];
  readonly #host: SessionHost;

  constructor(core: AccessoryCore, o: SessionFactoryOptions) {
    this.#core = core;
    this.#o = o;
    this.#host = coreSessionHost(core, () => this.#now, this.#sink, o.app);
  }

  handle(message: VerifyStart | SessionMessage, now: number): AccessoryOutput {
    this.#now = now;
    try {
      return message.type === "VerifyStart" ? this.#verify(message) : this.#session(message);
    } catch (err) {
      return this.#fail(err);
    }
  }

  close(_now: number): AccessoryEvent[] {
    if (this.#state.kind === "session") this.#state.session.end("link closed");
    this.#state = { kind: "closed" };
    return this.#drain();
  }

  #verify(m: VerifyStart): AccessoryOutput {
    if (this.#state.kind !== "idle") throw protocolError("VerifyStart out of turn");
    const core = this.#core;
    const now = this.#now;
    const { session, reply } = openAccessorySession(m, {
      deviceId: core.identity.deviceId,
      identity: core.identity.staticKey,
      bonds: {
        candidates: () =>
          core.bonds(now).map(
            (b): VerifyCandidate => ({
              controllerId: b.controllerId,
              controllerStaticPublicKey: b.controllerStaticPublicKey,
              name: b.name,
              role: b.role,
              state: b.provisional ? "provisional" : "permanent",
            }),
          ),
        confirm: (id) => this.#sink.push(...core.confirmBond(id, now)),
      },
      host: this.#host,
      clock: this.#clock,
      random: this.#o.random,
      rekey: this.#o.rekey,
      features: this.#o.features,
    });
    this.#state = { kind: "session", session };
    this.#sink.push({
      type: "verified",
      controllerId: toHex(session.peer.controllerId),
      role: session.peer.role,
    });
    this.#o.onSession?.(this.#linkSession(session));
    return { replies: [reply], events: this.#drain() };
  }

  #session(m: SessionMessage): AccessoryOutput {
    const st = this.#state;
    if (st.kind !== "session") throw protocolError("Session message before verify");
    // The bond may have gone since verify (removed from another link, HID clear): the session goes too.
    const id = st.session.peer.controllerId;
    if (!this.#core.bonds(this.#now).some((b) => sameBytes(b.controllerId, id))) {
      throw new OpenClawError("UNKNOWN_PEER", {});
    }
    const r = st.session.handle(m);
    const ended = st.session.state === "closed";
    if (ended) this.#state = { kind: "closed" };
    return { replies: r.replies, events: this.#drain(), ...(ended ? { disconnect: true } : {}) };
  }

  #linkSession(session: AccessorySession): LinkSession {
    return {
      peer: session.peer,
      get open() {
        return session.state === "open";
      },
      notify: (message, now) => {
        // A notification racing the session's end is dropped, not an error for the application.
        if (session.state !== "open") return { replies: [], events: [] };
        this.#now = now;
        return { replies: [session.notify(message)], events: [] };
      },
    };
  }

  /** The application's view of this link's session, while there is one. */
  get linkSession(): LinkSession | undefined {
    return this.#state.kind === "session" ? this.#linkSession(this.#state.session) : undefined;
  }

  #fail(err: unknown): AccessoryOutput {
    const e = isOpenClawError(err) ? err : protocolError("internal error");
    // An unknown controller may retry (e.g. with its previous key after an interrupted rotate), a few times.
    const st = this.#state;
    const keepLink =
      e.is("UNKNOWN_PEER") && st.kind === "idle" && ++st.unknownPeers < MAX_UNKNOWN_PEER_PER_LINK;
    if (!keepLink) {
      if (this.#state.kind === "session") this.#state.session.end(e.message);
      this.#state = { kind: "closed" };
    }
    return {
      replies: [encodeMessage(errorToMessage(e))],
      events: this.#drain(),
      ...(keepLink ? {} : { disconnect: true }),
    };
  }

  #drain(): AccessoryEvent[] {
    return this.#sink.splice(0, this.#sink.length);
  }
}

/**
 * The verified session on a link (`accessoryLink.session`), if that handler is one of ours and verified:
 * how the device's application pushes notifications (`linkSessionOf(link.session)?.notify(m, now)`).
 */
export function linkSessionOf(handler: AccessorySessionHandler | undefined): LinkSession | undefined {
  return handler instanceof LinkHandler ? handler.linkSession : undefined;
}

/** The factory the accessory takes: `new Accessory({ ..., sessions: createSessionFactory(o) })`. */
export function createSessionFactory(o: SessionFactoryOptions): AccessorySessionFactory {
  return (core) => new LinkHandler(core, o);
}
