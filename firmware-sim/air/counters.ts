import type { Controller } from "./controller.js";
import type { LinkCounters } from "./types.js";

export interface PairCounters extends LinkCounters {
  centralId: string;
  peripheralId: string;
}

/**
 * Counters per central/peripheral pair (scanner/advertiser before they connect), keyed by label so a
 * labelled client that reconnects continues its row. A row goes when either client leaves: a long-running
 * air serves many short-lived clients.
 */
export class PairCounterTable {
  private readonly pairs = new Map<string, PairCounters>();

  /** The row for this pair, created on first use. */
  of(central: Controller, peripheral: Controller): PairCounters {
    const key = `${central.label ?? central.id}>${peripheral.label ?? peripheral.id}`;
    let p = this.pairs.get(key);
    if (!p) {
      p = {
        central: central.name,
        peripheral: peripheral.name,
        centralId: central.id,
        peripheralId: peripheral.id,
        adverts: 0,
        scanResponses: 0,
        connections: 0,
        connectionEvents: 0,
        packetsToPeripheral: 0,
        packetsToCentral: 0,
        dropped: 0,
        violations: 0,
        connected: false,
      };
      this.pairs.set(key, p);
    }
    return p;
  }

  list(): LinkCounters[] {
    return [...this.pairs.values()].map(({ centralId: _c, peripheralId: _p, ...rest }) => ({ ...rest }));
  }

  /** Drops every row of the controller that left. */
  forget(controllerId: string): void {
    for (const [key, p] of this.pairs)
      if (p.centralId === controllerId || p.peripheralId === controllerId) this.pairs.delete(key);
  }
}
