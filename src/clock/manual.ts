/**
 * A clock a test moves by hand (matter.js's MockTime, but passed in): nothing fires until `advance`
 * moves time past a timer's due time; timers fire in due order, ties in the order they were set.
 * `advanceAsync` lets promise callbacks run between timers, for code that awaits between steps.
 */
import type { Clock, PendingTimer, TimerHandle } from "./clock.js";

interface Entry extends TimerHandle {
  readonly seq: number;
  readonly due: number;
  readonly fn: () => void;
}

export class ManualClock implements Clock {
  private t: number;
  private wall: number;
  private seq = 0;
  private readonly queue = new Set<Entry>();

  /** `start`: the monotonic origin; `wallStart`: the wall time at that origin (ms since the epoch). */
  constructor(start = 0, wallStart = Date.UTC(2026, 0, 1)) {
    this.t = start;
    this.wall = wallStart - start;
  }

  now(): number {
    return this.t;
  }

  wallNow(): number {
    return this.wall + this.t;
  }

  /** Moves the wall clock alone (a user changing the system time); monotonic time is unaffected. */
  jumpWall(ms: number): void {
    this.wall += ms;
  }

  setTimeout(name: string, ms: number, fn: () => void): TimerHandle {
    const entry: Entry = { name, seq: this.seq++, due: this.t + Math.max(0, ms), fn };
    this.queue.add(entry);
    return entry;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle) this.queue.delete(handle as Entry);
  }

  pending(): PendingTimer[] {
    return this.sorted().map((e) => ({ name: e.name, dueInMs: e.due - this.t }));
  }

  /** How many timers are pending (a test asserts 0 after close). */
  get size(): number {
    return this.queue.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, synchronously. */
  advance(ms: number): void {
    const target = this.checkedTarget(ms);
    for (let e = this.nextDue(target); e; e = this.nextDue(target)) this.fire(e);
    this.t = target;
  }

  /** As `advance`, but lets pending promise callbacks run after each timer (and before returning). */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.checkedTarget(ms);
    await flush();
    for (let e = this.nextDue(target); e; e = this.nextDue(target)) {
      this.fire(e);
      await flush();
    }
    this.t = target;
    await flush();
  }

  /** Fires the soonest timer, moving time to it; false when none is pending. */
  runNext(): boolean {
    const e = this.sorted()[0];
    if (!e) return false;
    this.fire(e);
    return true;
  }

  private checkedTarget(ms: number): number {
    if (!(ms >= 0)) throw new RangeError("a monotonic clock never goes back");
    return this.t + ms;
  }

  private fire(e: Entry): void {
    this.queue.delete(e);
    this.t = Math.max(this.t, e.due);
    e.fn();
  }

  private nextDue(target: number): Entry | undefined {
    const e = this.sorted()[0];
    return e && e.due <= target ? e : undefined;
  }

  private sorted(): Entry[] {
    return [...this.queue].sort((a, b) => a.due - b.due || a.seq - b.seq);
  }
}

/** Lets every queued promise callback run (a macrotask turn), without waiting on real time. */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
