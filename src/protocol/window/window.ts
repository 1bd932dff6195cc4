/**
 * The pairing window and the attempt guard, on the device's monotonic clock (every method takes `now`;
 * nothing here reads a clock, so a wall-clock jump cannot move a deadline).
 *
 *   closed ──open()──▶ open{code, nonce, expiresAt, attemptsLeft}
 *   open ──good code──▶ closed (used)          open ──now ≥ expiresAt──▶ closed (expired)
 *   open ──5th wrong code──▶ open{fresh code, fresh nonce, fresh TTL}   (device-shown code)
 *                         └─▶ closed (burnt)                            (code shared by a controller)
 *   any ──20th failure in a sliding hour──▶ locked-out{until} ──now ≥ until──▶ closed
 *   after a lockout, until an hour passes with no failure and no lockout running (counted from the
 *   lockout's end): every failure locks out again, the backoff doubling (1 min … 1 h)
 *
 * Attempts are counted when the device sends confirmV (`beginAttempt`) and settled when the exchange
 * ends (`settle`): a good confirmP refunds the attempt, anything else is a failure.
 */

import type {
  AccessoryEvent,
  OpenWindowOptions,
  Role,
  WindowCloseReason,
  WindowOpenReason,
} from "../accessory/types.js";
import { codePassword, displayCode, generateCode, normaliseCode } from "../codes/index.js";
import { deriveW0W1, registrationRecord } from "../crypto/spake2plus.js";
import { OpenClawError } from "../errors.js";
import { WINDOW_NONCE_LEN } from "../messages/constants.js";
import type { CodeFormatName, CodeSource, InfoWindow } from "../messages/info.js";
import type { ExpiryReason } from "../messages/schema.js";
import type { RandomBytes } from "../random.js";
import {
  type GuardRestore,
  type GuardSnapshot,
  GuardSnapshotSchema,
  lostGuardSnapshot,
  MAX_LOCKED_FOR_MS,
} from "./guard.js";
import { checkTtl, HOUR_MS, makePolicy, type WindowPolicy } from "./policy.js";

export interface OpenWindowState {
  kind: "open";
  code: string;
  format: CodeFormatName;
  codeSource: CodeSource;
  role: Role;
  reason: WindowOpenReason;
  nonce: Uint8Array;
  ttlMs: number;
  openedAt: number;
  expiresAt: number;
  attemptsLeft: number;
  /** Attempts counted (confirmV sent) but not yet settled. */
  pending: number;
  /** SPAKE2+ verifier secrets for this code (the device never keeps the code's w1). */
  w0: Uint8Array;
  L: Uint8Array;
}

export type WindowState = { kind: "closed" } | OpenWindowState | { kind: "locked-out"; until: number };

export interface WindowOpened {
  code: string;
  display: string;
  nonce: Uint8Array;
  expiresAt: number;
  events: AccessoryEvent[];
}

export interface Settled {
  events: AccessoryEvent[];
  /** What to tell the controller after a failure (WRONG_CODE or LOCKED_OUT). */
  error?: OpenClawError;
}

/** Codes remembered after they close, so a late controller hears why ("used", "burnt", "expired"). */
const RECENT_CODES = 4;

const CLOSE_TO_EXPIRY: Partial<Record<WindowCloseReason, ExpiryReason>> = {
  used: "used",
  burnt: "burnt",
  expired: "ttl",
  replaced: "ttl",
  cancelled: "ttl",
  "locked-out": "burnt",
};

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

export class PairingWindow {
  readonly policy: WindowPolicy;
  readonly #random: RandomBytes;
  #state: WindowState = { kind: "closed" };
  /** Failure times inside the sliding hour. */
  #failures: number[] = [];
  /**
   * Where the forgiving quiet hour counts from: the last failure, or the end of the last lockout when
   * that is later (a lockout is not quiet time, so a 1 h lockout can no longer forgive itself).
   */
  #quietFrom: number | undefined;
  /** Lockouts since the last success or quiet hour; sets the next backoff, and > 0 means "relock". */
  #lockouts = 0;
  /** Attempts counted by beginAttempt and not yet settled (whatever window they belonged to). */
  #unsettled = 0;
  /** Bumped whenever what guardSnapshot() reports changes other than by time passing. */
  #guardVersion = 0;
  #recent: Array<{ nonce: Uint8Array; reason: ExpiryReason }> = [];

  constructor(random: RandomBytes, policy: Partial<WindowPolicy> = {}) {
    this.#random = random;
    this.policy = makePolicy(policy);
  }

  get state(): Readonly<WindowState> {
    return this.#state;
  }

  /** Failures counted in the hour before `now`. */
  failuresInHour(now: number): number {
    return this.#failures.filter((t) => t > now - HOUR_MS).length;
  }

  /** Opens a window with a new code (replacing an open one). Throws LOCKED_OUT / INVALID_ARGUMENT. */
  open(opts: OpenWindowOptions, now: number): WindowOpened {
    const events = this.tick(now);
    if (this.#state.kind === "locked-out") {
      throw new OpenClawError("LOCKED_OUT", { retryAfterMs: this.#state.until - now });
    }
    const ttlMs = checkTtl(opts.ttlMs ?? this.policy.defaultTtlMs);
    const format = opts.format ?? "passkey";
    const codeSource: CodeSource = opts.codeFromController === undefined ? "device" : "controller";
    const code =
      opts.codeFromController === undefined
        ? generateCode(format, this.#random)
        : normaliseCode(opts.codeFromController, format);
    if (this.#state.kind === "open") events.push(...this.#close("replaced"));
    events.push(
      ...this.#openWith({
        code,
        format,
        codeSource,
        role: opts.role ?? "user",
        reason: opts.reason ?? (codeSource === "controller" ? "share" : "button"),
        ttlMs,
        now,
      }),
    );
    const s = this.#state as OpenWindowState;
    return { code, display: displayCode(code, format), nonce: s.nonce, expiresAt: s.expiresAt, events };
  }

  close(reason: WindowCloseReason, now: number): AccessoryEvent[] {
    const events = this.tick(now);
    if (this.#state.kind === "open") events.push(...this.#close(reason));
    return events;
  }

  /** Expiry and the end of a lockout. Call before acting on anything at `now`. */
  tick(now: number): AccessoryEvent[] {
    const s = this.#state;
    if (s.kind === "open" && now >= s.expiresAt) return this.#close("expired");
    if (s.kind === "locked-out" && now >= s.until) {
      this.#state = { kind: "closed" };
      this.#guardVersion += 1;
    }
    if (this.#quietFrom !== undefined && now - this.#quietFrom >= HOUR_MS) this.#quietHour();
    return [];
  }

  /** When `tick` next has something to do. */
  nextDeadline(): number | undefined {
    const s = this.#state;
    return s.kind === "open" ? s.expiresAt : s.kind === "locked-out" ? s.until : undefined;
  }

  /**
   * May a PairSetupStart for the window identified by `nonce` go ahead? Returns the error to answer
   * with otherwise (LOCKED_OUT, WINDOW_CLOSED, CODE_EXPIRED{reason}). Costs no attempt.
   */
  admit(nonce: Uint8Array, now: number): OpenClawError | undefined {
    const s = this.#state;
    if (s.kind === "locked-out") return new OpenClawError("LOCKED_OUT", { retryAfterMs: s.until - now });
    if (s.kind === "open" && sameBytes(s.nonce, nonce)) return undefined;
    const recent = this.#recent.find((r) => sameBytes(r.nonce, nonce));
    if (recent) return new OpenClawError("CODE_EXPIRED", { reason: recent.reason });
    if (s.kind === "closed") return new OpenClawError("WINDOW_CLOSED", {});
    // A nonce we never issued (or forgot): the controller read the info of an older window.
    return new OpenClawError("CODE_EXPIRED", { reason: "ttl" });
  }

  /** Counts one attempt against the open window (the device is about to send confirmV). */
  beginAttempt(now: number): void {
    const s = this.#state;
    if (s.kind !== "open" || now >= s.expiresAt || s.attemptsLeft <= 0) {
      throw new Error("beginAttempt without an open window with attempts left");
    }
    s.attemptsLeft -= 1;
    s.pending += 1;
    // Persisted before confirmV goes out: a power cut mid-exchange still costs the attempt (§6.2).
    this.#unsettled += 1;
    this.#guardVersion += 1;
  }

  /**
   * Ends a counted attempt. "success": the code was right (attempt refunded, window used up, guard
   * reset). "refund": the code was right but the exchange failed for another reason (window stays open).
   * "failure": maybe burns the code (fresh code or close) and maybe locks pairing out. The window may
   * have changed since (expired, replaced): then only the guard is updated.
   */
  settle(outcome: "success" | "refund" | "failure", nonce: Uint8Array, now: number): Settled {
    const events = this.tick(now);
    const s = this.#state;
    const current = s.kind === "open" && sameBytes(s.nonce, nonce) ? s : undefined;
    if (current) current.pending = Math.max(0, current.pending - 1);
    if (this.#unsettled > 0) {
      this.#unsettled -= 1;
      this.#guardVersion += 1;
    }
    if (outcome !== "failure") {
      this.#forgetGuard();
      if (current) {
        current.attemptsLeft += 1;
        if (outcome === "success") events.push(...this.#close("used"));
      }
      return { events };
    }
    const lockedFor = this.#recordFailure(now);
    if (lockedFor !== undefined) {
      if (this.#state.kind === "open") events.push(...this.#close("locked-out"));
      this.#lockOut(now, lockedFor);
      events.push({ type: "locked-out", retryAfterMs: lockedFor });
      return { events, error: new OpenClawError("LOCKED_OUT", { retryAfterMs: lockedFor }) };
    }
    if (!current) return { events };
    events.push({ type: "wrong-code", attemptsLeft: current.attemptsLeft });
    const error = new OpenClawError("WRONG_CODE", { attemptsLeft: current.attemptsLeft });
    if (current.attemptsLeft === 0 && current.pending === 0) {
      events.push(...this.#close("burnt"));
      // A device-shown code is replaced by a fresh one with a fresh window of the same length; a code
      // shared by a controller cannot be re-shown here, so that window just closes.
      if (current.codeSource === "device") {
        events.push(
          ...this.#openWith({
            code: generateCode(current.format, this.#random),
            format: current.format,
            codeSource: "device",
            role: current.role,
            reason: "fresh-code",
            ttlMs: current.ttlMs,
            now,
          }),
        );
      }
    }
    return { events, error };
  }

  /** The window as the info payload publishes it. */
  snapshot(now: number): InfoWindow {
    // Read-only: a deadline that has passed shows as closed even before tick() reports it.
    const s = this.#state;
    if (s.kind === "open" && now < s.expiresAt) {
      return {
        state: "open",
        format: s.format,
        codeSource: s.codeSource,
        nonce: s.nonce,
        iterations: this.policy.iterations,
        timeLeftMs: Math.max(0, s.expiresAt - now),
        attemptsLeft: s.attemptsLeft,
      };
    }
    if (s.kind === "locked-out" && now < s.until) return { state: "locked-out", retryAfterMs: s.until - now };
    return { state: "closed" };
  }

  /** Forgets the guard's history too (factory reset). */
  reset(): void {
    if (this.#state.kind === "locked-out") this.#guardVersion += 1;
    this.#state = { kind: "closed" };
    this.#forgetGuard();
    this.#unsettled = 0;
    this.#recent = [];
  }

  /** Changes whenever the guard snapshot changes other than by time passing ("persist it now"). */
  get guardVersion(): number {
    return this.#guardVersion;
  }

  /**
   * The attempt guard as it should survive a reboot: counts and the lockout time left, no timestamps
   * (the monotonic clock restarts at boot) and no secrets.
   */
  guardSnapshot(now: number): GuardSnapshot {
    const s = this.#state;
    return {
      failuresInLastHour: this.failuresInHour(now),
      lockouts: this.#lockouts,
      // Whole milliseconds, rounded up: a lockout never comes back shorter than it was (and the stored
      // form is an integer — a fraction made every save during a lockout fail).
      lockedForMs:
        s.kind === "locked-out" ? Math.min(MAX_LOCKED_FOR_MS, Math.ceil(Math.max(0, s.until - now))) : 0,
      unsettled: this.#unsettled,
    };
  }

  /**
   * Restores a snapshot taken before a reboot, conservatively: every failure counts as made at `now`
   * (it stays for a full hour), the backoff level is kept, a running lockout resumes for all the time it
   * had left (power-off time is unknown, so it does not count), and attempts that were never settled
   * are recorded as failures now (a link lost mid-exchange is a failure, §5.4), which may lock out.
   * Meant for boot, on a fresh window. A snapshot that is invalid (or `null`: the device lost it) is
   * reported and replaced by `lostGuardSnapshot`: the device starts at the limit, locked out, because
   * a lost count must never hand out a fresh set of guesses.
   */
  restoreGuard(snapshot: unknown, now: number): GuardRestore & { events: AccessoryEvent[] } {
    const parsed = GuardSnapshotSchema.safeParse(snapshot);
    let g: GuardSnapshot;
    let lost: string | undefined;
    if (parsed.success) g = parsed.data;
    else {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? issue.path.join(".") : "(root)";
      lost = snapshot === null ? "the stored guard was lost" : `invalid guard snapshot at ${where}`;
      g = lostGuardSnapshot(this.policy);
    }
    const events: AccessoryEvent[] = [];
    this.#failures = Array.from({ length: g.failuresInLastHour }, () => now);
    // The quiet hour starts again at boot (power-off time is unknown), also for a backoff level kept
    // without failures in the hour: otherwise it would never be forgiven short of a success.
    this.#quietFrom = g.failuresInLastHour > 0 || g.lockouts > 0 ? now : undefined;
    this.#lockouts = g.lockouts;
    this.#unsettled = 0;
    let lockedFor = g.lockedForMs > 0 ? Math.min(g.lockedForMs, this.policy.lockoutMaxMs) : undefined;
    for (let i = 0; i < (g.unsettled ?? 0); i++) {
      if (lockedFor !== undefined) {
        this.#failures.push(now);
        this.#quietFrom = Math.max(this.#quietFrom ?? now, now);
      } else {
        lockedFor = this.#recordFailure(now);
      }
    }
    if (lockedFor !== undefined) {
      if (this.#state.kind === "open") events.push(...this.#close("locked-out"));
      this.#lockOut(now, lockedFor);
    }
    this.#guardVersion += 1;
    if (lost !== undefined) {
      const lockedForMs = this.#state.kind === "locked-out" ? this.#state.until - now : 0;
      return { restored: false, reason: lost, lockedForMs, events };
    }
    return { restored: true, events };
  }

  #openWith(o: {
    code: string;
    format: CodeFormatName;
    codeSource: CodeSource;
    role: Role;
    reason: WindowOpenReason;
    ttlMs: number;
    now: number;
  }): AccessoryEvent[] {
    const nonce = this.#random(WINDOW_NONCE_LEN);
    const { w0, w1 } = deriveW0W1(codePassword(o.code), nonce, this.policy.iterations);
    const L = registrationRecord(w1);
    w1.fill(0);
    const expiresAt = o.now + o.ttlMs;
    this.#state = {
      kind: "open",
      code: o.code,
      format: o.format,
      codeSource: o.codeSource,
      role: o.role,
      reason: o.reason,
      nonce,
      ttlMs: o.ttlMs,
      openedAt: o.now,
      expiresAt,
      attemptsLeft: this.policy.attemptsPerCode,
      pending: 0,
      w0,
      L,
    };
    return [
      {
        type: "display",
        code: o.code,
        display: displayCode(o.code, o.format),
        format: o.format,
        codeSource: o.codeSource,
        expiresAt,
        expiresInMs: o.ttlMs,
        attemptsLeft: this.policy.attemptsPerCode,
        reason: o.reason,
      },
    ];
  }

  #close(reason: WindowCloseReason): AccessoryEvent[] {
    const s = this.#state;
    if (s.kind !== "open") return [];
    const expiry = CLOSE_TO_EXPIRY[reason];
    if (expiry) {
      this.#recent.unshift({ nonce: s.nonce, reason: expiry });
      this.#recent.length = Math.min(this.#recent.length, RECENT_CODES);
    }
    s.w0.fill(0);
    this.#state = { kind: "closed" };
    return [{ type: "window-closed", reason }];
  }

  /**
   * Records a failure; returns the lockout length when this failure locks pairing out: the hour's
   * threshold reached, or any failure once locked out before and not yet forgiven (else failures aging
   * out of the sliding hour during a long lockout handed the guesser a fresh allowance each time).
   */
  #recordFailure(now: number): number | undefined {
    if (this.#quietFrom !== undefined && now - this.#quietFrom >= HOUR_MS) this.#quietHour();
    this.#failures = this.#failures.filter((t) => t > now - HOUR_MS);
    this.#failures.push(now);
    this.#quietFrom = Math.max(this.#quietFrom ?? now, now);
    this.#guardVersion += 1;
    if (this.#failures.length < this.policy.failuresPerHour && this.#lockouts === 0) return undefined;
    const ms = Math.min(this.policy.lockoutBaseMs * 2 ** this.#lockouts, this.policy.lockoutMaxMs);
    this.#lockouts += 1;
    return ms;
  }

  /** Locks pairing out; the quiet hour that forgives it can only start once the lockout is over. */
  #lockOut(now: number, ms: number): void {
    this.#state = { kind: "locked-out", until: now + ms };
    this.#quietFrom = Math.max(this.#quietFrom ?? now, now + ms);
  }

  /** A quiet hour (no failure and no lockout for an hour) forgives earlier lockouts. */
  #quietHour(): void {
    this.#forgetGuard();
  }

  /** k = 0, failures forgotten (a version bump only when that changes anything). */
  #forgetGuard(): void {
    if (this.#failures.length > 0 || this.#lockouts > 0 || this.#quietFrom !== undefined) {
      this.#guardVersion += 1;
    }
    this.#failures = [];
    this.#lockouts = 0;
    this.#quietFrom = undefined;
  }
}
