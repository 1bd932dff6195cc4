/**
 * Lets a ManualClock run until a promise settles: promise callbacks first, then the next timer, and
 * so on, bounded by `maxMs` of simulated time. For code under test that waits on the clock (backoff,
 * timeouts, age-out) without a test sleeping in real time.
 */
import type { ManualClock } from "../../../clock/index.js";

const turn = () => new Promise<void>((r) => setImmediate(r));

export async function settle<T>(clock: ManualClock, p: Promise<T>, maxMs = 3_600_000): Promise<T> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  const until = clock.now() + maxMs;
  for (;;) {
    for (let i = 0; i < 5 && !done; i++) await turn();
    if (done) return p;
    const next = clock.pending()[0];
    if (!next) throw new Error("settle: the promise is stuck and no timer is pending");
    if (clock.now() + next.dueInMs > until)
      throw new Error(`settle: not settled within ${maxMs} ms of clock time`);
    clock.runNext();
  }
}
