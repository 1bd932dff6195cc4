/**
 * How the laptop-side commands talk to people and to scripts.
 *
 * `--json`: exactly one JSON document on stdout — the result, or `{"error":{code,message,remedy,details}}`
 * — and nothing else there (progress and prompts go to stderr, or nowhere). Without it: tables and
 * words on stdout, progress and errors on stderr; colour only on a terminal and never with NO_COLOR
 * (or TERM=dumb); animated progress only on a terminal.
 *
 * Exit codes (docs/cli.md): 0 success, 1 the operation failed (any catalogue error), 2 usage (a bad
 * argument), 130 cancelled (Ctrl-C or a closed prompt).
 */
import { createRequire } from "node:module";
import type TableType from "cli-table3";
import pc from "picocolors";
import type { Clock, TimerHandle } from "../clock/index.js";
import { isOpenClawError, OpenClawError } from "../protocol/errors.js";

export const EXIT = { ok: 0, failure: 1, usage: 2, cancelled: 130 } as const;

type Colors = ReturnType<typeof pc.createColors>;

/** Colour for a stream: a terminal, NO_COLOR unset, TERM not dumb (FORCE_COLOR wins). */
export function colorEnabled(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env["FORCE_COLOR"] !== undefined && env["FORCE_COLOR"] !== "0") return true;
  if (env["NO_COLOR"] !== undefined && env["NO_COLOR"] !== "") return false;
  if (env["TERM"] === "dumb") return false;
  return stream.isTTY === true;
}

/** Anything thrown, as the catalogue error a person sees (a plain Error is a bug: INTERNAL). */
export function asOpenClawError(err: unknown): OpenClawError {
  if (isOpenClawError(err)) return err;
  return new OpenClawError("INTERNAL", {
    detail: err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 300) : "unknown failure",
  });
}

export function exitCodeFor(err: OpenClawError): number {
  if (err.code === "INVALID_ARGUMENT") return EXIT.usage;
  if (err.code === "CANCELLED") return EXIT.cancelled;
  return EXIT.failure;
}

// cli-table3 (a dozen CommonJS modules) loads on the first table, not at every CLI start.
let tableClass: typeof TableType | undefined;
function table(): typeof TableType {
  tableClass ??= createRequire(import.meta.url)("cli-table3") as typeof TableType;
  return tableClass;
}

export class Output {
  readonly json: boolean;
  /** For stdout (results). */
  readonly c: Colors;
  /** For stderr (progress, errors). */
  readonly e: Colors;
  readonly interactive: boolean;

  constructor(
    o: { json?: boolean },
    readonly stdout: NodeJS.WriteStream = process.stdout,
    readonly stderr: NodeJS.WriteStream = process.stderr,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.json = o.json === true;
    this.c = pc.createColors(!this.json && colorEnabled(stdout, env));
    this.e = pc.createColors(colorEnabled(stderr, env));
    this.interactive = !this.json && stderr.isTTY === true && process.stdin.isTTY === true;
  }

  /** The one JSON document (json mode). */
  result(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** A line for people on stdout (ignored in json mode). */
  line(text = ""): void {
    if (!this.json) this.stdout.write(`${text}\n`);
  }

  /** A note for people on stderr (ignored in json mode). */
  note(text: string): void {
    if (!this.json) this.stderr.write(`${text}\n`);
  }

  warn(text: string): void {
    if (!this.json) this.stderr.write(`${this.e.yellow("warning:")} ${text}\n`);
  }

  /** Prints a failure (cause and remedy, or the JSON error document) and returns its exit code. */
  fail(err: unknown): number {
    const e = asOpenClawError(err);
    if (this.json) {
      this.stdout.write(
        `${JSON.stringify({ error: { code: e.code, message: e.message, remedy: e.remedy, details: e.details } }, null, 2)}\n`,
      );
    } else {
      this.stderr.write(`${this.e.red("error:")} ${e.message}\n  ${this.e.dim("→")} ${e.remedy}\n`);
    }
    return exitCodeFor(e);
  }

  /** A table for people: a header row, then rows; no borders (easy to read and to grep). */
  table(head: string[], rows: string[][]): string {
    const t = new (table())({
      head: head.map((h) => this.c.bold(h)),
      chars: {
        top: "",
        "top-mid": "",
        "top-left": "",
        "top-right": "",
        bottom: "",
        "bottom-mid": "",
        "bottom-left": "",
        "bottom-right": "",
        left: "",
        "left-mid": "",
        mid: "",
        "mid-mid": "",
        right: "",
        "right-mid": "",
        middle: "  ",
      },
      style: { "padding-left": 0, "padding-right": 0, head: [], border: [], compact: true },
    });
    for (const r of rows) t.push(r);
    return t.toString();
  }

  /** Progress on stderr: a spinner line on a terminal, one line per step otherwise; nothing in json mode. */
  progress(clock: Clock): Progress {
    return new Progress(this, clock);
  }
}

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

export class Progress {
  private text = "";
  private frame = 0;
  private timer: TimerHandle | undefined;
  private readonly tty: boolean;

  constructor(
    private readonly out: Output,
    private readonly clock: Clock,
  ) {
    this.tty = !out.json && out.stderr.isTTY === true;
  }

  /** Shows what is happening now ("connecting to OpenClaw-1A2B…"). */
  step(text: string): void {
    if (this.out.json || text === this.text) return;
    this.text = text;
    if (!this.tty) {
      this.out.stderr.write(`${this.out.e.dim("…")} ${text}\n`);
      return;
    }
    this.draw();
    if (!this.timer) this.tick();
  }

  private tick(): void {
    this.timer = this.clock.setTimeout("cli.progress", 100, () => {
      this.frame = (this.frame + 1) % FRAMES.length;
      this.draw();
      this.tick();
    });
  }

  private draw(): void {
    this.out.stderr.write(`\r\x1b[2K${this.out.e.cyan(FRAMES[this.frame]!)} ${this.text}`);
  }

  /** Clears the spinner line (before a result, a prompt or an error). */
  stop(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.tty && this.text !== "") this.out.stderr.write("\r\x1b[2K");
    this.text = "";
  }
}

/** "1 min 05 s", "42 s". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  const rest = s % 60;
  return rest === 0 ? `${m} min` : `${m} min ${String(rest).padStart(2, "0")} s`;
}

/** "3 min ago", "just now" (wall times, for people). */
export function formatAgo(iso: string | null, nowWall: number): string {
  if (iso === null) return "never";
  const ms = nowWall - Date.parse(iso);
  if (!Number.isFinite(ms)) return iso;
  if (ms < 60_000) return "just now";
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ago`;
  if (ms < 86_400_000) return `${Math.floor(ms / 3_600_000)} h ago`;
  return iso.slice(0, 10);
}
