/**
 * The air's only source of time. Real timers by default; tests pass a FakeTimers and advance it by hand
 * so link-model tests (connection events, supervision timeouts, advertising intervals) need no sleeps.
 */
export interface TimerHandle {
  readonly id: number;
}

export interface AirTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(h: TimerHandle | undefined): void;
}

/** Wall-clock-independent timers backed by Node's. Every handle is tracked so close() leaves none. */
export class RealTimers implements AirTimers {
  private next = 1;
  private readonly live = new Map<number, NodeJS.Timeout>();

  now(): number {
    return performance.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.next++;
    const t = setTimeout(
      () => {
        this.live.delete(id);
        fn();
      },
      Math.max(0, ms),
    );
    this.live.set(id, t);
    return { id };
  }

  clearTimeout(h: TimerHandle | undefined): void {
    if (!h) return;
    const t = this.live.get(h.id);
    if (t) clearTimeout(t);
    this.live.delete(h.id);
  }

  /** How many timers are pending (tests assert 0 after close). */
  get pending(): number {
    return this.live.size;
  }
}

/** Deterministic timers: nothing fires until advance() moves the clock past a deadline. */
export class FakeTimers implements AirTimers {
  private t = 0;
  private next = 1;
  private readonly queue = new Map<number, { at: number; seq: number; fn: () => void }>();

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.next++;
    this.queue.set(id, { at: this.t + Math.max(0, ms), seq: id, fn });
    return { id };
  }

  clearTimeout(h: TimerHandle | undefined): void {
    if (h) this.queue.delete(h.id);
  }

  /** Runs every timer due within the next `ms`, in deadline order, moving the clock as it goes. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let best: { id: number; at: number; seq: number; fn: () => void } | undefined;
      for (const [id, e] of this.queue) {
        if (e.at <= end && (!best || e.at < best.at || (e.at === best.at && e.seq < best.seq)))
          best = { id, ...e };
      }
      if (!best) break;
      this.queue.delete(best.id);
      this.t = Math.max(this.t, best.at);
      best.fn();
    }
    this.t = end;
  }

  get pending(): number {
    return this.queue.size;
  }
}
