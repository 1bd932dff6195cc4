/**
 * The daemon's resident memory at idle (issue 10: ≤ 80 MB; it sat at ≈ 100 MB with ≈ 70 MB live).
 * A pair-setup allocates briefly and fast (pure-JS P-256 over bigints; the curve tables built once
 * after start-up most of all), and V8 answers such a burst by growing its young generation from 2 MB to its
 * 32 MB maximum, then shrinks it only in a full collection made after ≥ 5 s of low allocation, which an
 * idle process never gets. Two measures, both measured with `node dist/bench/daemon.js soak`:
 *
 * - the young generation keeps its initial size (`--semi-space-growth-factor=1`, honoured at run time):
 *   ≈ 27 MB less resident for ≈ 10 % more CPU per pair-setup (more scavenges of a smaller space);
 * - once the daemon has been quiet for a moment after some work, one full collection gives back what
 *   the work left behind — never while a request is in flight, and never while idle without cause.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Clock, TimerHandle } from "../../clock/index.js";

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
