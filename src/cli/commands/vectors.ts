import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import pc from "picocolors";
import {
  checkVectorFile,
  tally,
  totalsLine,
  type VectorResult,
  type VectorTotals,
} from "../../vectors/index.js";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "../report.js";

/**
 * `openclaw vectors check FILE...`: one line per file, failing vectors and what differed underneath,
 * and last exactly `N passed, N failed, N skipped`. Exit 0 when all ran vectors pass, 1 when any vector
 * failed, 2 when a file could not be read or is not a vector file (the other files are still checked).
 */

type FileOutcome = { file: string; results: VectorResult[] } | { file: string; error: string };

const SHOWN_SKIP_NAMES = 3;

/**
 * A directory argument means the .json files directly inside it, in name order; one without any is an
 * error (checking nothing must not look like a pass).
 */
async function expand(paths: string[]): Promise<(string | FileOutcome)[]> {
  const out: (string | FileOutcome)[] = [];
  for (const p of paths) {
    const st = await stat(p).catch(() => null);
    if (st?.isDirectory()) {
      const names = (await readdir(p)).filter((n) => n.endsWith(".json")).sort();
      if (names.length === 0) out.push({ file: p, error: "a directory with no .json vector files" });
      out.push(...names.map((n) => join(p, n)));
    } else {
      out.push(p);
    }
  }
  return out;
}

async function checkFile(file: string): Promise<FileOutcome> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "is a directory"
          : `cannot read (${code ?? "error"})`;
    return { file, error: why };
  }
  let json: unknown;
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (err) {
    return { file, error: `not valid JSON (${err instanceof Error ? err.message : String(err)})` };
  }
  try {
    return { file, results: checkVectorFile(json) };
  } catch (err) {
    return { file, error: err instanceof Error ? err.message : String(err) };
  }
}

/** `name: detail` on one line, or the name and then one indented line per problem. */
function vectorLines(label: string, name: string, detail: string | undefined): string[] {
  if (!detail) return [`  ${label} ${name}`];
  const lines = detail.split("\n");
  if (lines.length === 1) return [`  ${label} ${name}: ${detail}`];
  return [`  ${label} ${name}:`, ...lines.map((l) => `    ${l}`)];
}

const UNIMPLEMENTED = /^(?:protocol|suite) (.+) not implemented$/;

/**
 * Skips summarised in a line or two: a full cacophony file has ~900 vectors of protocols we do not
 * implement, so those are named by suite (a few, then a count); other reasons are counted each.
 */
function skipSummary(results: readonly VectorResult[]): string[] {
  const suites: string[] = [];
  const reasons = new Map<string, number>();
  for (const r of results) {
    if (r.status !== "skipped") continue;
    const m = UNIMPLEMENTED.exec(r.detail ?? "");
    if (m?.[1]) suites.push(m[1]);
    else reasons.set(r.detail ?? "skipped", (reasons.get(r.detail ?? "skipped") ?? 0) + 1);
  }
  const lines: string[] = [];
  if (suites.length > 0) {
    const unique = [...new Set(suites)];
    const shown = unique.slice(0, SHOWN_SKIP_NAMES).join(", ");
    const more = unique.length > SHOWN_SKIP_NAMES ? ` and ${unique.length - SHOWN_SKIP_NAMES} more` : "";
    lines.push(`skipped ${suites.length}, not implemented: ${shown}${more}`);
  }
  for (const [reason, n] of reasons) lines.push(`skipped ${n}: ${reason}`);
  return lines;
}

function printHuman(outcomes: FileOutcome[], verbose: boolean, out: (line: string) => void): void {
  for (const o of outcomes) {
    if ("error" in o) {
      out(`${pc.red("ERROR")} ${o.file}: ${o.error}`);
      continue;
    }
    const t = tally(o.results);
    // SKIP: nothing in the file is a suite we implement (not a failure, but nothing was proven either).
    const verdict =
      t.failed > 0 ? pc.red("FAIL") : t.passed === 0 && t.skipped > 0 ? pc.yellow("SKIP") : pc.green("PASS");
    out(`${verdict} ${o.file}: ${totalsLine(t)}`);
    for (const r of o.results) {
      const label =
        r.status === "failed"
          ? pc.red("failed")
          : r.status === "passed"
            ? pc.green("passed")
            : pc.dim("skipped");
      if (r.status === "failed" || verbose)
        for (const line of vectorLines(label, r.name, r.detail)) out(line);
    }
    if (!verbose) for (const line of skipSummary(o.results)) out(`  ${pc.dim(line)}`);
  }
}

function totalsOf(outcomes: FileOutcome[]): VectorTotals {
  const all = outcomes.flatMap((o) => ("results" in o ? o.results : []));
  return tally(all);
}

export async function runVectorsCheck(
  paths: string[],
  opts: { verbose?: boolean; json?: boolean },
  out: (line: string) => void,
): Promise<number> {
  const files = await expand(paths);
  const outcomes: FileOutcome[] = [];
  for (const f of files) outcomes.push(typeof f === "string" ? await checkFile(f) : f);
  const totals = totalsOf(outcomes);
  if (opts.json) {
    out(JSON.stringify({ files: outcomes, totals }, null, 2));
  } else {
    printHuman(outcomes, opts.verbose === true, out);
    out(totalsLine(totals));
  }
  // a file that is not a vector file is a bad argument (usage); a vector that fails is a failure
  if (outcomes.some((o) => "error" in o)) return EXIT_USAGE;
  return totals.failed > 0 ? EXIT_FAILURE : EXIT_OK;
}

export function registerVectors(program: Command): void {
  const vectors = program
    .command("vectors")
    .description("Check test vectors (SPAKE2+, Noise, and this project's codes and transcripts).");
  vectors
    .command("check")
    .description(
      "Run every vector in each FILE (or each .json file in a directory) that this implementation supports; print a line per file and the totals.",
    )
    .argument("<files...>", "vector files: SPAKE2+ JSON, cacophony Noise JSON, or hardware/vectors/*.json")
    .option("-v, --verbose", "list every vector, not only the failing ones")
    .option("--json", "print the results as JSON")
    .addHelpText(
      "after",
      "\nExit status: 0 all passed, 1 some vector failed, 2 a file could not be read or is not a vector file.",
    )
    .action(async (files: string[], opts: { verbose?: boolean; json?: boolean }) => {
      process.exitCode = await runVectorsCheck(files, opts, (line) => process.stdout.write(`${line}\n`));
    });
}
