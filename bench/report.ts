/**
 * What every bench section returns and how `npm run bench` shows it: a flat list of figures, each with
 * its unit and, where issue 10 sets one, its goal. Comparisons are figures too (unit "×", the ratio of
 * two things measured in the same run), so the table, the JSON and the chart need no special cases.
 *
 * The SVG is written by hand (no browser, no dependency): one bar per figure that has a goal, on a log
 * scale of "how far from the goal" (1 = exactly at the goal, left of it = met), so figures of any unit
 * line up in one picture.
 */
import { execFileSync } from "node:child_process";
import { cpus, loadavg } from "node:os";

export type GoalOp = "<=" | ">=";

export interface Goal {
  op: GoalOp;
  value: number;
}

export interface Figure {
  /** The bench section ("handshake CPU", "air journeys", ...). */
  section: string;
  name: string;
  value: number;
  /** "ms", "×", "intervals", "/day", "guesses/day", ... */
  unit: string;
  goal?: Goal;
  /** How the figure was made (samples, what the ratio divides), shown beside it. */
  note?: string;
}

/** Protocol violations the air counted during a section (strict ATT): the goal is none. */
export function airViolations(section: string, count: number): Figure {
  return { section, name: "air violations", value: count, unit: "", goal: { op: "<=", value: 0 } };
}

export type Status = "met" | "MISSED" | "";

export function status(f: Figure): Status {
  if (!f.goal || !Number.isFinite(f.value)) return "";
  const ok = f.goal.op === "<=" ? f.value <= f.goal.value : f.value >= f.goal.value;
  return ok ? "met" : "MISSED";
}

/** The figure's distance from its goal as one number: ≤ 1 is met, whatever the direction. */
export function goalRatio(f: Figure): number | undefined {
  if (!f.goal || !Number.isFinite(f.value) || f.goal.value === 0) return undefined;
  if (f.goal.op === "<=") return f.value / f.goal.value;
  return f.value === 0 ? Number.POSITIVE_INFINITY : f.goal.value / f.value;
}

export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 0.01 || a >= 1e6)) return v.toExponential(2);
  if (Number.isInteger(v)) return String(v);
  if (a < 1) return String(Number(v.toPrecision(3)));
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
}

const goalText = (g: Goal | undefined) => (g ? `${g.op} ${formatValue(g.value)}` : "");

/** The stdout table: one block per section, columns aligned. */
export function table(figures: readonly Figure[]): string {
  const rows = figures.map((f) => ({
    section: f.section,
    name: f.name,
    value: `${formatValue(f.value)} ${f.unit}`.trim(),
    goal: goalText(f.goal),
    status: status(f),
    note: f.note ?? "",
  }));
  const w = (k: "name" | "value" | "goal" | "status") => Math.max(k.length, ...rows.map((r) => r[k].length));
  const [wn, wv, wg, ws] = [w("name"), w("value"), w("goal"), w("status")];
  const out: string[] = [];
  let section = "";
  for (const r of rows) {
    if (r.section !== section) {
      section = r.section;
      out.push(
        "",
        `== ${section}`,
        `  ${"figure".padEnd(wn)}  ${"value".padStart(wv)}  ${"goal".padEnd(wg)}  ${"".padEnd(ws)}  note`,
      );
    }
    out.push(
      `  ${r.name.padEnd(wn)}  ${r.value.padStart(wv)}  ${r.goal.padEnd(wg)}  ${r.status.padEnd(ws)}  ${r.note}`.trimEnd(),
    );
  }
  return `${out.join("\n")}\n`;
}

export interface RunInfo {
  startedAt: string;
  seconds: number;
  node: string;
  cpus: number;
  cpuModel: string;
  /** 1-minute load average when the run started and ended: the machine may be shared. */
  loadavg: [number, number];
  commit: string;
  args: string[];
}

export function runInfo(startedAt: Date, startLoad: number, args: string[]): RunInfo {
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
  } catch {
    // not a git checkout: the figures still stand
  }
  return {
    startedAt: startedAt.toISOString(),
    seconds: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    loadavg: [startLoad, loadavg()[0] ?? 0],
    commit,
    args,
  };
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * Bars of goalRatio on a log10 axis from 1/100 to 100, a line at 1 (the goal). Figures without a goal
 * are left out of the chart (they are in the table and the JSON).
 */
export function svgChart(figures: readonly Figure[], info: RunInfo): string {
  const rows = figures
    .map((f) => ({ f, r: goalRatio(f) }))
    .filter((x): x is { f: Figure; r: number } => x.r !== undefined);
  const labelW = 470;
  const plotW = 420;
  const rowH = 18;
  const top = 46;
  const height = top + rows.length * rowH + 40;
  const width = labelW + plotW + 150;
  const lo = -2;
  const hi = 2;
  const x = (ratio: number) => {
    const l = Math.log10(Math.min(10 ** hi, Math.max(10 ** lo, ratio)));
    return labelW + ((l - lo) / (hi - lo)) * plotW;
  };
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="8" y="16" font-size="13">openclaw-pair bench ${esc(info.startedAt)} (${esc(info.commit)}, node ${esc(info.node)}, ${info.cpus} cpu, load ${info.loadavg[0].toFixed(1)})</text>`,
    `<text x="8" y="32" fill="#555">bar = figure / goal (log scale); left of the line = goal met</text>`,
  ];
  for (const t of [-2, -1, 0, 1, 2]) {
    const tx = x(10 ** t);
    parts.push(
      `<line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${height - 30}" stroke="${t === 0 ? "#000" : "#ddd"}" stroke-width="${t === 0 ? 1.5 : 1}"/>`,
      `<text x="${tx}" y="${height - 16}" text-anchor="middle" fill="#555">${t === 0 ? "goal" : `${10 ** t}×`}</text>`,
    );
  }
  rows.forEach(({ f, r }, i) => {
    const y = top + i * rowH;
    const x0 = x(1);
    const x1 = x(r);
    const met = r <= 1;
    const label = `${f.section}: ${f.name}`;
    parts.push(
      `<text x="${labelW - 6}" y="${y + 12}" text-anchor="end">${esc(label.length > 74 ? `${label.slice(0, 73)}…` : label)}</text>`,
      `<rect x="${Math.min(x0, x1)}" y="${y + 3}" width="${Math.max(1, Math.abs(x1 - x0))}" height="${rowH - 6}" fill="${met ? "#3a3" : "#d33"}"/>`,
      `<text x="${labelW + plotW + 6}" y="${y + 12}">${esc(`${formatValue(f.value)} ${f.unit} (${goalText(f.goal)})`)}</text>`,
    );
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
