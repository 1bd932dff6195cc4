import type { Clock, TimerHandle } from "../../src/clock/clock.js";
import type { Controller } from "./controller.js";
import type { PairCounterTable } from "./counters.js";
import { leAdvertisingReport, REPORT } from "./hci.js";
import type { Propagation } from "./propagation.js";

/** advDelay: 0-10 ms random per advertising event (Core Vol 6 B 4.4.2.2). */
const ADV_DELAY_MAX_MS = 10;

export interface AdvertisingDeps {
  clock: Clock;
  rng: () => number;
  radio: Propagation;
  counters: PairCounterTable;
  /** Every live controller (scanners and initiators are among them). */
  controllers(): Iterable<Controller>;
  /** An initiator heard the connectable advertiser it wants. */
  connect(central: Controller, peripheral: Controller, advAddr: { type: number; address: Buffer }): void;
}

/**
 * Advertising events: at each controller's advertising interval (plus advDelay), every scanner in range
 * gets a report built from the current data, active scanners a scan response, and an initiator waiting
 * for this advertiser connects.
 */
export class Advertising {
  private readonly timers = new Map<Controller, TimerHandle>();

  constructor(private readonly d: AdvertisingDeps) {}

  /** The host enabled or disabled advertising. */
  changed(c: Controller): void {
    // Data commands often follow the enable (bleno does this): the first event waits a moment.
    if (c.adv.kind === "on") this.schedule(c, 1 + this.d.rng() * ADV_DELAY_MAX_MS);
    else this.stop(c);
  }

  /** No advertising event is left pending. */
  close(): void {
    for (const t of this.timers.values()) this.d.clock.clearTimeout(t);
    this.timers.clear();
  }

  stop(c: Controller): void {
    this.d.clock.clearTimeout(this.timers.get(c));
    this.timers.delete(c);
    if (c.adv.kind === "on") c.adv = { kind: "off" };
  }

  private intervalMs(c: Controller): number {
    return Math.max(c.config.minAdvIntervalMs, c.advParams.intervalUnits * 0.625);
  }

  private schedule(c: Controller, delayMs: number): void {
    this.d.clock.clearTimeout(this.timers.get(c));
    this.timers.set(
      c,
      this.d.clock.setTimeout("air.advertising-event", delayMs, () => this.event(c)),
    );
  }

  /** One advertising event: every scanner in range gets a report built from the current data. */
  private event(adv: Controller): void {
    this.timers.delete(adv);
    if (adv.adv.kind !== "on" || !adv.present) return;
    if (adv.powered) {
      const own = adv.ownAddress(adv.advParams.ownAddressType);
      const type = adv.advParams.type === 0x04 ? REPORT.advDirectInd : adv.advParams.type;
      const connectable = type === REPORT.advInd || type === REPORT.advDirectInd;
      const scannable = type === REPORT.advInd || type === REPORT.advScanInd;
      for (const s of this.d.controllers()) {
        if (s === adv) continue;
        if (s.scan.kind === "on") {
          const rssi = this.d.radio.hear(adv, s);
          if (rssi !== undefined) {
            this.report(s, adv, type, own, adv.advData, rssi);
            if (s.scanParams.active && scannable && this.d.radio.hear(s, adv) !== undefined) {
              this.report(s, adv, REPORT.scanRsp, own, adv.scanRspData, rssi);
            }
          }
        }
      }
      const initiators: Controller[] = [];
      for (const s of this.d.controllers()) {
        if (s === adv || s.init.kind !== "initiating" || !connectable) continue;
        if (s.init.peerAddressType !== own.type || !s.init.peerAddress.equals(own.address)) continue;
        if (this.d.radio.hear(adv, s) === undefined || this.d.radio.hear(s, adv) === undefined) continue;
        initiators.push(s);
      }
      if (initiators.length > 0) {
        // Several initiators answer the same advert: on a real link layer whose CONNECT_IND gets through
        // is chance, not who powered on first (the oldest client would always win a race otherwise, and
        // a central that re-initiates at once could keep every other one out). The rng is drawn only
        // for a real race, so single-initiator runs stay as seeded.
        const pick =
          initiators.length === 1
            ? initiators[0]!
            : initiators[Math.floor(this.d.rng() * initiators.length) % initiators.length]!;
        this.d.connect(pick, adv, own);
        return; // a connectable advertiser stops advertising once connected
      }
    }
    this.schedule(adv, this.intervalMs(adv) + this.d.rng() * ADV_DELAY_MAX_MS);
  }

  private report(
    s: Controller,
    adv: Controller,
    type: number,
    own: { type: number; address: Buffer },
    data: Buffer,
    rssi: number,
  ): void {
    if (s.scan.kind !== "on") return;
    if (s.scan.filterDuplicates && s.config.honourDuplicateFilter) {
      const key = `${own.type}/${own.address.toString("hex")}/${type}/${data.toString("hex")}`;
      if (s.scan.seen.has(key)) return;
      s.scan.seen.add(key);
    }
    s.sendEvent(leAdvertisingReport({ type, addressType: own.type, address: own.address, data, rssi }));
    const p = this.d.counters.of(s, adv);
    p.adverts++;
    if (type === REPORT.scanRsp) p.scanResponses++;
  }
}
