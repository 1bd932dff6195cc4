/**
 * The daemon's resident memory at idle (issue 10: ≤ 80 MB, and no growth retained over pairings; it sat
 * at ≈ 100 MB with ≈ 70 MB live). A pair-setup allocates briefly and fast (pure-JS P-256 over bigints;
 * the curve tables, built once, most of all), and V8 answers such a burst by growing its young
 * generation from 2 MB to its 32 MB maximum, then shrinks it only in a full collection made after ≥ 5 s
 * of low allocation, which an idle process never gets. What the bursts leave behind is not live: V8's
 * old-space pages kept half empty, and the malloc arenas of V8's worker threads. The measures, each
 * measured with `node dist/bench/daemon.js soak 500` (bench/README.md):
 *
 * - the young generation keeps its initial size (`--semi-space-growth-factor=1`, honoured at run time):
 *   ≈ 27 MB less resident for ≈ 10 % more CPU per pair-setup (more scavenges of a smaller space);
 * - once the daemon has been quiet for a moment after some work, two full collections give back what
 *   the work left behind (the second compacts the pages the first found fragmented) — never while a
 *   request is in flight, and never while idle without cause;
 * - two V8 worker threads instead of four (`DAEMON_NODE_OPTIONS`, given where the daemon is started):
 *   each thread that compiles or marks keeps a malloc arena that glibc does not give back.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Clock, TimerHandle } from "../../clock/index.js";

/**
 * Node options for the daemon's process, which only its command line (or NODE_OPTIONS) can set: the CLI
 * passes them when it starts a daemon on demand, contrib/systemd/openclaw.service in NODE_OPTIONS.
 * `--v8-pool-size=2`: two V8 worker threads instead of four (one per cpu here), so fewer malloc arenas
 * held at idle: after 500 soak cycles the daemon sat at 76.4–76.8 MB, with four 79.5–80.7. One worker
 * kept a little less still (75.1–76.9) but slowed a fresh daemon's first pairings of 8 devices at once
 * by ≈ 17 % (bench concurrency, bench/README.md).
 */
export const DAEMON_NODE_OPTIONS: readonly string[] = ["--v8-pool-size=2"];

/** For the daemon's own process, before it loads or allocates much (V8 flags are process-wide). */
export function keepYoungGenerationSmall(): void {
  setFlagsFromString("--semi-space-growth-factor=1");
}

/**
 * node's `gc()`, also without `--expose-gc` on the command line (systemd and the CLI start the daemon
 * as `openclaw daemon`): the flag set at run time gives a new context the function. Undefined when
 * the runtime refuses.
 */
export function loadGc(): (() => void) | undefined {
  const own = (globalThis as { gc?: unknown }).gc;
  if (typeof own === "function") return own as () => void;
  try {
    setFlagsFromString("--expose-gc");
    const gc: unknown = runInNewContext("gc");
    return typeof gc === "function" ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The quiet collection: two full collections. V8 picks the pages to compact when a collection starts,
 * from the occupancy its previous sweep counted, so after a burst of work the first one finds the pages
 * fragmented and the second moves their objects out and frees them. Measured after 500 soak cycles: one
 * alone left 7.2 MB of old space committed but free, two 2.2 MB; ≈ 45 ms instead of ≈ 16, once per quiet
 * stretch.
 */
export function collectTwice(gc: () => void): void {
  gc();
  gc();
}

/**
 * Runs `collect` once the daemon has been quiet for `quietMs`: no request in flight (`during`) and no
 * work signalled (`touch`) for that long. Nothing happens until there was some work.
 */
export class QuietCollector {
  #timer: TimerHandle | undefined;
  #busy = 0;
  #closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly quietMs: number,
    private readonly collect: () => void,
  ) {}

  /** Work happened (a pairing step, a session event): collect after the next quiet stretch. */
  touch(): void {
    this.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#closed || this.#busy > 0) return;
    this.#timer = this.clock.setTimeout("daemon.collect", this.quietMs, () => {
      this.#timer = undefined;
      this.collect();
    });
  }

  /** Runs a request: no collection while it is in flight, the quiet stretch counts from its end. */
  async during<T>(work: () => Promise<T>): Promise<T> {
    this.#busy++;
    this.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      return await work();
    } finally {
      this.#busy--;
      this.touch();
    }
  }

  close(): void {
    this.#closed = true;
    this.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
