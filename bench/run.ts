/**
 * `npm run bench`: figures, never assertions. Each entry measures one thing and returns a flat record
 * that is printed as a table (and as JSON with --json for tracking over time).
 */
import { benchAttacker } from "./attacker.js";
import { benchCrypto } from "./crypto.js";
import { benchRadio } from "./radio.js";
import { benchStore } from "./store.js";

type Entry = { name: string; run: () => Promise<Record<string, unknown>> };

const entries: Entry[] = [
  { name: "crypto (handshake CPU time per role)", run: benchCrypto },
  { name: "attacker (online guessing at the default limits)", run: benchAttacker },
  { name: "radio (virtual air, real noble and bleno)", run: benchRadio },
  { name: "store (loading the laptop's bond files)", run: () => benchStore() },
];

function print(name: string, figures: Record<string, unknown>): void {
  process.stdout.write(`\n== ${name}\n`);
  const width = Math.max(...Object.keys(figures).map((k) => k.length));
  for (const [k, v] of Object.entries(figures)) process.stdout.write(`  ${k.padEnd(width)}  ${String(v)}\n`);
}

async function main(): Promise<void> {
  const only = process.argv.slice(2).filter((a) => !a.startsWith("--"));
  const json = process.argv.includes("--json");
  const results: Record<string, Record<string, unknown>> = {};
  for (const e of entries) {
    if (only.length > 0 && !only.some((o) => e.name.startsWith(o))) continue;
    const figures = await e.run();
    results[e.name] = figures;
    if (!json) print(e.name, figures);
  }
  if (json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

await main();
