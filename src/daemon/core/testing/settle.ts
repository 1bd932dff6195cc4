/**
 * Lets a ManualClock run until a promise settles: pending promise callbacks and tracked I/O first,
 * then the next timer, and so on, bounded by `maxMs` of simulated time. For code under test that waits
 * on the clock (backoff, timeouts, age-out) without a test sleeping in real time.
 */
import type { ManualClock } from "../../../clock/index.js";

const turn = () => new Promise<void>((r) => setImmediate(r));

export interface SettleOptions {
  /** Resolves when no real I/O is in flight (IoTracker.idle): time moves only then. */
  idle?: () => Promise<void>;
  maxMs?: number;
}

export async function settle<T>(clock: ManualClock, p: Promise<T>, o: SettleOptions = {}): Promise<T> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  const until = clock.now() + (o.maxMs ?? 3_600_000);
  for (;;) {
    for (let i = 0; i < 5 && !done; i++) {
      await turn();
      await o.idle?.();
    }
    if (done) return p;
    const next = clock.pending()[0];
    if (!next) throw new Error("settle: the promise is stuck and no timer is pending");
    if (clock.now() + next.dueInMs > until) throw new Error("settle: not settled within maxMs of clock time");
    clock.runNext();
  }
}

/** Moves the clock by `ms` in steps, waiting for tracked I/O between timers. */
export async function advance(clock: ManualClock, ms: number, idle?: () => Promise<void>): Promise<void> {
  const target = clock.now() + ms;
  for (;;) {
    for (let i = 0; i < 5; i++) {
      await turn();
      await idle?.();
    }
    const next = clock.pending()[0];
    if (!next || clock.now() + next.dueInMs > target) break;
    clock.runNext();
  }
  clock.advance(target - clock.now());
  for (let i = 0; i < 5; i++) {
    await turn();
    await idle?.();
  }
}
