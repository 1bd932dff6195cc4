/**
 * Two FrameLinks joined in memory: for unit tests and benches of everything above the radio. Frames
 * wait in a queue per direction until the test delivers them (one at a time or all), so ordering and
 * interleaving are under the test's control and nothing depends on real time.
 */
import type { FrameLink } from "./channel.js";

export type Side = "a" | "b";

export interface MemoryLinkPair {
  a: FrameLink;
  b: FrameLink;
  /** Frames sent by `from` and not yet delivered. */
  pending(from: Side): number;
  /** Delivers the oldest frame sent by `from`; false if none. */
  step(from: Side): boolean;
  /** Delivers frames in both directions, alternating, until none are left (bounded by maxSteps). */
  flush(maxSteps?: number): number;
  /** Every frame handed to the link, in send order (for assertions). */
  readonly log: Array<{ from: Side; frame: Uint8Array }>;
  /** Queues raw bytes as if `from` had sent them, bypassing the size check (a misbehaving peer). */
  inject(from: Side, frame: Uint8Array): void;
  /** Replaces a frame in flight before delivery: return null to drop it. */
  intercept(fn: ((from: Side, frame: Uint8Array) => Uint8Array | null) | null): void;
  /** The link is lost: both sides hear onClose and later sends fail. */
  drop(reason?: string): void;
}

export function createMemoryLinkPair(maxFrame: number): MemoryLinkPair {
  const queues: Record<Side, Uint8Array[]> = { a: [], b: [] };
  const frameListeners: Record<Side, Set<(f: Uint8Array) => void>> = { a: new Set(), b: new Set() };
  const closeListeners: Record<Side, Set<(r: string) => void>> = { a: new Set(), b: new Set() };
  const log: Array<{ from: Side; frame: Uint8Array }> = [];
  let interceptor: ((from: Side, frame: Uint8Array) => Uint8Array | null) | null = null;
  let up = true;

  const other = (s: Side): Side => (s === "a" ? "b" : "a");

  const makeLink = (side: Side): FrameLink => ({
    maxFrame,
    sendFrame(frame) {
      if (!up) return Promise.reject(new Error("link down"));
      if (frame.length > maxFrame) return Promise.reject(new Error(`frame of ${frame.length} > ${maxFrame}`));
      const copy = frame.slice();
      log.push({ from: side, frame: copy });
      queues[side].push(copy);
      return Promise.resolve();
    },
    onFrame(l) {
      frameListeners[side].add(l);
      return () => frameListeners[side].delete(l);
    },
    onClose(l) {
      closeListeners[side].add(l);
      return () => closeListeners[side].delete(l);
    },
  });

  const step = (from: Side): boolean => {
    if (!up) return false;
    const f = queues[from].shift();
    if (f === undefined) return false;
    const delivered = interceptor ? interceptor(from, f) : f;
    if (delivered !== null) for (const l of [...frameListeners[other(from)]]) l(delivered);
    return true;
  };

  return {
    a: makeLink("a"),
    b: makeLink("b"),
    log,
    pending: (from) => queues[from].length,
    step,
    flush(maxSteps = 100_000) {
      let n = 0;
      while (n < maxSteps && (queues.a.length > 0 || queues.b.length > 0)) {
        if (step("a")) n++;
        if (step("b")) n++;
      }
      return n;
    },
    inject(from, frame) {
      log.push({ from, frame });
      queues[from].push(frame);
    },
    intercept(fn) {
      interceptor = fn;
    },
    drop(reason = "link lost") {
      if (!up) return;
      up = false;
      queues.a = [];
      queues.b = [];
      for (const s of ["a", "b"] as const) for (const l of [...closeListeners[s]]) l(reason);
    },
  };
}
