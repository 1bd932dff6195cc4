/**
 * `openclaw pair` at a terminal (a pseudo-terminal): with two devices in pairing mode the picker offers
 * both; the code prompt shows the device's countdown and attempts left; a mistyped code is refused
 * locally, a wrong one comes back with one attempt fewer, the right one pairs. Ctrl-C at the prompt or
 * mid-exchange cancels (exit 130) and leaves no partial bond on either side.
 */
import { stripVTControlCharacters } from "node:util";
import { spawn as ptySpawn } from "@lydell/node-pty";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../rig/proc.js";
import type { TestAir } from "../../rig/radio.js";
import type { SimHandle } from "../integration/sim-harness.js";
import { wrong } from "../integration/sim-harness.js";
import { alive, BIN, codeOf, Laptop, sim, until, useE2E } from "./harness.js";

let t: TestAir;
useE2E((air) => {
  t = air;
});

/** `openclaw pair …` on a pseudo-terminal: what a person at a terminal sees and types. */
function terminal(laptop: Laptop, args: string[]) {
  const env = Object.fromEntries(
    Object.entries({ ...process.env, ...laptop.env }).filter(
      (e): e is [string, string] => e[0] !== "FORCE_COLOR" && e[1] !== undefined,
    ),
  );
  const term = ptySpawn(
    process.execPath,
    [BIN, "pair", ...args, "--state-dir", laptop.stateDir, "--hci", laptop.hci],
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
  return {
    text,
    shows,
    exited,
    write: (s: string) => term.write(s),
    /** SIGKILL if the test ends with it still running. */
    close: () => {
      if (alive(term.pid)) term.kill("SIGKILL");
    },
  };
}

async function laptopBonds(l: Laptop): Promise<string[]> {
  const r = await l.json<{ bonds: Array<{ deviceId: string }> }>(["devices"]);
  expect(r.code, r.r.stdout + r.r.stderr).toBe(0);
  return r.doc.bonds.map((b) => b.deviceId);
}

async function deviceBonds(dev: SimHandle): Promise<number> {
  const mark = dev.child.mark();
  await dev.command("status");
  const st = await dev.child.waitFor((e) => e.type === "status", 5000, "status", { since: mark });
  return (st as unknown as { bonds: number }).bonds;
}

describe("pair at a terminal", { timeout: 90_000 }, () => {
  it("picks among two devices, counts down, re-prompts after a wrong code, pairs", async () => {
    const a = await sim(t, "p-dev-a");
    const b = await sim(t, "p-dev-b");
    const laptop = new Laptop(t, "p-laptop");
    // The daemon first, so both devices are in its registry when the picker asks.
    expect((await laptop.json(["scan", "--timeout", "2"])).code).toBe(0);
    const term = terminal(laptop, []);
    const { text, shows } = term;
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
      expect(await term.exited).toBe(0);
    } finally {
      term.close();
    }
  });

  it("Ctrl-C at the code prompt cancels with exit 130: nothing sent, no attempt used, the same code pairs next", async () => {
    const dev = await sim(t, "p-dev-c");
    const laptop = new Laptop(t, "p-laptop-c");
    const term = terminal(laptop, [dev.ready.name]);
    try {
      await term.shows(/Code shown on/);
      term.write("12"); // half typed, then Ctrl-C (the prompt reads it raw)
      term.write("\x03");
      expect(await term.exited).toBe(130);
      expect(term.text()).toMatch(/pairing was cancelled/);
    } finally {
      term.close();
    }
    expect(await laptopBonds(laptop)).toEqual([]);
    expect(await deviceBonds(dev)).toBe(0);
    expect(dev.child.events.filter((e) => e.type === "wrong-code")).toHaveLength(0);
    // The code was not burnt: the one on the screen still pairs.
    expect((await laptop.pair(dev.ready.name, codeOf(dev.firstDisplay!))).code).toBe(0);
  });

  it("Ctrl-C while the keys are exchanged: no partial bond, the two sides agree", async () => {
    const dev = await sim(t, "p-dev-x", { args: ["--provisional-ttl", "5s"] });
    const laptop = new Laptop(t, "p-laptop-x");
    const term = terminal(laptop, [dev.ready.name]);
    try {
      await term.shows(/Code shown on/);
      const mark = term.text().length;
      term.write(`${codeOf(dev.firstDisplay!)}\r`);
      await term.shows(/exchanging keys|confirming|Paired with/, mark);
      term.write("\x03"); // the prompt has closed: the terminal turns it into SIGINT
      const code = await term.exited;
      // Cancelled, unless the pairing finished before the signal landed.
      if (!/Paired with/.test(term.text())) {
        expect(code).toBe(130);
        expect(term.text()).toMatch(/pairing was cancelled/);
      }
    } finally {
      term.close();
    }
    const id = dev.ready.id.toLowerCase();
    const outcome = await until("laptop and device to agree", 40_000, async () => {
      if ((await laptopBonds(laptop)).includes(id)) {
        const st = await laptop.json(["status", id]);
        return st.code === 0 && (await deviceBonds(dev)) === 1 ? ("bonded" as const) : undefined;
      }
      return (await deviceBonds(dev)) === 0 ? ("none" as const) : undefined;
    });
    if (outcome === "none") {
      const d = await dev.press();
      expect((await laptop.pair(dev.ready.name, codeOf(d))).code).toBe(0);
    }
    expect((await laptop.json(["status", dev.ready.name])).code).toBe(0);
  });
});
