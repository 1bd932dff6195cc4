import type { Controller } from "./controller.js";
import { distance, type PathLossModel, receivedPowerDbm } from "./radio.js";

/** Who hears whom, and how loud: the path-loss model between live controllers, with seeded jitter. */
export class Propagation {
  constructor(
    private readonly rng: () => number,
    private readonly pathLoss: PathLossModel,
  ) {}

  rssi(from: Controller, to: Controller): number {
    const base = receivedPowerDbm(
      from.config.txPowerDbm,
      distance(from.position, to.position),
      this.pathLoss,
    );
    const j = to.config.rssiJitterDb;
    return j > 0 ? base + (this.rng() * 2 - 1) * j : base;
  }

  /** Whether `to` receives `from` now; returns the RSSI it measures, or undefined. */
  hear(from: Controller, to: Controller): number | undefined {
    if (!from.present || !to.present || !from.powered || !to.powered) return undefined;
    const r = this.rssi(from, to);
    return r >= to.config.sensitivityDbm ? r : undefined;
  }

  /** What `to` would measure from `from` right now, without jitter (dBm). */
  nominal(from: Controller, to: Controller): number {
    return receivedPowerDbm(from.config.txPowerDbm, distance(from.position, to.position), this.pathLoss);
  }
}
