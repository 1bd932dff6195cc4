/**
 * One prepared pairing (DaemonCore.preparePair): the link to a device in pairing mode, its info, and
 * the attempts made with typed codes. The commit order keeps both sides whole whatever fails:
 *
 *   ready ──attempt(code)──▶ attempting: pair-setup ─▶ store candidate ─▶ first verify ─▶ commit ─▶ bonded
 *     ▲                           │ device verdict (WRONG_CODE, CODE_EXPIRED, ...), typo: info re-read
 *     └───────────────────────────┘
 *   attempting ──link lost / timeout / storage / verify failed──▶ failed      any ──cancel / idle──▶ cancelled
 *
 * The device hangs up after a failed exchange (PROTOCOL §7.1: each guess costs a connection), so a
 * ready pairing whose link dropped stays ready: the next attempt (or refresh) connects again first.
 *
 * - Before the candidate is stored, a failure leaves the device with at most a provisional bond, which
 *   expires unverified; the laptop has nothing new.
 * - Candidate stored, verify not answered (link lost, crash): the candidate stays and is tried once at
 *   the next contact (core.ts), committed if the device accepts it, dropped if it does not.
 * - Verify answered with an error: the candidate is dropped now.
 * - An older bond with the device is replaced only by commitCandidate, after the new bond verified.
 */
import type { Clock, TimerHandle } from "../../clock/index.js";
import { toHex as bytesToHex } from "../../protocol/bytes.js";
import type { ControllerBond } from "../../protocol/controller/index.js";
import { isOpenClawError, OpenClawError } from "../../protocol/errors.js";
import type { AccessoryInfo } from "../../protocol/messages/info.js";
import type { Role } from "../../protocol/session/commands.js";
import {
  type Pairing,
  type PairingState,
  type PairResult,
  type PairStep,
  type PairTarget,
  windowView,
} from "./api.js";
import type { ControllerLink } from "./controller-link.js";

/** What a pairing needs from the core. */
export interface PairingHost {
  clock: Clock;
  idleMs: number;
  step(pairingId: string, deviceId: string, step: PairStep): void;
  noteInfo(radioId: string, info: AccessoryInfo): void;
  alreadyBonded(deviceId: string): Promise<boolean>;
  /** Audit + log; never throws. */
  failed(deviceId: string, err: OpenClawError): void;
  attempted(deviceId: string): void;
  putCandidate(bond: ControllerBond): Promise<void>;
  dropCandidate(deviceId: string, err: OpenClawError): Promise<void>;
  /** Commits, records the verify, hands the link over to the device's session; resolves the result. */
  commit(bond: ControllerBond, link: ControllerLink, role: Role, radioId: string): Promise<PairResult>;
  ended(p: PairingImpl): void;
  /** A new link to the same device (after it hung up between attempts). */
  reconnect(radioId: string, label: string): Promise<ControllerLink>;
}

/** Device verdicts after which the same link may take another code. */
const RETRYABLE = new Set([
  "WRONG_CODE",
  "CODE_EXPIRED",
  "MALFORMED_CODE",
  "BAD_CHECK_CHARACTER",
  "LOCKED_OUT",
  "WINDOW_CLOSED",
  "BOND_TABLE_FULL",
  "BUSY",
]);

/** Errors that say the device never answered (its verdict is unknown). */
export const isLinkFailure = (err: unknown): boolean =>
  isOpenClawError(err) && (err.is("OUT_OF_RANGE") || err.is("TIMEOUT") || err.is("ADAPTER_UNAVAILABLE"));

export function targetOf(
  pairingId: string,
  radioId: string,
  address: string,
  info: AccessoryInfo,
  alreadyBonded: boolean,
  readAt: number,
): PairTarget {
  return {
    pairingId,
    radioId,
    address,
    deviceId: bytesToHex(info.deviceId),
    name: info.name,
    model: info.model,
    firmware: info.firmware,
    window: windowView(info.window),
    bondSlots: { ...info.bondSlots },
    alreadyBonded,
    readAt,
  };
}

export class PairingImpl implements Pairing {
  #state: PairingState = "ready";
  #info: AccessoryInfo;
  #target: PairTarget;
  #idle: TimerHandle | undefined;
  #link: ControllerLink;
  readonly #radioId: string;

  constructor(
    readonly id: string,
    link: ControllerLink,
    private readonly address: string,
    info: AccessoryInfo,
    alreadyBonded: boolean,
    private readonly host: PairingHost,
  ) {
    this.#info = info;
    this.#link = link;
    this.#radioId = link.conn.id;
    this.#target = targetOf(id, link.conn.id, address, info, alreadyBonded, host.clock.now());
    this.#armIdle();
  }

  private get link(): ControllerLink {
    return this.#link;
  }

  /** The link, connected again if the device hung up since the last attempt. */
  async #ensureLink(): Promise<void> {
    if (this.#link.open) return;
    this.#link = await this.host.reconnect(this.#radioId, this.#target.name);
  }

  get state(): PairingState {
    return this.#state;
  }

  get target(): PairTarget {
    return this.#target;
  }

  get deviceId(): string {
    return this.#target.deviceId;
  }

  get radioId(): string {
    return this.#radioId;
  }

  async refresh(): Promise<PairTarget> {
    this.#need("ready");
    await this.#ensureLink();
    const info = await this.link.readInfo();
    this.#info = info;
    this.host.noteInfo(this.radioId, info);
    this.#target = targetOf(
      this.id,
      this.radioId,
      this.address,
      info,
      this.#target.alreadyBonded,
      this.host.clock.now(),
    );
    this.#armIdle();
    return this.#target;
  }

  async attempt(code: string, o: { onStep?: (step: PairStep) => void } = {}): Promise<PairResult> {
    this.#need("ready");
    this.#state = "attempting";
    this.host.clock.clearTimeout(this.#idle);
    this.#idle = undefined;
    const deviceId = this.deviceId;
    const step = (s: PairStep) => {
      if (s === "exchanging-keys") this.host.attempted(deviceId);
      this.host.step(this.id, deviceId, s);
      o.onStep?.(s);
    };
    let bond: ControllerBond;
    try {
      if (!this.#link.open) {
        await this.#ensureLink();
        // A fresh connection: the window (nonce, attempts left) is read again before the code is sent.
        this.#info = await this.link.readInfo();
        this.host.noteInfo(this.radioId, this.#info);
      }
      const b = await this.link.pairSetup(this.#info, code, { onStep: step });
      if (!b) throw new OpenClawError("INTERNAL", { detail: "pair-setup stopped" });
      bond = b;
    } catch (err) {
      const e = asError(err);
      this.host.failed(deviceId, e);
      if (this.#state !== "attempting") throw e; // cancelled meanwhile
      if (RETRYABLE.has(e.code)) {
        this.#state = "ready";
        // The device may show a fresh code (burnt) or have closed the window: the target says which.
        // It may also have hung up (PROTOCOL §7.1): refresh connects again.
        await this.refresh().catch(() => {});
        if (this.#state === "ready") this.#armIdle();
      } else {
        await this.#fail();
      }
      throw e;
    }
    try {
      step("storing");
      await this.host.putCandidate(bond);
    } catch (err) {
      const e = asError(err);
      this.host.failed(deviceId, e);
      await this.#fail();
      throw e;
    }
    let role: Role;
    try {
      step("verifying");
      role = (await this.link.verify(bond)).role;
    } catch (err) {
      const e = asError(err);
      this.host.failed(deviceId, e);
      // Unanswered (the link went, or we hung up: a cancel): the device may have confirmed it; the
      // next contact tries the candidate once.
      if (this.#state === "attempting" && !isLinkFailure(e))
        await this.host.dropCandidate(deviceId, e).catch(() => {});
      await this.#fail();
      throw e;
    }
    try {
      const result = await this.host.commit(bond, this.link, role, this.radioId);
      this.#end("bonded");
      return result;
    } catch (err) {
      const e = asError(err);
      this.host.failed(deviceId, e);
      await this.#fail();
      throw e;
    }
  }

  async cancel(): Promise<void> {
    if (this.#state === "bonded" || this.#state === "cancelled" || this.#state === "failed") return;
    this.#end("cancelled");
    await this.link.disconnect();
  }

  async #fail(): Promise<void> {
    this.#end("failed");
    await this.link.disconnect();
  }

  #end(state: "bonded" | "failed" | "cancelled"): void {
    if (this.#state === "bonded" || this.#state === "failed" || this.#state === "cancelled") return;
    this.#state = state;
    this.host.clock.clearTimeout(this.#idle);
    this.#idle = undefined;
    this.host.ended(this);
  }

  #need(state: PairingState): void {
    if (this.#state === state) return;
    if (this.#state === "cancelled") throw new OpenClawError("CANCELLED", { what: "pairing" });
    if (this.#state === "attempting")
      throw new OpenClawError("INVALID_ARGUMENT", {
        detail: "a code is already being tried on this pairing",
      });
    throw new OpenClawError("INVALID_ARGUMENT", {
      detail: `this pairing has ${this.#state === "bonded" ? "bonded" : "failed"}; prepare a new one`,
    });
  }

  /** Idle pairings hang up: after idleMs, or once the device's window has run out (plus a grace). */
  #armIdle(): void {
    this.host.clock.clearTimeout(this.#idle);
    const w = this.#target.window;
    const ms = w.state === "open" ? Math.min(this.host.idleMs, w.timeLeftMs + 5000) : this.host.idleMs;
    this.#idle = this.host.clock.setTimeout(`pairing idle ${this.#target.name}`, ms, () => {
      this.#idle = undefined;
      void this.cancel();
    });
  }
}

function asError(err: unknown): OpenClawError {
  if (isOpenClawError(err)) return err;
  return new OpenClawError("INTERNAL", { detail: err instanceof Error ? err.message : String(err) });
}
