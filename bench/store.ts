/**
 * The laptop's bond store: how long `BondStore.open` takes to load N bond files (one file per bond,
 * read with bounded concurrency, zod-validated). Fresh files each size; the page cache is warm, as it is
 * for a daemon restart.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "../src/clock/index.js";
import { BondStore } from "../src/store/bond-store.js";
import { resolvePaths } from "../src/store/paths.js";
import { writeBondFiles } from "../src/store/testing.js";

export async function benchStore(sizes = [100, 1000, 10_000]): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const n of sizes) {
    const root = await mkdtemp(join(tmpdir(), "bench-store-"));
    try {
      const paths = resolvePaths({ stateDir: join(root, "state"), env: {} });
      await writeBondFiles(paths.bondsDir, n);
      // Flush the fresh files first: the kernel writing them back would be timed as loading.
      execFileSync("sync");
      const runs: number[] = [];
      const cpu: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        const store = await BondStore.open(paths, { clock: systemClock });
        runs.push(performance.now() - t0);
        const c = process.cpuUsage(c0);
        cpu.push((c.user + c.system) / 1000);
        if (store.list().length !== n) throw new Error(`loaded ${store.list().length} of ${n}`);
      }
      out[`load ${n} bonds (ms, best of 3)`] = Math.min(...runs).toFixed(1);
      out[`load ${n} bonds (ms, first)`] = (runs[0] as number).toFixed(1);
      // CPU time is what the load costs; wall time also counts waiting for a busy machine's cores.
      out[`load ${n} bonds (cpu ms, best)`] = Math.min(...cpu).toFixed(1);
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
  for (const [k, v] of Object.entries(figures)) process.stdout.write(`${k.padEnd(34)} ${String(v)}\n`);
}
