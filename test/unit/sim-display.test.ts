import { describe, expect, it } from "vitest";
import {
  countdownText,
  type DisplayOut,
  fitWidth,
  renderFooter,
  renderScreen,
  TtyDisplay,
  visibleLength,
} from "../../firmware-sim/device/display.js";
import {
  KEY_LEGEND,
  type KeyOutcome,
  keyCommand,
  parseCommand,
  RESET_CONFIRM_MS,
} from "../../firmware-sim/device/events.js";
import { checkName, checkWindowTtl } from "../../firmware-sim/device/options.js";
import { parseDuration, parseFormat, parseIntIn } from "../../src/cli/args.js";
import { ManualClock } from "../../src/clock/index.js";

const PAIRING = {
  kind: "pairing",
  name: "OpenClaw-1A2B",
  code: "123 456",
  format: "passkey",
  expiresAt: 120_000,
  attemptsLeft: 5,
  maxAttempts: 5,
} as const;

describe("device display", () => {
  it("counts down from the device clock and never shows 0:00 while the code works", () => {
    expect(countdownText(107_000)).toBe("1:47");
    expect(countdownText(100)).toBe("0:01");
    expect(countdownText(-5)).toBe("0:00");
    const screen = PAIRING;
    expect(renderScreen(screen, 13_000)[1]).toBe("pair with code 123 456 — 1:47 left");
    expect(renderScreen({ ...screen, attemptsLeft: 2 }, 0)[2]).toBe("2 attempts left");
  });

  it("shows lockout time and bonded state", () => {
    expect(renderScreen({ kind: "locked", name: "D", until: 300_000 }, 0)[1]).toContain("try again in 5:00");
    expect(
      renderScreen({ kind: "bonded", name: "D", peerName: "laptop", role: "admin", bonds: 1, slots: 8 }, 0),
    ).toEqual(["D", "paired with laptop (admin)", "1/8 pairings"]);
    expect(renderScreen({ kind: "idle", name: "D", bonds: 0, slots: 8 }, 0)[1]).toContain("press the button");
  });
});

const ESC = "\x1b";

/** A terminal of `columns` that records what is written and can be resized. */
class FakeTerminal implements DisplayOut {
  readonly isTTY = true;
  text = "";
  private listeners: Array<() => void> = [];
  constructor(public columns: number) {}
  write(t: string): boolean {
    this.text += t;
    return true;
  }
  on(_e: "resize", l: () => void): void {
    this.listeners.push(l);
  }
  off(_e: "resize", l: () => void): void {
    this.listeners = this.listeners.filter((x) => x !== l);
  }
  resize(columns: number): void {
    this.columns = columns;
    for (const l of this.listeners) l();
  }
  /** The lines of the last drawing (after the last clear). */
  lastDrawing(): string[] {
    const parts = this.text.split(new RegExp(`${ESC}\\[\\d+F${ESC}\\[J`));
    return parts
      .at(-1)!
      .split("\n")
      .filter((l) => l !== "");
  }
}

describe("device display on a terminal", () => {
  const pairing = PAIRING;

  it("cuts lines to the width, colours or not", () => {
    expect(fitWidth("abcdefghij", 5)).toBe("abcd…");
    expect(fitWidth("abc", 5)).toBe("abc");
    const red = "\x1b[31mabcdefghij\x1b[39m";
    expect(visibleLength(red)).toBe(10);
    expect(visibleLength(fitWidth(red, 6))).toBe(6);
    expect(fitWidth(red, 6).endsWith("\x1b[0m")).toBe(true);
  });

  it("never draws a line wider than a narrow terminal, and redraws in place every second (a named timer)", () => {
    const term = new FakeTerminal(24);
    const clock = new ManualClock(0);
    const d = new TtyDisplay(term, clock);
    d.setFooter({ legend: "b button · r factory reset (twice) · s status · q quit" });
    d.show(pairing);
    expect(clock.pending().map((p) => p.name)).toEqual(["sim.screen-tick"]);
    clock.advance(3000);
    for (const l of term.lastDrawing()) expect(visibleLength(l)).toBeLessThan(24);
    // Each redraw moves up exactly over the rows it drew (after the legend alone: 4 lines, none wrapped).
    const ups = term.text.match(new RegExp(`${ESC}\\[\\d+F`, "g")) ?? [];
    expect(ups[0]).toBe("\x1b[1F");
    expect(ups.length).toBeGreaterThan(3);
    expect(ups.slice(1).every((m) => m === "\x1b[4F")).toBe(true);
    d.close();
    expect(clock.size).toBe(0);
  });

  it("a resize redraws at once at the new width, clearing the rows the old drawing takes there", () => {
    const term = new FakeTerminal(80);
    const clock = new ManualClock(0);
    const d = new TtyDisplay(term, clock);
    d.show({ kind: "message", name: "OpenClaw-1A2B", text: "x".repeat(60) });
    term.text = "";
    term.resize(30);
    // The old 64-column line reflows to 3 rows at 30 columns, the title to 1: 4 rows cleared.
    expect(term.text.startsWith("\x1b[4F\x1b[J")).toBe(true);
    for (const l of term.lastDrawing()) expect(visibleLength(l)).toBeLessThan(30);
    d.close();
    term.text = "";
    term.resize(50);
    expect(term.text).toBe(""); // closed: no longer follows the terminal
  });
});

describe("device controls and options", () => {
  it("parses stdin commands as words or JSON and ignores the rest", () => {
    expect(parseCommand("button")).toEqual({ kind: "button" });
    expect(parseCommand(' {"cmd":"quit"} ')).toEqual({ kind: "quit" });
    expect(parseCommand('{"id":3,"cmd":"button"}')).toEqual({ kind: "button", id: 3 });
    expect(parseCommand("constructor")).toBeUndefined();
    expect(parseCommand("long-press")).toEqual({ kind: "factory-reset" });
    expect(parseCommand("format c:")).toBeUndefined();
    expect(parseCommand("{not json")).toBeUndefined();
  });

  it("maps keys to the device's controls, case-insensitively, and ignores the rest", () => {
    const press = (name: string, mods: { ctrl?: boolean; meta?: boolean; shift?: boolean } = {}) =>
      keyCommand({ name, sequence: name, ...mods }, 0);
    expect(press("b")).toEqual({ kind: "command", command: "button" });
    expect(press("space")).toEqual({ kind: "command", command: "button" });
    expect(press("b", { shift: true })).toEqual({ kind: "command", command: "button" });
    expect(press("s")).toEqual({ kind: "command", command: "status" });
    expect(press("q")).toEqual({ kind: "command", command: "quit" });
    expect(press("c", { ctrl: true })).toEqual({ kind: "command", command: "quit" });
    expect(press("c")).toEqual({ kind: "ignored" });
    expect(press("b", { ctrl: true })).toEqual({ kind: "ignored" });
    expect(press("q", { meta: true })).toEqual({ kind: "ignored" });
    expect(press("up")).toEqual({ kind: "ignored" }); // an arrow key's escape sequence is one key, not "[", "A"
    expect(keyCommand({ sequence: "?" }, 0)).toEqual({ kind: "ignored" });
    expect(KEY_LEGEND).toBe("b button · r factory reset (twice) · s status · q quit");
  });

  it("asks for a second r within 3 s before a factory reset (injected clock)", () => {
    // The caller's loop in main.ts: keep the deadline from a confirm-reset, drop it on anything else.
    const session = (keys: Array<[name: string, at: number]>): KeyOutcome[] => {
      let armedUntil: number | undefined;
      return keys.map(([name, at]) => {
        const out = keyCommand({ name }, at, armedUntil);
        armedUntil = out.kind === "confirm-reset" ? out.until : undefined;
        return out;
      });
    };
    expect(RESET_CONFIRM_MS).toBe(3000);
    expect(keyCommand({ name: "r" }, 10_000)).toEqual({ kind: "confirm-reset", until: 13_000 });
    expect(
      session([
        ["r", 10_000],
        ["r", 12_999],
      ])[1],
    ).toEqual({ kind: "command", command: "factory-reset" });
    // Too late: the second r asks again instead of erasing.
    expect(
      session([
        ["r", 10_000],
        ["r", 13_000],
      ])[1],
    ).toEqual({ kind: "confirm-reset", until: 16_000 });
    // Any other key in between cancels the pending reset.
    expect(
      session([
        ["r", 0],
        ["x", 100],
        ["r", 200],
      ])[2],
    ).toEqual({ kind: "confirm-reset", until: 3200 });
    expect(
      session([
        ["r", 0],
        ["s", 100],
        ["r", 200],
      ]).map((o) => o.kind),
    ).toEqual(["confirm-reset", "command", "confirm-reset"]);
    // Three r in a row: the third starts a new confirmation rather than a second reset.
    expect(
      session([
        ["r", 0],
        ["r", 1],
        ["r", 2],
      ]).map((o) => o.kind),
    ).toEqual(["confirm-reset", "command", "confirm-reset"]);
  });

  it("shows the confirmation prompt above the key legend", () => {
    expect(renderFooter({ legend: KEY_LEGEND })).toEqual([KEY_LEGEND]);
    expect(renderFooter({ prompt: "press r again", legend: KEY_LEGEND })).toEqual([
      "press r again",
      KEY_LEGEND,
    ]);
    expect(renderFooter({})).toEqual([]);
  });

  it("parses durations and enforces the 30 s – 15 min window", () => {
    expect(parseDuration("120s", "ttl")).toBe(120_000);
    expect(parseDuration("1m30s", "ttl")).toBe(90_000);
    // A bare number is seconds (what people mean by --ttl 300); ms must be said.
    expect(parseDuration("300", "ttl")).toBe(300_000);
    expect(parseDuration("5m", "ttl")).toBe(300_000);
    expect(parseDuration("120000ms", "ttl")).toBe(120_000);
    expect(parseDuration("1.5", "ttl")).toBe(1500);
    expect(() => parseDuration("5 minutes", "ttl")).toThrow(/bare number is seconds/);
    expect(() => parseDuration("soon", "ttl")).toThrow(/not a duration/);
    expect(() => checkWindowTtl(29_000)).toThrow(/30 s to 15 min/);
    expect(() => checkWindowTtl(16 * 60_000)).toThrow();
    expect(checkWindowTtl(30_000)).toBe(30_000);
    expect(() => parseIntIn("0", "slots", 1, 32)).toThrow(/1 to 32/);
    expect(() => parseFormat("hex")).toThrow();
  });

  it("refuses names that cannot be shown whole, instead of cutting them", () => {
    expect(() => checkName("")).toThrow(/must not be empty/);
    expect(() => checkName("   ")).toThrow(/must not be empty/);
    expect(() => checkName("bad\nname")).toThrow(/control characters/);
    expect(() => checkName("é".repeat(33))).toThrow(/66 bytes/);
    expect(checkName("Kitchen claw")).toEqual({ name: "Kitchen claw" });
    expect(checkName("Living room claw").note).toMatch(/shortened to its first 13 bytes/);
  });
});
