/**
 * The virtual radio with the real stacks: the air runs in this process, noble and bleno fixtures run as
 * children on it (test/fixtures/*, compiled to dist/).
 *
 * - ATT read round-trip time (noble read → bleno → back, timed inside the noble process) at connection
 *   intervals 7.5, 30 and 50 ms, as a ratio to the interval: a request waits for the next connection
 *   event and the response for the one after, so ~1-2 intervals is what a real link does.
 * - Advertising reports per second the air delivers to one active scanner, with five bleno advertisers at
 *   the fastest legal interval (20 ms): from the air's counters and as noble `discover` events.
 * - Scan ingest: five `openclaw sim` devices advertising at 20 ms, heard by the daemon's scan path
 *   (rig/programs/scan-path.ts: noble Central → RadioPort → discovery registry, as DaemonCore wires
 *   them): reports the registry took beside noble's raw `discover` events of the same devices, in the
 *   same process and window (goal ≥ 0.9×), and that process's CPU per 1000 reports.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Crowd } from "../rig/crowd.js";
import { type Child, type ChildEvent, killAll, ROOT, spawnProgram } from "../rig/proc.js";
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
/** The crowd figure: advertisers at once, and addresses in all (≈ 20 s at 8 × a new one per 60 ms). */
const CROWD_MEMBERS = 8;
const CROWD_ADDRESSES = 2500;

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
    {
      section: SECTION,
      name: "noble discover events / air reports",
      value: round(seen / Math.max(1, delivered), 2),
      unit: "×",
      note,
    },
  );
}

const INGEST_SECTION = "scan ingest (daemon discovery registry, real noble)";

async function scanIngest(t: TestAir, out: Figure[], quick: boolean): Promise<void> {
  const dirs: string[] = [];
  type Ev = ChildEvent & { [k: string]: unknown };
  const sims = await Promise.all(
    Array.from({ length: ADVERTISERS }, async (_, i) => {
      const dir = mkdtempSync(join(tmpdir(), "ocp-bench-ingest-"));
      dirs.push(dir);
      const label = `bench-ingest-dev${i + 1}`;
      const child = spawnProgram<Ev>(`${ROOT}bin/openclaw.js`, {
        name: label,
        args: ["sim", "--json-events", "--hci", t.spec(label), "--state-dir", join(dir, "state")],
        env: { BLENO_ADVERTISING_INTERVAL: "20" },
      });
      const ready = await child.next("ready", 30_000);
      await child.next("advertising", 30_000);
      return { child, address: String(ready["address"]) };
    }),
  );
  try {
    const ingest = spawnProgram<Ev>("rig/programs/scan-path.js", {
      name: "bench-ingest",
      hci: t.spec("bench-ingest"),
    });
    await ingest.next("ready", 10_000);
    const addresses = sims.map((s) => s.address);
    await ingest.call("measure", { ms: 500, addresses }, 10_000); // every device heard once
    const windowMs = quick ? 1000 : SCAN_WINDOW_MS;
    const m = await ingest.call<{
      raw: number;
      reports: number;
      devices: number;
      cpuMs: number;
      registryMs: number;
      seconds: number;
    }>("measure", { ms: windowMs, addresses }, windowMs + 10_000);
    const note = `${ADVERTISERS} openclaw sim at 20 ms, active scan, duplicates on, ${round(m.seconds, 1)} s; ${m.devices} devices listed`;
    const f = (name: string, value: number, unit: string, extra?: Partial<Figure>): Figure => ({
      section: INGEST_SECTION,
      name,
      value,
      unit,
      note,
      ...extra,
    });
    out.push(
      f("noble raw discover events/s (the sims)", round(m.raw / m.seconds, 1), "/s"),
      f("reports/s into the discovery registry", round(m.reports / m.seconds, 1), "/s"),
      f("registry reports / noble raw discover events", round(m.reports / Math.max(1, m.raw), 3), "×", {
        goal: { op: ">=", value: 0.9 },
        note: `${m.reports} vs ${m.raw}, same process, same window; ${note}`,
      }),
      f(
        "CPU per 1000 reports (the scanning process)",
        round((m.cpuMs / Math.max(1, m.reports)) * 1000, 1),
        "ms",
        {
          note: `${round(m.cpuMs, 0)} ms CPU (process.cpuUsage) for ${m.reports} reports: HCI, noble, Central and registry; ${note}`,
        },
      ),
      f("registry CPU per 1000 reports", round((m.registryMs / Math.max(1, m.reports)) * 1000, 2), "ms", {
        note: `time inside DiscoveryRegistry.report (single-threaded, so CPU); ${note}`,
      }),
    );
    await ingest.kill();
  } finally {
    await Promise.all(sims.map((s) => s.child.kill()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

const CROWD_SECTION = "scan memory (a crowd of rotating addresses, real noble)";

/**
 * What the daemon's scan keeps per foreign address: the scanning process of the ingest figure (noble
 * Central → RadioPort → discovery registry) in a crowd of non-OpenClaw advertisers that take a new
 * address every 60 ms each (rig/crowd.ts). A phone changes its address every ~15 min, so a laptop in an
 * office hears thousands a day, and a daemon runs for weeks. Central forgets an advertiser not heard for
 * its TTL (2 min in the daemon; 5 s here, so a run sees the steady state): the live heap after GC once
 * a warm-up crowd has come and gone, then after a second, larger crowd has come and gone.
 */
async function scanMemory(t: TestAir, out: Figure[], quick: boolean): Promise<void> {
  type Ev = ChildEvent & { [k: string]: unknown };
  type Mem = { heapUsed: number; noblePeripherals: number | null; centralPeripherals: number };
  const ttlMs = 5000;
  const ingest = spawnProgram<Ev>("rig/programs/scan-path.js", {
    name: "bench-crowd",
    hci: t.spec("bench-crowd"),
    args: ["--peripheral-ttl-ms", String(ttlMs)],
  });
  await ingest.next("ready", 10_000);
  const memory = () => ingest.call<Mem>("memory", {}, 30_000);
  const crowdOf = async (n: number): Promise<{ used: number; during: Mem; after: Mem }> => {
    const crowd = await Crowd.start(t.path, { members: CROWD_MEMBERS });
    let during: Mem;
    try {
      await crowd.until(n);
      during = await memory();
    } finally {
      await crowd.stop();
    }
    // The sweep runs every TTL: after two, every address of this crowd is past its TTL and swept.
    await new Promise((r) => setTimeout(r, 2 * ttlMs + 500));
    return { used: crowd.addresses.length, during, after: await memory() };
  };
  try {
    const total = quick ? 600 : CROWD_ADDRESSES;
    // The first crowd warms noble's and our code paths up (compiled code is heap too).
    const warm = await crowdOf(Math.floor(total / 5));
    const main = await crowdOf(total);
    const mb = (b: number) => round(b / 2 ** 20, 2);
    const retained = main.after.heapUsed - warm.after.heapUsed;
    const note = `${CROWD_MEMBERS} advertisers, a new address every 60 ms each, TTL ${ttlMs / 1000} s: ${main.used} addresses after ${warm.used} of warm-up; live heap after GC ${mb(warm.after.heapUsed)} MB after the warm-up crowd left, ${mb(main.during.heapUsed)} MB with the crowd (${main.during.centralPeripherals} advertisers held, noble ${main.during.noblePeripherals}), ${mb(main.after.heapUsed)} MB after it left (${main.after.centralPeripherals} held, noble ${main.after.noblePeripherals})`;
    out.push(
      {
        section: CROWD_SECTION,
        name: "live heap kept per foreign address once its advertiser left",
        value: round(retained / Math.max(1, main.used), 0),
        unit: "B",
        goal: { op: "<=", value: 50 },
        note: `${round(retained / 1024, 1)} kB over ${main.used} addresses; ${note}; before forgetting: ≈ 1250 B each, kept for good`,
      },
      {
        section: CROWD_SECTION,
        name: "advertisers noble still holds after the crowd left",
        value: main.after.noblePeripherals ?? Number.NaN,
        unit: "",
        goal: { op: "<=", value: 8 },
        note: `of ${warm.used + main.used} heard; ${note}`,
      },
      {
        section: CROWD_SECTION,
        name: "advertisers held with the crowd in range / heard",
        value: round(main.during.centralPeripherals / Math.max(1, warm.used + main.used), 3),
        unit: "×",
        note: `bounded by those heard within the TTL (a sweep every TTL: at most those heard in the last two); ${note}`,
      },
    );
  } finally {
    await ingest.kill();
  }
}

export async function benchRadio(o: { quick?: boolean } = {}): Promise<Figure[]> {
  const out: Figure[] = [];
  const t = await startAir();
  try {
    await readRoundTrips(t, out, o.quick ?? false);
    await advertisingRate(t, out, o.quick ?? false);
    out.push(airViolations(SECTION, t.air.violations));
    await killAll();
    await scanIngest(t, out, o.quick ?? false);
    await killAll();
    await scanMemory(t, out, o.quick ?? false);
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
