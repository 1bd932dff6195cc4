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
import { airViolations, type Figure } from "./report.js";
import { quantile, round } from "./stats.js";

const INTERVALS_MS = [7.5, 30, 50] as const;
const READS: Record<(typeof INTERVALS_MS)[number], number> = { 7.5: 40, 30: 20, 50: 15 };
const SECTION = "radio (virtual air, real noble and bleno)";
const ADVERTISERS = 5;
const SCAN_WINDOW_MS = 3000;

async function readRoundTrips(t: TestAir, out: Figure[], quick: boolean): Promise<void> {
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
      { id: found.id, char: FIXTURE_READ, count: quick ? 5 : READS[interval] },
      20_000,
    );
    const actual = t.air.counters().find((c) => c.connected)?.intervalMs ?? interval;
    const median = quantile(times, 0.5);
    const note = `median of ${times.length}, interval the air used ${actual} ms`;
    const f = (name: string, value: number, unit: string): Figure => ({
      section: SECTION,
      name,
      value,
      unit,
      note,
    });
    out.push(
      f(`ATT read round trip @${interval} ms`, round(median, 2), "ms"),
      f(`ATT read round trip @${interval} ms, p90`, round(quantile(times, 0.9), 2), "ms"),
      f(`ATT read round trip @${interval} ms / interval`, round(median / actual, 2), "×"),
    );
    await central.call("disconnect", { id: found.id });
    await central.next("disconnect", 3000);
    await dev.next("disconnect", 3000);
  }
  await Promise.all([central.kill(), dev.kill()]);
}

// TODO(daemon): count the daemon's discovery registry entries beside noble's discover events (goal ≥ 0.9×).
async function advertisingRate(t: TestAir, out: Figure[], quick: boolean): Promise<void> {
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
  await new Promise((r) => setTimeout(r, quick ? 1000 : SCAN_WINDOW_MS));
  const seconds = (performance.now() - t0) / 1000;
  const delivered = adverts() - before;
  const seen = (central as Child<CentralEvent>).events
    .slice(mark)
    .filter((e) => e.type === "discover").length;
  await central.call("stopScan");
  const note = `${ADVERTISERS} bleno advertisers at 20 ms, active scan, duplicates on, ${round(seconds, 1)} s`;
  out.push(
    {
      section: SECTION,
      name: "adv reports/s to one scanner (air)",
      value: round(delivered / seconds, 1),
      unit: "/s",
      note,
    },
    {
      section: SECTION,
      name: "adv reports/s seen by noble (discover events)",
      value: round(seen / seconds, 1),
      unit: "/s",
      note,
    },
    // The daemon's discovery registry lands later: its rate is measured against this one (goal ≥ 0.9×).
    {
      section: SECTION,
      name: "noble discover events / air reports",
      value: round(seen / Math.max(1, delivered), 2),
      unit: "×",
      note,
    },
  );
}

export async function benchRadio(o: { quick?: boolean } = {}): Promise<Figure[]> {
  const out: Figure[] = [];
  const t = await startAir();
  try {
    await readRoundTrips(t, out, o.quick ?? false);
    await advertisingRate(t, out, o.quick ?? false);
    out.push(airViolations(SECTION, t.air.violations));
  } finally {
    await killAll();
    await t.close();
  }
  return out;
}

// `node dist/bench/radio.js` runs it alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { table } = await import("./report.js");
  process.stdout.write(table(await benchRadio()));
}
