/**
 * What the HCI layer tells the rest of the process about trouble it contained: a malformed PDU from a
 * peer (answered or dropped), an exception a stack threw while handling a packet (contained, the link
 * dropped), an adapter that cannot be used. noble and bleno are process-wide singletons that own their
 * sockets, so the reports are process-wide too: src/radio/central.ts and peripheral.ts subscribe and pass
 * them on typed. With nobody subscribed (an unmodified noble program under the preload) the first few
 * become process warnings, so trouble is never silent, yet a flooding peer cannot flood stderr.
 */
import type { OpenClawError } from "../../protocol/errors.js";

export type HciReport =
  | {
      kind: "malformed";
      /** The link the PDU came on. */
      handle: number;
      /** answered: Error Response sent; dropped: discarded; failed: the local request failed instead. */
      action: "answered" | "dropped" | "failed";
      error: OpenClawError<"PROTOCOL_ERROR">;
    }
  | { kind: "stack-threw"; handle?: number; error: OpenClawError<"INTERNAL"> }
  | { kind: "adapter"; error: OpenClawError<"ADAPTER_UNAVAILABLE"> };

export interface HciCounters {
  malformed: number;
  answered: number;
  dropped: number;
  failed: number;
  stackThrew: number;
  adapter: number;
}

type Listener = (r: HciReport) => void;

const listeners = new Set<Listener>();
const counters: HciCounters = { malformed: 0, answered: 0, dropped: 0, failed: 0, stackThrew: 0, adapter: 0 };
/** Process warnings made while nobody listened, per kind (then one "suppressed" line). */
const WARN_LIMIT = 5;
const warned = new Map<HciReport["kind"], number>();

/** Calls `fn` for every report from now on; returns the unsubscribe function. */
export function onHciReport(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Totals since the process started (tests and diagnostics). */
export function hciCounters(): HciCounters {
  return { ...counters };
}

export function reportHci(r: HciReport): void {
  if (r.kind === "malformed") {
    counters.malformed++;
    counters[r.action]++;
  } else if (r.kind === "stack-threw") counters.stackThrew++;
  else counters.adapter++;
  if (listeners.size === 0) {
    warnOnce(r);
    return;
  }
  for (const fn of [...listeners]) {
    try {
      fn(r);
    } catch {
      // A listener's bug must not undo the containment this report is about.
    }
  }
}

function warnOnce(r: HciReport): void {
  const n = (warned.get(r.kind) ?? 0) + 1;
  warned.set(r.kind, n);
  if (n > WARN_LIMIT + 1) return;
  const text = n > WARN_LIMIT ? `further ${r.kind} reports are not shown` : r.error.message;
  process.emitWarning(text, { code: "OPENCLAW_HCI", detail: r.error.remedy });
}
