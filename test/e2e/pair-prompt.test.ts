/**
 * `openclaw pair` at a terminal (a pseudo-terminal): with two devices in pairing mode the picker offers
 * both; the code prompt shows the device's countdown and attempts left; a mistyped code is refused
 * locally, a wrong one comes back with one attempt fewer, the right one pairs.
 */
import { stripVTControlCharacters } from "node:util";
import { spawn as ptySpawn } from "@lydell/node-pty";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../rig/proc.js";
import type { TestAir } from "../../rig/radio.js";
import { wrong } from "../integration/sim-harness.js";
import { alive, BIN, codeOf, Laptop, sim, until, useE2E } from "./harness.js";

let t: TestAir;
useE2E((air) => {
  t = air;
});

describe("pair at a terminal", { timeout: 90_000 }, () => {
  it("picks among two devices, counts down, re-prompts after a wrong code, pairs", async () => {
    const a = await sim(t, "p-dev-a");
    const b = await sim(t, "p-dev-b");
    const laptop = new Laptop(t, "p-laptop");
    // The daemon first, so both devices are in its registry when the picker asks.
    expect((await laptop.json(["scan", "--timeout", "2"])).code).toBe(0);
    const env = Object.fromEntries(
      Object.entries({ ...process.env, ...laptop.env }).filter(
        (e): e is [string, string] => e[0] !== "FORCE_COLOR" && e[1] !== undefined,
      ),
    );
    const term = ptySpawn(
      process.execPath,
      [BIN, "pair", "--state-dir", laptop.stateDir, "--hci", laptop.hci],
      {
        name: "xterm-256color",
        cols: 140,
        rows: 40,
        cwd: ROOT,
        env,
      },
    );
    let screen = "";
    term.onData((d) => {
      screen += d;
    });
    const exited = new Promise<number>((resolve) => term.onExit((e) => resolve(e.exitCode)));
    const text = () => stripVTControlCharacters(screen).replace(/\r/g, "");
    const shows = (re: RegExp, from = 0) =>
      until(`${re} on the terminal`, 30_000, () => (re.test(text().slice(from)) ? true : undefined)).catch(
        () => {
          throw new Error(`timed out waiting for ${re}:\n${text().slice(-2500)}`);
        },
      );
    try {
      await shows(/Several devices are in pairing mode/);
      expect(text()).toContain(a.ready.name);
      expect(text()).toContain(b.ready.name);
      // The list is strongest first; pick whichever is under the cursor and learn which it was.
      term.write("\r");
      await shows(/Code shown on (OpenClaw-[0-9A-F]{4})/);
      const picked = text().match(/Code shown on (OpenClaw-[0-9A-F]{4})/)![1]!;
      const dev = picked === a.ready.name ? a : b;
      expect(text()).toMatch(
        /\d+ s left · 5 attempts left|1 min \d+ s left · 5 attempts left|2 min left · 5 attempts left/,
      );
      const code = codeOf(dev.firstDisplay!);

      let mark = text().length;
      term.write("12345\r"); // too short: refused here, nothing sent
      await shows(/not a 6-digit passkey/, mark);
      term.write("\x7f".repeat(5));
      mark = text().length;
      term.write(`${wrong(code)}\r`);
      await shows(/wrong code \(4 attempts left for this code\)/, mark);
      await shows(/4 attempts left · Enter on an empty line/, mark);
      expect(dev.child.events.filter((e) => e.type === "wrong-code")).toHaveLength(1);
      mark = text().length;
      term.write(`${code}\r`);
      await shows(/Paired with/, mark);
      expect(await exited).toBe(0);
    } finally {
      if (alive(term.pid)) term.kill("SIGKILL");
    }
  });
});
