/**
 * What the device's small screen shows, and how it is drawn. The screen is a value (`Screen`) the
 * device sets whenever its state changes; rendering is a pure function of that value and the monotonic
 * clock, so the countdown and "locked for 4:59" are always computed from the device's own clock.
 * People get a TTY redraw (picocolors); `--json-events` gets `display` events instead (see events.ts).
 */
import pc from "picocolors";
import type { Clock, TimerHandle } from "../../src/clock/index.js";
import type { CodeFormatName, Role } from "./events.js";

export type Screen =
  | { kind: "idle"; name: string; bonds: number; slots: number }
  | {
      kind: "pairing";
      name: string;
      /** The code as shown ("123 456"). */
      code: string;
      format: CodeFormatName;
      expiresAt: number;
      attemptsLeft: number;
      maxAttempts: number;
    }
  | { kind: "locked"; name: string; until: number }
  | { kind: "bonded"; name: string; peerName: string; role: Role; bonds: number; slots: number }
  | { kind: "message"; name: string; text: string };

/** "1:47" for 107 s. Rounds up so the screen never shows 0:00 while the code still works. */
export function countdownText(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export interface RenderOptions {
  color: boolean;
}

/** The screen's lines, for people. Pure: same screen and time, same lines. */
export function renderScreen(screen: Screen, now: number, opts: RenderOptions = { color: false }): string[] {
  const c = opts.color ? pc : pc.createColors(false);
  const title = c.bold(screen.name);
  switch (screen.kind) {
    case "idle":
      return [
        title,
        screen.bonds === 0
          ? "not paired — press the button to pair"
          : `ready · ${screen.bonds}/${screen.slots} pairing${screen.slots === 1 ? "" : "s"}`,
      ];
    case "pairing": {
      const left = screen.expiresAt - now;
      const attempts =
        screen.attemptsLeft < screen.maxAttempts
          ? c.yellow(`${screen.attemptsLeft} attempt${screen.attemptsLeft === 1 ? "" : "s"} left`)
          : `${screen.attemptsLeft} attempts`;
      return [title, `pair with code ${c.bold(c.cyan(screen.code))} — ${countdownText(left)} left`, attempts];
    }
    case "locked":
      return [
        title,
        c.red(`locked: too many wrong codes — try again in ${countdownText(screen.until - now)}`),
      ];
    case "bonded":
      return [
        title,
        c.green(`paired with ${screen.peerName} (${screen.role})`),
        `${screen.bonds}/${screen.slots} pairings`,
      ];
    case "message":
      return [title, screen.text];
  }
}

/** Lines under the screen: a question waiting for a key (highlighted), then the key legend (dimmed). */
export interface Footer {
  prompt?: string | undefined;
  legend?: string | undefined;
}

export function renderFooter(footer: Footer, opts: RenderOptions = { color: false }): string[] {
  const c = opts.color ? pc : pc.createColors(false);
  const lines: string[] = [];
  if (footer.prompt) lines.push(c.bold(c.yellow(footer.prompt)));
  if (footer.legend) lines.push(c.dim(footer.legend));
  return lines;
}

/** What the display writes to: a terminal (columns, `resize` on SIGWINCH) or any stream. */
export interface DisplayOut {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
  on?(event: "resize", listener: () => void): unknown;
  off?(event: "resize", listener: () => void): unknown;
}

const ESC = "\x1b";
// An SGR colour sequence (the only escapes renderScreen and renderFooter produce).
const SGR = new RegExp(`^${ESC}\\[[0-9;]*m`);

/** Characters a person sees (escape sequences take no room). */
export function visibleLength(line: string): number {
  let n = 0;
  for (let i = 0; i < line.length; ) {
    const m = SGR.exec(line.slice(i));
    if (m) i += m[0].length;
    else {
      n++;
      i += 1;
    }
  }
  return n;
}

/**
 * Cuts a line to `width` visible characters (ending in "…" when cut, colours reset), so that no drawn
 * line wraps: a wrapped line takes rows the redraw does not know about, and the screen piles up.
 */
export function fitWidth(line: string, width: number): string {
  if (width < 1 || visibleLength(line) <= width) return line;
  let out = "";
  let n = 0;
  for (let i = 0; i < line.length; ) {
    const m = SGR.exec(line.slice(i));
    if (m) {
      out += m[0];
      i += m[0].length;
      continue;
    }
    if (n === width - 1) break;
    out += line[i];
    n++;
    i += 1;
  }
  return `${out}…${line.includes(ESC) ? `${ESC}[0m` : ""}`;
}

/**
 * Draws the screen on a terminal, redrawing in place while a countdown runs, with the footer (key
 * legend, confirmation prompt) under it. Every drawn line is cut to the terminal's width, and a resize
 * (SIGWINCH) redraws at once, clearing the rows the old drawing takes at the new width. On a non-TTY
 * stream it prints each new screen once and each new footer line once (no escape codes).
 *
 * `clock` is the device's (the countdown is its time); the redraw timer is named `sim.screen-tick`.
 */
export class TtyDisplay {
  private screen: Screen | undefined;
  private footer: Footer = {};
  /** The visible lengths of the lines drawn last (to know how many rows to clear). */
  private drawn: number[] = [];
  private timer: TimerHandle | undefined;
  private readonly onResize = () => this.draw();

  constructor(
    private readonly out: DisplayOut,
    private readonly clock: Clock,
    /** Redraw period on `clock` while a countdown runs (device ms: 1 s × the time scale). */
    private readonly redrawEveryMs = 1000,
  ) {
    if (out.isTTY) out.on?.("resize", this.onResize);
  }

  show(screen: Screen): void {
    this.screen = screen;
    this.draw();
    const ticking = screen.kind === "pairing" || screen.kind === "locked";
    if (ticking && !this.timer && this.out.isTTY) this.tick();
    else if (!ticking) this.stopTicking();
  }

  /** Sets the lines under the screen; redraws only if they changed. */
  setFooter(footer: Footer): void {
    if (footer.prompt === this.footer.prompt && footer.legend === this.footer.legend) return;
    const before = this.footer;
    this.footer = { ...footer };
    if (this.out.isTTY) this.draw();
    else {
      if (footer.prompt && footer.prompt !== before.prompt) this.out.write(`${footer.prompt}\n`);
      if (footer.legend && footer.legend !== before.legend) this.out.write(`${footer.legend}\n`);
    }
  }

  /** A line under the screen (connections, errors), like a serial console next to the device. */
  log(line: string): void {
    if (this.out.isTTY) this.clear();
    this.out.write(`${line}\n`);
    if (this.out.isTTY) this.draw();
  }

  /** Stops the countdown, stops following resizes and takes the footer (key legend) away. */
  close(): void {
    this.stopTicking();
    this.setFooter({});
    this.out.off?.("resize", this.onResize);
  }

  private tick(): void {
    this.timer = this.clock.setTimeout("sim.screen-tick", this.redrawEveryMs, () => {
      this.timer = undefined;
      this.draw();
      const s = this.screen;
      if (s && (s.kind === "pairing" || s.kind === "locked")) this.tick();
    });
  }

  private stopTicking(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private get width(): number {
    return Math.max(1, (this.out.columns ?? 80) - 1);
  }

  /** Moves up over the last drawing and erases it; rows are counted at the current width (a resize reflows). */
  private clear(): void {
    const cols = this.out.columns ?? 80;
    const rows = this.drawn.reduce((n, len) => n + Math.max(1, Math.ceil(len / cols)), 0);
    if (rows > 0) this.out.write(`${ESC}[${rows}F${ESC}[J`);
    this.drawn = [];
  }

  private draw(): void {
    const tty = this.out.isTTY === true;
    const color = tty && pc.isColorSupported;
    const lines = this.screen ? renderScreen(this.screen, this.clock.now(), { color }) : [];
    if (tty) {
      this.clear();
      const drawn = [
        ...lines.map((l) => `  │ ${l}`),
        ...renderFooter(this.footer, { color }).map((l) => `  ${l}`),
      ].map((l) => fitWidth(l, this.width));
      if (drawn.length > 0) this.out.write(`${drawn.join("\n")}\n`);
      this.drawn = drawn.map(visibleLength);
    } else if (this.screen) {
      this.out.write(`${lines.join(" | ")}\n`);
    }
  }
}
