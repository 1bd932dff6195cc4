export type { Clock, PendingTimer, TimerHandle, TimerOptions } from "./clock.js";
export { scaledClock, sleep, withDeadline } from "./clock.js";
export { ManualClock } from "./manual.js";
export { SystemClock, systemClock } from "./system.js";
