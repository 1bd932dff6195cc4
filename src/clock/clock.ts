/**
 * The one time service (DESIGN §2): everything that waits — protocol, transport, radio, device, air,
 * daemon, store — takes a `Clock` and never calls setTimeout or performance.now() itself. Timers are
 * named so the daemon and tests can list what is pending (a leaked timer shows by name). By default a
 * timer is background (it does not keep the process alive); `hold: true` is for the few that must.
 *
 * Unlike matter.js's static `Time.default`, a clock is always passed in, never a global.
 */

/** What a pending timer looks like from outside: its name and how long until it fires. */
export interface PendingTimer {
  readonly name: string;
  readonly dueInMs: number;
}

/** Opaque handle returned by `setTimeout`; pass it to `clearTimeout`. */
export interface TimerHandle {
  readonly name: string;
}

export interface TimerOptions {
  /** Keep the process alive while this timer is pending (default false: background). */
  hold?: boolean;
}

export interface Clock {
  /** Monotonic milliseconds: never goes back, unaffected by the wall clock. Use it for every expiry. */
  now(): number;
  /** Wall-clock milliseconds since the epoch: only for what people read (paired at, last verified). */
  wallNow(): number;
  /** Runs `fn` once after `ms` (clamped to ≥ 0). */
  setTimeout(name: string, ms: number, fn: () => void, opts?: TimerOptions): TimerHandle;
  /** Cancels a timer; a handle already fired or cleared, or undefined, is ignored. */
  clearTimeout(handle: TimerHandle | undefined): void;
  /** Every timer still pending, soonest first. */
  pending(): PendingTimer[];
}

/** Resolves after `ms` on `clock` (for code that awaits a pause: scan windows, backoff). */
export function sleep(clock: Clock, name: string, ms: number, opts?: TimerOptions): Promise<void> {
  return new Promise((resolve) => {
    clock.setTimeout(name, ms, resolve, opts);
  });
}

/**
 * Races `p` against a deadline on `clock`: rejects with `onTimeout()` if `ms` pass first. The timer is
 * cleared whichever way it ends, so nothing is left pending.
 */
export function withDeadline<T>(
  clock: Clock,
  p: Promise<T>,
  ms: number,
  name: string,
  onTimeout: () => Error,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(name, ms, () => reject(onTimeout()));
    p.then(
      (v) => {
        clock.clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clock.clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/**
 * A clock whose time runs `scale` times faster than `base` (the sim's --time-scale: a 120 s window
 * lasts 12 s at scale 10). Wall time for people stays the base's.
 */
export function scaledClock(base: Clock, scale: number): Clock {
  if (!(scale > 0) || !Number.isFinite(scale)) throw new RangeError("time scale must be a positive number");
  if (scale === 1) return base;
  const origin = base.now();
  return {
    now: () => origin + (base.now() - origin) * scale,
    wallNow: () => base.wallNow(),
    setTimeout: (name, ms, fn, opts) => base.setTimeout(name, Math.max(0, ms) / scale, fn, opts),
    clearTimeout: (h) => base.clearTimeout(h),
    pending: () => base.pending().map((p) => ({ name: p.name, dueInMs: p.dueInMs * scale })),
  };
}
