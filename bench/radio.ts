/**
 * The virtual radio with the real stacks: the air runs in this process, noble and bleno fixtures run as
 * children on it (test/fixtures/*, compiled to dist/).
 *
 * - ATT read round-trip time (noble read → bleno → back, timed inside the noble process) at connection
 *   intervals 7.5, 30 and 50 ms, as a ratio to the interval: a request waits for the next connection
 *   event and the response for the one after, so ~1-2 intervals is what a real link does.
 * - Advertising reports per second the air delivers to one active scanner, with five bleno advertisers at
 *   the fastest legal interval (20 ms): from the air's counters and as noble `discover` events.
 */
import { performance } from "node:perf_hooks";
import { type Child, killAll } from "../rig/proc.js";
import { FIXTURE_READ, FIXTURE_SERVICE } from "../rig/programs/uuids.js";
import {
  type CentralEvent,
  discovered,
  startAir,
  startCentral,
  startPeripheral,
  type TestAir,
} from "../rig/radio.js";

const INTERVALS_MS = [7.5, 30, 50] as const;
const READS: Record<(typeof INTERVALS_MS)[number], number> = { 7.5: 40, 30: 20, 50: 15 };
const ADVERTISERS = 5;
const SCAN_WINDOW_MS = 3000;

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
}

const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

async function readRoundTrips(t: TestAir, out: Record<string, unknown>): Promise<void> {
  const [central, dev] = await Promise.all([
    startCentral(t, "bench-laptop"),
    startPeripheral(t, "bench-dev", "Bench-1"),
  ]);
  await central.call("scan", { services: [FIXTURE_SERVICE] });
  const found = await discovered(central, "Bench-1");
  await central.call("stopScan");
  for (const interval of INTERVALS_MS) {
    await central.call("connect", { id: found.id, intervalMs: interval, supervisionMs: 2000 });
    await dev.next("accept", 3000);
    await central.call("discover", { id: found.id });
    await central.call("readTimes", { id: found.id, char: FIXTURE_READ, count: 3 }); // warm-up
    const times = await central.call<number[]>(
      "readTimes",
      { id: found.id, char: FIXTURE_READ, count: READS[interval] },
      20_000,
    );
    const actual = t.air.counters().find((c) => c.connected)?.intervalMs ?? interval;
    const median = quantile(times, 0.5);
    out[`att read rtt @${interval} ms: median ms`] = round(median);
    out[`att read rtt @${interval} ms: p90 ms`] = round(quantile(times, 0.9));
    out[`att read rtt @${interval} ms: ratio to interval (median)`] = round(median / actual);
    if (actual !== interval) out[`att read rtt @${interval} ms: interval the air used`] = actual;
    await central.call("disconnect", { id: found.id });
    await central.next("disconnect", 3000);
    await dev.next("disconnect", 3000);
  }
  await Promise.all([central.kill(), dev.kill()]);
}

async function advertisingRate(t: TestAir, out: Record<string, unknown>): Promise<void> {
  const central = await startCentral(t, "bench-scanner");
  await Promise.all(
    Array.from({ length: ADVERTISERS }, (_, i) =>
      startPeripheral(t, `bench-adv${i + 1}`, `Adv-${i + 1}`, 8000, { BLENO_ADVERTISING_INTERVAL: "20" }),
    ),
  );
  const scanner = (c: { central: string }): boolean => c.central === "bench-scanner";
  const adverts = (): number =>
    t.air
      .counters()
      .filter(scanner)
      .reduce((n, c) => n + c.adverts, 0);
  await central.call("scan", { services: [], duplicates: true });
  await discovered(central, `Adv-${ADVERTISERS}`, 8000);
  const before = adverts();
  const mark = central.mark();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, SCAN_WINDOW_MS));
  const seconds = (performance.now() - t0) / 1000;
  const delivered = adverts() - before;
  const seen = (central as Child<CentralEvent>).events
    .slice(mark)
    .filter((e) => e.type === "discover").length;
  await central.call("stopScan");
  out["adv reports/s to one scanner (air)"] = round(delivered / seconds, 1);
  out["adv reports/s seen by noble (discover events)"] = round(seen / seconds, 1);
  out["adv setup"] = `${ADVERTISERS} bleno advertisers at 20 ms, active scan, duplicates on`;
}

export async function benchRadio(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const t = await startAir();
  try {
    await readRoundTrips(t, out);
    await advertisingRate(t, out);
    out["air violations"] = t.air.violations;
  } finally {
    await killAll();
    await t.close();
  }
  return out;
}

// `node dist/bench/radio.js` runs it alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchRadio(), null, 2));
}
