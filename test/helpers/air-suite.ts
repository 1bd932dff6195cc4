/**
 * The hooks every radio-* and sim-* integration file starts with: one virtual air for the file, every
 * child killed (after each test when asked, and after all), the air closed, and no child left running.
 * Kept apart from rig/radio.ts, which bench/ also loads outside vitest.
 */
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import type { Violation } from "../../firmware-sim/air/index.js";
import { killAll, liveChildren } from "../../rig/proc.js";
import { airEmpty, startAir, type TestAir } from "../../rig/radio.js";

export interface AirSuiteOptions {
  /** Receives the air once it is up (in beforeAll): assign it to the file's `t`. */
  started: (t: TestAir) => void;
  /** Collects the air's ATT violations here. */
  violations?: Violation[];
  /** Kill every child after each test too (default false). */
  killAfterEach?: boolean;
  /** Wait for every stream to close before closing the air: no socket left behind (default true). */
  waitEmpty?: boolean;
  /** Runs after the air is closed, before the check that no child is left. */
  cleanup?: () => void;
}

export function useAirSuite(o: AirSuiteOptions): void {
  let t: TestAir | undefined;
  beforeAll(async () => {
    t = await startAir();
    const violations = o.violations;
    if (violations) t.air.on("violation", (v: Violation) => violations.push(v));
    o.started(t);
  });
  if (o.killAfterEach) {
    afterEach(async () => {
      await killAll();
    });
  }
  afterAll(async () => {
    await killAll();
    if (o.waitEmpty ?? true) await airEmpty(t!);
    await t?.close();
    o.cleanup?.();
    expect(liveChildren()).toHaveLength(0);
  });
}
