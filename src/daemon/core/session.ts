/**
 * One bonded device's verified session, kept open while in use and closed after an idle time, so a
 * command on an open session costs one round trip. Opening (locate, connect with backoff, verify) is
 * the core's (it knows the store); this holds the state machine:
 *
 *   idle ──use()──▶ opening ──ok──▶ open ──idle timer / close()──▶ idle
 *                     └──fails──▶ idle (the callers hear why)        └──link lost──▶ idle
 *
 * Concurrent callers share one opening; calls run concurrently on the open session (the session client
 * matches responses by id). The idle timer ("session idle <device>") runs only while no call is in flight.
 */
import type { Clock, TimerHandle } from "../../clock/index.js";
import type { Role } from "../../protocol/session/commands.js";
import type { SessionInfo } from "./api.js";
import type { ControllerLink } from "./controller-link.js";

export interface OpenedSession {
  link: ControllerLink;
  role: Role;
  radioId: string;
}

/** How an opening goes: `quick` (forget) gives a device the scan no longer hears one short connect. */
export interface OpenOptions {
  quick?: boolean;
}

type State =
  | { kind: "idle" }
  | { kind: "opening"; promise: Promise<OpenedSession> }
  | {
      kind: "open";
      s: OpenedSession;
      openedAt: number;
      lastUsed: number;
      inFlight: number;
      idle?: TimerHandle;
    };

export class DeviceSession {
  #state: State = { kind: "idle" };

  constructor(
    readonly deviceId: string,
    private readonly o: {
      clock: Clock;
      idleMs: number;
      /** Locates, connects and verifies (settling a candidate first). */
      open: (o?: OpenOptions) => Promise<OpenedSession>;
      label: () => string;
      onClosed?: (reason: string) => void;
    },
  ) {}

  get state(): State["kind"] {
    return this.#state.kind;
  }

  get link(): ControllerLink | null {
    return this.#state.kind === "open" ? this.#state.s.link : null;
  }

  info(): SessionInfo | null {
    const st = this.#state;
    if (st.kind !== "open") return null;
    return {
      deviceId: this.deviceId,
      radioId: st.s.radioId,
      role: st.s.role,
      openedAt: st.openedAt,
      lastUsed: st.lastUsed,
    };
  }

  /** Runs `fn` on the open session, opening it first if needed. */
  async use<T>(fn: (link: ControllerLink, role: Role) => Promise<T>, o: OpenOptions = {}): Promise<T> {
    const s = await this.#ensure(o);
    const st = this.#state;
    if (st.kind !== "open" || st.s !== s) return this.use(fn, o);
    st.inFlight++;
    this.o.clock.clearTimeout(st.idle);
    st.idle = undefined;
    try {
      return await fn(s.link, s.role);
    } finally {
      if (this.#state === st) {
        st.inFlight--;
        st.lastUsed = this.o.clock.now();
        if (st.inFlight === 0) this.#armIdle(st);
      }
    }
  }

  /** Takes over a link verified elsewhere (the pairing that just bonded). */
  adopt(s: OpenedSession): void {
    void this.close();
    const now = this.o.clock.now();
    const st: Extract<State, { kind: "open" }> = {
      kind: "open",
      s,
      openedAt: now,
      lastUsed: now,
      inFlight: 0,
    };
    this.#state = st;
    this.#watch(st);
    this.#armIdle(st);
  }

  /** Hangs up (idempotent). */
  async close(): Promise<void> {
    const st = this.#state;
    if (st.kind === "opening") {
      await st.promise.catch(() => {});
      return this.close();
    }
    if (st.kind !== "open") return;
    this.#state = { kind: "idle" };
    this.o.clock.clearTimeout(st.idle);
    await st.s.link.disconnect();
  }

  #ensure(o: OpenOptions = {}): Promise<OpenedSession> {
    const st = this.#state;
    if (st.kind === "open") {
      if (st.s.link.session?.state.kind === "open") return Promise.resolve(st.s);
      // The session ended (e.g. the device removed us) while the link lingers: start again.
      this.#state = { kind: "idle" };
      this.o.clock.clearTimeout(st.idle);
      void st.s.link.disconnect();
    }
    if (st.kind === "opening") return st.promise;
    const promise = this.o.open(o).then(
      (s) => {
        const now = this.o.clock.now();
        const open: Extract<State, { kind: "open" }> = {
          kind: "open",
          s,
          openedAt: now,
          lastUsed: now,
          inFlight: 0,
        };
        this.#state = open;
        this.#watch(open);
        this.#armIdle(open);
        return s;
      },
      (err: unknown) => {
        this.#state = { kind: "idle" };
        throw err;
      },
    );
    this.#state = { kind: "opening", promise };
    return promise;
  }

  #watch(st: Extract<State, { kind: "open" }>): void {
    st.s.link.onClose((reason) => {
      if (this.#state !== st) return;
      this.o.clock.clearTimeout(st.idle);
      this.#state = { kind: "idle" };
      this.o.onClosed?.(reason);
    });
  }

  #armIdle(st: Extract<State, { kind: "open" }>): void {
    this.o.clock.clearTimeout(st.idle);
    st.idle = this.o.clock.setTimeout(`session idle ${this.o.label()}`, this.o.idleMs, () => {
      if (this.#state !== st) return;
      st.idle = undefined;
      void this.close();
    });
  }
}
