/**
 * @deprecated Transitional re-exports for modules not yet migrated (firmware-sim/device, test/helpers,
 * window tests). Time is src/clock (`Clock`, `ManualClock`); randomness is ./random.ts. Remove this file
 * once nothing imports it.
 */
import type { Clock } from "../clock/clock.js";

export { ManualClock as FakeClock } from "../clock/manual.js";
export type { RandomBytes } from "./random.js";
export { seededRandom } from "./random.js";

/** @deprecated Take `Pick<Clock, "now">` (or a whole `Clock`) from src/clock. */
export type MonotonicClock = Pick<Clock, "now">;
