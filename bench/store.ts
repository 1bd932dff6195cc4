/**
 * The laptop's bond store: how long `BondStore.open` takes to load N bond files (one file per bond,
 * read with bounded concurrency, zod-validated), and how long forgetting one bond takes in a store of N
 * (`BondStore.remove`: the unlink of its file and the directory's fsync, what `openclaw forget` waits
 * for). Fresh files each size; the page cache is warm, as it is for a daemon restart.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "../src/clock/index.js";
import { toHex } from "../src/protocol/bytes.js";
import { BondStore } from "../src/store/bond-store.js";
import { resolvePaths } from "../src/store/paths.js";
import { writeBondFiles } from "../src/store/testing.js";
import type { Figure } from "./report.js";
import { median, round } from "./stats.js";

const SECTION = "bond store";
const FORGETS = 21;

export async function benchStore(sizes = [100, 1000, 10_000]): Promise<Figure[]> {
  const out: Figure[] = [];
  for (const n of sizes) {
    const root = await mkdtemp(join(tmpdir(), "bench-store-"));
    try {
      const paths = resolvePaths({ stateDir: join(root, "state"), env: {} });
      await writeBondFiles(paths.bondsDir, n);
      // Flush the fresh files first: the kernel writing them back would be timed as loading.
      execFileSync("sync");
      const runs: number[] = [];
      const cpu: number[] = [];
      let store: BondStore | undefined;
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        store = await BondStore.open(paths, { clock: systemClock });
        runs.push(performance.now() - t0);
        const c = process.cpuUsage(c0);
        cpu.push((c.user + c.system) / 1000);
        if (store.list().length !== n) throw new Error(`loaded ${store.list().length} of ${n}`);
      }
      out.push({
        section: SECTION,
        name: `load ${n} bonds (wall, best of 3)`,
        value: Math.min(...runs),
        unit: "ms",
        ...(n === 10_000 ? { goal: { op: "<=" as const, value: 300 } } : {}),
        note: `first run ${(runs[0] as number).toFixed(1)} ms`,
      });
      // CPU time is what the load costs; wall time also counts waiting for a busy machine's cores.
      out.push({
        section: SECTION,
        name: `load ${n} bonds (CPU, best of 3)`,
        value: Math.min(...cpu),
        unit: "ms",
      });
      // Forget: FORGETS bonds spread over the store, one at a time, each awaited as `forget` awaits it.
      const all = store?.list() ?? [];
      const picked = Array.from({ length: FORGETS }, (_, i) => all[Math.floor((i * all.length) / FORGETS)]);
      const forget: number[] = [];
      for (const b of picked) {
        if (!b || !store) continue;
        const t0 = performance.now();
        if (!(await store.remove(toHex(b.record.deviceId)))) throw new Error("forget found no bond");
        forget.push(performance.now() - t0);
      }
      if (store?.list().length !== n - forget.length) throw new Error("forget left the bond in the store");
      forget.sort((a, b) => a - b);
      out.push({
        section: SECTION,
        name: `forget 1 bond of ${n} (wall, median of ${forget.length})`,
        value: median(forget),
        unit: "ms",
        note: `min ${round(forget[0] ?? 0, 2)} ms, max ${round(forget.at(-1) ?? 0, 2)} ms; unlink + directory fsync`,
      });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }
  return out;
}

if (process.argv[1]?.endsWith("bench/store.js")) {
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  const figures = await benchStore(sizes.length > 0 ? sizes : undefined);
  for (const f of figures) process.stdout.write(`${f.name.padEnd(34)} ${f.value.toFixed(1)} ${f.unit}\n`);
}
