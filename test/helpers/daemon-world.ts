/**
 * The daemon's core in one process for tests: real accessories (the role the sim runs) over in-memory
 * links (src/daemon/core/testing/memory-air.ts), a ManualClock, seeded randomness, and the real bond
 * store and audit log (src/store) in a temp dir, read back from disk. Used by test/unit/daemon-core and
 * the daemon's fault matrix (test/stress).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach } from "vitest";
import { ClawApp } from "../../firmware-sim/device/app.js";
import { ManualClock } from "../../src/clock/index.js";
import type { CoreEvent, CoreOptions, DaemonCore } from "../../src/daemon/core/api.js";
import { createDaemonCore } from "../../src/daemon/core/core.js";
import { coreAudit, coreStore } from "../../src/daemon/core/store-port.js";
import {
  MemoryAir,
  type MemoryCentral,
  type MemoryDevice,
} from "../../src/daemon/core/testing/memory-air.js";
import { advance, settle } from "../../src/daemon/core/testing/settle.js";
import { FaultyStore, IoTracker, trackedAudit } from "../../src/daemon/core/testing/store-faults.js";
import { seededRandom } from "../../src/protocol/random.js";
import { AuditLog, readAudit } from "../../src/store/audit-log.js";
import { BondStore } from "../../src/store/bond-store.js";
import { type OpenClawPaths, resolvePaths } from "../../src/store/paths.js";

export const LAPTOP_ID = seededRandom("laptop-id")(16);
export const LAPTOP_HEX = Buffer.from(LAPTOP_ID).toString("hex");

export interface Laptop {
  core: DaemonCore;
  central: MemoryCentral;
  /** The real store (what is on disk) and the faulty wrapper the core uses. */
  bonds: BondStore;
  store: FaultyStore;
  paths: OpenClawPaths;
  events: CoreEvent[];
  /** The audit log as read back from disk (event types, or whole events). */
  audit(): Promise<string[]>;
  auditEvents(): Promise<Array<Record<string, unknown>>>;
}

export interface World {
  clock: ManualClock;
  air: MemoryAir;
  io: IoTracker;
  /** A laptop on a fresh state dir, or on `paths` (a restart: the store is loaded from disk). */
  laptop(o?: { paths?: OpenClawPaths; options?: CoreOptions; seed?: string }): Promise<Laptop>;
  device(seed: string): MemoryDevice;
  /** Moves the clock, letting disk I/O finish between timers. */
  advance(ms: number): Promise<void>;
  settle<T>(p: Promise<T>): Promise<T>;
}

/**
 * A fresh world: a ManualClock, a MemoryAir, and laptops on state dirs under one temp dir. Everything it
 * made is undone by `cleanups` (run them in reverse, e.g. from afterEach: see useWorlds()).
 */
export async function createWorld(cleanups: Array<() => Promise<void> | void>): Promise<World> {
  const clock = new ManualClock(1000);
  const air = new MemoryAir({ clock });
  const io = new IoTracker();
  const dir = mkdtempSync(join(tmpdir(), "ocp-core-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => air.close());
  let n = 0;
  const w: World = {
    clock,
    air,
    io,
    device: (seed) => air.addDevice({ seed, app: new ClawApp(() => {}) }),
    advance: (ms) => advance(clock, ms, () => io.idle()),
    settle: (p) => settle(clock, p, { idle: () => io.idle() }),
    async laptop(o = {}) {
      const paths = o.paths ?? resolvePaths({ stateDir: join(dir, `laptop-${n++}`), env: {} });
      const bonds = await BondStore.open(paths, { clock });
      const log = await AuditLog.open(paths, { clock });
      cleanups.push(() => log.close());
      const store = new FaultyStore(coreStore(bonds), io);
      const central = air.central();
      const core = createDaemonCore({
        radio: central,
        store,
        audit: trackedAudit(coreAudit(log), io),
        identity: { controllerId: LAPTOP_ID, name: "test laptop" },
        clock,
        random: seededRandom(`core:${o.seed ?? "a"}`),
        options: o.options ?? {},
      });
      const events: CoreEvent[] = [];
      core.on((e) => events.push(e));
      await core.start();
      cleanups.push(() => core.close());
      // One advertising round: every device in range is in the registry.
      await w.advance(air.advertIntervalMs);
      const auditEvents = async () => {
        await io.idle();
        return (await readAudit(paths)).events as unknown as Array<Record<string, unknown>>;
      };
      return {
        core,
        central,
        bonds,
        store,
        paths,
        events,
        auditEvents,
        audit: async () => (await auditEvents()).map((e) => String(e.type)),
      };
    },
  };
  return w;
}

/** What a restarted process would load from `paths`. */
export async function onDisk(w: World, paths: OpenClawPaths): Promise<BondStore> {
  await w.io.idle();
  return BondStore.open(paths, { clock: w.clock });
}

/** A well-formed passkey that is not the device's. */
export const wrong = (code: string) => code.replace(/\d/g, (d) => String((Number(d) + 1) % 10));
export const idOf = (b: { record: { deviceId: Uint8Array } }) =>
  Buffer.from(b.record.deviceId).toString("hex");

export function deviceBond(dev: MemoryDevice) {
  return dev.bonds().find((b) => Buffer.from(b.controllerId).toString("hex") === LAPTOP_HEX);
}

/** `world()` for a test file: each test's worlds are closed after it. */
export function useWorlds(): () => Promise<World> {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return () => createWorld(cleanups);
}
