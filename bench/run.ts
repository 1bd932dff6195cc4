/**
 * `npm run bench [-- SECTION... ] [--quick] [--runs N] [--json]`: figures, never assertions.
 *
 * Every section returns Figure[] (bench/report.ts); the run prints one table, writes
 * bench/results/latest.json (+ a timestamped copy) and bench/results/latest.svg. Comparisons are made
 * inside the same run and reported as ratios, each beside its goal from issue 10.
 *
 * Sections (name prefixes select, as arguments or `--only a,b`): crypto, attacker, radio, journeys,
 * store, concurrency, cli, soak, dos. --quick: fewer repetitions (a smoke run, not figures to quote).
 * --runs N: repetitions for the per-role CPU medians. --soak-cycles N (or OPENCLAW_SOAK=long: 500).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { benchAttacker } from "./attacker.js";
import { benchCrypto } from "./crypto.js";
import { benchCliJourneys, benchConcurrency, benchSoak } from "./daemon.js";
import { benchDos } from "./dos.js";
import { benchJourneys } from "./journeys.js";
import { PENDING } from "./pending.js";
import { benchRadio } from "./radio.js";
import { type Figure, runInfo, status, svgChart, table } from "./report.js";
import { benchStore } from "./store.js";

interface Options {
  quick: boolean;
  runs: number | undefined;
  /** Soak cycles: --soak-cycles N, or OPENCLAW_SOAK=long for the issue's 500. */
  soakCycles: number | undefined;
}

type Entry = { name: string; run: (o: Options) => Promise<Figure[]> };

const entries: Entry[] = [
  {
    name: "crypto",
    run: (o) => benchCrypto({ runs: o.runs ?? (o.quick ? 5 : 30), coldProcesses: o.quick ? 2 : 5 }),
  },
  { name: "attacker", run: (o) => benchAttacker({ quick: o.quick }) },
  { name: "radio", run: (o) => benchRadio({ quick: o.quick }) },
  { name: "journeys", run: (o) => benchJourneys({ quick: o.quick }) },
  { name: "store", run: (o) => benchStore(o.quick ? [100, 1000] : undefined) },
  { name: "concurrency", run: (o) => benchConcurrency({ quick: o.quick }) },
  { name: "cli", run: (o) => benchCliJourneys({ quick: o.quick }) },
  { name: "dos", run: (o) => benchDos({ quick: o.quick }) },
  {
    name: "soak",
    run: (o) =>
      benchSoak({
        cycles: o.soakCycles ?? (process.env["OPENCLAW_SOAK"] === "long" ? 500 : o.quick ? 5 : 20),
      }),
  },
];

/** bench/results in the source tree, also when running from dist/bench. */
function resultsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = here.includes(`${join("dist", "bench")}`) ? join(here, "..", "..") : join(here, "..");
  return join(root, "bench", "results");
}

function parseArgs(argv: string[]): { only: string[]; json: boolean; o: Options } {
  const only: string[] = [];
  let runs: number | undefined;
  let soakCycles: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--runs") runs = Number(argv[++i]);
    else if (a === "--soak-cycles") soakCycles = Number(argv[++i]);
    else if (a === "--only") only.push(...(argv[++i] ?? "").split(",").filter(Boolean));
    else if (!a.startsWith("--")) only.push(a);
  }
  return {
    only,
    json: argv.includes("--json"),
    o: { quick: argv.includes("--quick"), runs, soakCycles },
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const { only, json, o } = parseArgs(args);
  const started = new Date();
  const load = loadavg()[0] ?? 0;
  const unknown = only.filter((x) => !entries.some((e) => e.name.startsWith(x)));
  if (unknown.length > 0) {
    process.stderr.write(
      `bench: no section ${unknown.join(", ")} (sections: ${entries.map((e) => e.name).join(", ")})\n`,
    );
    process.exit(2);
  }
  const figures: Figure[] = [];
  for (const e of entries) {
    if (only.length > 0 && !only.some((x) => e.name.startsWith(x))) continue;
    process.stderr.write(`bench: ${e.name}...\n`);
    figures.push(...(await e.run(o)));
  }
  const info = runInfo(started, load, args);
  const dir = resultsDir();
  mkdirSync(dir, { recursive: true });
  const doc = {
    info,
    figures: figures.map((f) => ({ ...f, status: status(f) || undefined })),
    pending: PENDING,
  };
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  writeFileSync(join(dir, "latest.json"), text);
  writeFileSync(join(dir, `${started.toISOString().replace(/[:.]/g, "-")}.json`), text);
  writeFileSync(join(dir, "latest.svg"), svgChart(figures, info));
  if (json) process.stdout.write(text);
  else {
    process.stdout.write(table(figures));
    process.stdout.write(
      `\nnot measured yet (lands with the daemon, see bench/README.md):\n${PENDING.map((p) => `  - ${p.what} (goal ${p.goal})`).join("\n")}\n`,
    );
    const missed = figures.filter((f) => status(f) === "MISSED").length;
    const goals = figures.filter((f) => f.goal).length;
    process.stdout.write(
      `\n${goals - missed}/${goals} goals met; ${info.seconds} s, load ${info.loadavg.map((l) => l.toFixed(1)).join(" → ")} on ${info.cpus} cpus (figures on a loaded machine are indicative)\n` +
        `results: ${join(dir, "latest.json")}, ${join(dir, "latest.svg")}\n`,
    );
  }
}

await main();
