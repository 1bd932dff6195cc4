/**
 * `npm start` (`openclaw start`) driven through a pseudo-terminal to the end, as a newcomer does it:
 * press Enter, read the code off the simulated device's screen line, type it, press Enter through
 * status, claw and forget. It must finish well inside a minute, exit 0 and leave nothing behind (its
 * temporary state directory removed, no sim or daemon running).
 */
import { existsSync } from "node:fs";
import { stripVTControlCharacters } from "node:util";
import { spawn as ptySpawn } from "@lydell/node-pty";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../rig/proc.js";
import { alive, BIN } from "./harness.js";

const strip = (s: string) => stripVTControlCharacters(s).replace(/\r/g, "");

describe("npm start: the guided first session", () => {
  it("runs scan, pair, status, claw open and forget through a terminal in under a minute", async () => {
    const term = ptySpawn(process.execPath, [BIN, "start"], {
      name: "xterm-256color",
      cols: 120,
      rows: 40,
      cwd: ROOT,
      env: Object.fromEntries(
        Object.entries({ ...process.env, NO_COLOR: "1" }).filter(
          (e): e is [string, string] => e[0] !== "FORCE_COLOR" && e[1] !== undefined,
        ),
      ),
    });
    let screen = "";
    const exited = new Promise<number>((resolve) => term.onExit((e) => resolve(e.exitCode)));
    term.onData((d) => {
      screen += d;
    });
    const started = Date.now();
    const until = async (re: RegExp, from: number, ms = 30_000): Promise<RegExpMatchArray> => {
      const deadline = Date.now() + ms;
      for (;;) {
        const m = strip(screen.slice(from)).match(re);
        if (m) return m;
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${re} on the terminal:\n${strip(screen).slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      const intro = await until(/keeps its state in (\S+) and removes it/, 0);
      const tempDir = intro[1]!;
      await until(/Press Enter to scan/, 0);
      term.write("\r");
      const shown = await until(/shows the pairing code (\d{3} \d{3}) \([^,]+, (\d+) attempts\)/, 0);
      const code = shown[1]!;
      // The scan table is `openclaw scan`'s: the window's time left and attempts left, read from the device.
      const table = await until(/NAME\s+ID\s+RSSI\s+WINDOW\s+ATTEMPTS\s+BONDED\n(.*)\n/, 0);
      expect(table[1]).toMatch(/-?\d+ dBm\s+open, (\d+ min)? ?(\d+ s)? left\s+\d+\s+no/);
      expect(table[1]!.match(/left\s+(\d+)\s+no/)![1]).toBe(shown[2]);
      let mark = screen.length;
      await until(/Code shown on/, 0);
      term.write(code.replace(" ", ""));
      term.write("\r");
      await until(/Paired with/, mark);
      mark = screen.length;
      await until(/Press Enter to ask for its status/, mark - 200);
      term.write("\r");
      await until(/verified: role admin/, mark);
      await until(/Press Enter to open the claw/, mark);
      term.write("\r");
      await until(/the claw is open/, mark);
      await until(/Press Enter to forget/, mark);
      term.write("\r");
      await until(/Done\./, mark);
      const code0 = await Promise.race([
        exited,
        new Promise<number>((_, rej) => setTimeout(() => rej(new Error("no exit")), 15_000)),
      ]);
      expect(code0, strip(screen).slice(-2000)).toBe(0);
      expect(Date.now() - started).toBeLessThan(60_000);
      const text = strip(screen);
      expect(text).toMatch(/on the device\s+removed/);
      expect(text).toMatch(/on this laptop\s+removed/);
      expect(existsSync(tempDir)).toBe(false);
      if (process.env["OPENCLAW_SHOW_DEMO"]) process.stderr.write(text);
    } finally {
      if (alive(term.pid)) term.kill("SIGKILL");
    }
  }, 90_000);
});
