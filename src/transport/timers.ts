/**
 * Timers the transport schedules through, injected so unit tests drive timeouts by hand (no sleeps)
 * and the radio code uses the real ones.
 */
import type { MonotonicClock } from "../protocol/env.js";

/** Opaque: whatever setTimeout returned. */
export type TimerHandle = object;

export interface Timers {
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The process's timers, unref'd so a pending transport timeout never keeps a process alive by itself. */
export const systemTimers: Timers = {
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

interface Pending {
  id: number;
  due: number;
  fn: () => void;
}

/** A clock and timers a test advances by hand; timers fire in due order, ties in scheduling order. */
export class ManualTimers implements Timers, MonotonicClock {
  private t = 0;
  private nextId = 0;
  private pending: Pending[] = [];

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const p = { id: this.nextId++, due: this.t + Math.max(0, ms), fn };
    this.pending.push(p);
    return p;
  }

  clearTimeout(handle: TimerHandle): void {
    this.pending = this.pending.filter((p) => p !== handle);
  }

  /** How many timers are scheduled (a test can assert nothing is left behind). */
  get size(): number {
    return this.pending.length;
  }

  /** Moves time forward, firing every timer that falls due on the way. */
  advance(ms: number): void {
    if (ms < 0) throw new RangeError("time never goes back");
    const target = this.t + ms;
    for (;;) {
      let next: Pending | undefined;
      for (const p of this.pending) {
        if (
          p.due <= target &&
          (next === undefined || p.due < next.due || (p.due === next.due && p.id < next.id))
        ) {
          next = p;
        }
      }
      if (next === undefined) break;
      this.pending = this.pending.filter((p) => p !== next);
      this.t = next.due;
      next.fn();
    }
    this.t = target;
  }
}
