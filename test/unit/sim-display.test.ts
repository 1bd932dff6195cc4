import { describe, expect, it } from "vitest";
import { countdownText, renderScreen } from "../../firmware-sim/device/display.js";
import { parseCommand } from "../../firmware-sim/device/events.js";
import { checkWindowTtl, parseDuration, parseFormat, parseIntIn } from "../../firmware-sim/device/options.js";

describe("device display", () => {
  it("counts down from the device clock and never shows 0:00 while the code works", () => {
    expect(countdownText(107_000)).toBe("1:47");
    expect(countdownText(100)).toBe("0:01");
    expect(countdownText(-5)).toBe("0:00");
    const screen = {
      kind: "pairing",
      name: "OpenClaw-1A2B",
      code: "123 456",
      format: "passkey",
      expiresAt: 120_000,
      attemptsLeft: 5,
      maxAttempts: 5,
    } as const;
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

  it("parses durations and enforces the 30 s – 15 min window", () => {
    expect(parseDuration("120s", "ttl")).toBe(120_000);
    expect(parseDuration("1m30s", "ttl")).toBe(90_000);
    expect(parseDuration("2500", "ttl")).toBe(2500);
    expect(() => parseDuration("soon", "ttl")).toThrow(/not a duration/);
    expect(() => checkWindowTtl(29_000)).toThrow(/30 s to 15 min/);
    expect(() => checkWindowTtl(16 * 60_000)).toThrow();
    expect(checkWindowTtl(30_000)).toBe(30_000);
    expect(() => parseIntIn("0", "slots", 1, 32)).toThrow(/1 to 32/);
    expect(() => parseFormat("hex")).toThrow();
  });
});
