/**
 * kill -9 of a process in the middle of bond-store writes: a child walks every transition on four
 * devices at once and is SIGKILLed at an arbitrary instant; then this process takes over the lock and
 * loads. Every bond file loads (atomic writes: none is ever half written), each device is in the state
 * of the last transition the child reported durable or of the one in flight, no temp file is left, and
 * the audit log reads with at most a torn last line, which the next open seals.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock/index.js";
import { AuditLog, readAudit } from "../../src/store/audit-log.js";
import { BondStore } from "../../src/store/bond-store.js";
import { resolvePaths } from "../../src/store/paths.js";
import { lockStateDir } from "../../src/store/state-dir.js";
import { idHex, sampleBond } from "../../src/store/testing.js";
import { expectedAfter, summarise } from "../fixtures/store-steps.js";
import { type ChildEvent, killAll, spawnProgram } from "../helpers/proc.js";

interface Durable extends ChildEvent {
  type: "durable";
  device: string;
  step: number;
}

const roots: string[] = [];
afterEach(async () => {
  await killAll();
  await Promise.all(roots.splice(0).map((r) => rm(r, { recursive: true, force: true })));
});

const DEVICES = 4;

describe("bond store under kill -9", () => {
  // Kill after different amounts of work so the instant differs between rounds.
  it.each([25, 90, 170])(
    "after about %i transitions, every bond is whole or absent",
    async (target) => {
      const root = await mkdtemp(join(tmpdir(), "store-crash-"));
      roots.push(root);
      const paths = resolvePaths({ stateDir: join(root, "state"), env: {} });
      const child = spawnProgram<ChildEvent>("test/fixtures/store-writer.js", {
        name: "store-writer",
        args: [paths.stateDir, String(DEVICES)],
      });
      await child.next("ready", 15_000);
      let seen = 0;
      await child.waitFor((e) => e.type === "durable" && ++seen >= target, 30_000, `${target} transitions`, {
        keep: true,
      });
      process.kill(child.pid, "SIGKILL");
      const exit = await child.exited;
      expect(exit.signal).toBe("SIGKILL");

      const last = new Map<string, number>();
      for (const e of child.events)
        if (e.type === "durable") last.set((e as Durable).device, (e as Durable).step);

      // The killed writer's lock is stale: taken over, as the next daemon would.
      const lock = await lockStateDir(paths.stateDir);
      try {
        const store = await BondStore.open(paths, { clock: new ManualClock() });
        expect(store.quarantined()).toEqual([]);
        expect(store.skipped()).toEqual([]);
        const left = await readdir(paths.bondsDir);
        expect(left.filter((n) => !/^[0-9a-f]{16}\.json$/.test(n))).toEqual([]);
        for (let i = 0; i < DEVICES; i++) {
          const device = `crash-${i}`;
          const id = idHex(sampleBond(device));
          const k = last.get(device) ?? -1;
          const got = summarise(device, store.get(id), store.candidate(id)?.accessoryName);
          expect([expectedAfter(k), expectedAfter(k + 1)], `${device} after step ${k}`).toContainEqual(got);
        }

        const audit = await readAudit(paths);
        // Only the line being written when the kill came may be torn: the last line of the current file.
        for (const p of audit.problems) expect(p.file).toBe(paths.auditFile);
        expect(audit.problems.length).toBeLessThanOrEqual(1);
        const log = await AuditLog.open(paths, { clock: new ManualClock() });
        await log.append({ type: "verified", deviceId: "00".repeat(8) });
        await log.close();
        const after = await readAudit(paths);
        expect(after.events.at(-1)).toMatchObject({ type: "verified", deviceId: "00".repeat(8) });
        expect(after.problems).toEqual(audit.problems);
      } finally {
        await lock.release();
      }
    },
    60_000,
  );
});
