/**
 * What the device's small screen shows, and how it is drawn. The screen is a value (`Screen`) the
 * device sets whenever its state changes; rendering is a pure function of that value and the monotonic
 * clock, so the countdown and "locked for 4:59" are always computed from the device's own clock.
 * People get a TTY redraw (picocolors); `--json-events` gets `display` events instead (see events.ts).
 */
import pc from "picocolors";
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

/**
 * Draws the screen on a terminal, redrawing in place every second while a countdown runs, with the
 * footer (key legend, confirmation prompt) under it. On a non-TTY stream it prints each new screen
 * once and each new footer line once (no escape codes).
 */
export class TtyDisplay {
  private screen: Screen | undefined;
  private footer: Footer = {};
  private drawnLines = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly clock: () => number,
  ) {}

  show(screen: Screen): void {
    this.screen = screen;
    this.draw();
    const ticking = screen.kind === "pairing" || screen.kind === "locked";
    if (ticking && !this.timer && this.out.isTTY) {
      this.timer = setInterval(() => this.draw(), 1000);
    } else if (!ticking && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
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

  /** Stops the countdown and takes the footer (key legend) away: the keys no longer do anything. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.setFooter({});
  }

  private clear(): void {
    if (this.drawnLines > 0) this.out.write(`\x1b[${this.drawnLines}F\x1b[J`);
    this.drawnLines = 0;
  }

  private draw(): void {
    const tty = this.out.isTTY === true;
    const color = tty && pc.isColorSupported;
    const lines = this.screen ? renderScreen(this.screen, this.clock(), { color }) : [];
    if (tty) {
      this.clear();
      const drawn = [
        ...lines.map((l) => `  │ ${l}`),
        ...renderFooter(this.footer, { color }).map((l) => `  ${l}`),
      ];
      if (drawn.length > 0) this.out.write(`${drawn.join("\n")}\n`);
      this.drawnLines = drawn.length;
    } else if (this.screen) {
      this.out.write(`${lines.join(" | ")}\n`);
    }
  }
}
