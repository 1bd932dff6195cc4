/**
 * The process's real clock: performance.now() for monotonic time, Date.now() for wall time, Node's
 * timers underneath. Every pending timer is tracked by name so `pending()` can list it; background
 * timers are unref'd.
 */
import { performance } from "node:perf_hooks";
import type { Clock, PendingTimer, TimerHandle, TimerOptions } from "./clock.js";

interface Live extends TimerHandle {
  readonly due: number;
  readonly node: NodeJS.Timeout;
}

export class SystemClock implements Clock {
  private readonly live = new Set<Live>();

  now(): number {
    return performance.now();
  }

  wallNow(): number {
    return Date.now();
  }

  setTimeout(name: string, ms: number, fn: () => void, opts: TimerOptions = {}): TimerHandle {
    const delay = Math.max(0, ms);
    const node = setTimeout(() => {
      this.live.delete(entry);
      fn();
    }, delay);
    if (!opts.hold) node.unref();
    const entry: Live = { name, due: this.now() + delay, node };
    this.live.add(entry);
    return entry;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (!handle) return;
    const entry = handle as Live;
    if (!this.live.delete(entry)) return;
    clearTimeout(entry.node);
  }

  pending(): PendingTimer[] {
    const now = this.now();
    return [...this.live]
      .sort((a, b) => a.due - b.due)
      .map((t) => ({ name: t.name, dueInMs: Math.max(0, t.due - now) }));
  }
}

/** A process-wide real clock for entry points (main functions) to pass down; library code takes one. */
export const systemClock: Clock = new SystemClock();
