/**
 * Every way pairing fails, as a person or a script sees it through the CLI: each is its own catalogue
 * error with its remedy (and exit status 1), never a bare timeout. Real sims with the faults their
 * options give them (short windows via the sim's time scale, one slot, a low lockout threshold), and
 * the air moving a device away mid-pairing.
 */
import { describe, expect, it } from "vitest";
import type { TestAir } from "../../rig/radio.js";
import { wrong } from "../integration/sim-harness.js";
import { codeOf, errorOf, Laptop, sim, stderrShows, useE2E } from "./harness.js";

let t: TestAir;
useE2E((air) => {
  t = air;
});

describe("pairing failures, each with its cause and remedy", { timeout: 90_000 }, () => {
  it("wrong code: attempts left after each, then the code is burnt and a fresh one shown", async () => {
    const dev = await sim(t, "f1-dev", { args: ["--max-attempts", "2"] });
    const laptop = new Laptop(t, "f1-laptop");
    const code = codeOf(dev.firstDisplay!);
    const first = await laptop.pair(dev.ready.name, wrong(code));
    expect(first.code).toBe(1);
    expect(errorOf(first.doc)).toMatchObject({ code: "WRONG_CODE", details: { attemptsLeft: 1 } });
    const second = await laptop.pair(dev.ready.name, wrong(code));
    expect(errorOf(second.doc).code).toBe("WRONG_CODE");
    expect(errorOf(second.doc).details).toEqual({ attemptsLeft: 0 });
    expect(errorOf(second.doc).message).toMatch(/last attempt/);
    const fresh = await dev.next("display", 10_000, (e) => e.reason !== "boot");
    expect(codeOf(fresh)).not.toBe(code);
    // A person sees the same words on stderr.
    const human = await laptop.run(["pair", dev.ready.name, "--code", "-"], {
      stdin: `${wrong(codeOf(fresh))}\n`,
    });
    expect(human.code).toBe(1);
    expect(human.stderr).toMatch(/error: wrong code \(1 attempt left for this code\)/);
    expect(human.stderr).toMatch(/→ Check the code on the device's display/);
  });

  it("a long code with a typo is caught here: BAD_CHECK_CHARACTER, no attempt used", async () => {
    const dev = await sim(t, "f2-dev", { args: ["--format", "long"] });
    const laptop = new Laptop(t, "f2-laptop");
    const code = codeOf(dev.firstDisplay!); // OCL-XXXX-XXXX-C
    const last = code.at(-1)!;
    const typo = `${code.slice(0, -1)}${last === "0" ? "1" : "0"}`;
    const r = await laptop.pair(dev.ready.name, typo);
    expect(r.code).toBe(1);
    expect(errorOf(r.doc).code).toBe("BAD_CHECK_CHARACTER");
    expect(errorOf(r.doc).remedy).toMatch(/Re-type the code/);
    // Nothing reached the device: the full count is still there, and the right code still pairs.
    expect(dev.child.events.some((e) => e.type === "wrong-code")).toBe(false);
    const ok = await laptop.pair(dev.ready.name, code.toLowerCase().replace(/-/g, " "));
    expect(ok.code, ok.r.stderr).toBe(0);
  });

  it("expired: the window ended before the code was entered", async () => {
    // Time runs 3× on the device: its 30 s window lasts 10 s here.
    const dev = await sim(t, "f3-dev", { args: ["--ttl", "30s", "--time-scale", "3"] });
    const laptop = new Laptop(t, "f3-laptop");
    const code = codeOf(dev.firstDisplay!);
    const p = laptop.start(["pair", dev.ready.name, "--code", "-"]);
    await stderrShows(p, /is in pairing mode/);
    await dev.next("window-closed", 20_000);
    p.write(`${code}\n`);
    p.proc.stdin!.end();
    const r = await p.result;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /error: (the pairing code expired before it was entered|the device is not in pairing mode)/,
    );
    expect(r.stderr).toMatch(/→ Press the pairing button/);
  });

  it("not in pairing mode: WINDOW_CLOSED names the button", async () => {
    const dev = await sim(t, "f4-dev");
    const first = new Laptop(t, "f4-laptop-a");
    expect((await first.pair(dev.ready.name, codeOf(dev.firstDisplay!))).code).toBe(0);
    // bleno serves one central: while the first laptop's session is open the device does not advertise.
    await first.close();
    const second = new Laptop(t, "f4-laptop-b");
    const r = await second.pair(dev.ready.name, "123456");
    expect(r.code).toBe(1);
    expect(errorOf(r.doc).code).toBe("WINDOW_CLOSED");
    expect(errorOf(r.doc).remedy).toMatch(/pairing button/);
  });

  it("lockout: too many failures, and how long to wait", async () => {
    const dev = await sim(t, "f5-dev", {
      args: ["--max-attempts", "5", "--lockout-after", "2", "--lockout", "5m"],
    });
    const laptop = new Laptop(t, "f5-laptop");
    const code = codeOf(dev.firstDisplay!);
    expect(errorOf((await laptop.pair(dev.ready.name, wrong(code))).doc).code).toBe("WRONG_CODE");
    const second = await laptop.pair(dev.ready.name, wrong(code));
    expect(["WRONG_CODE", "LOCKED_OUT"]).toContain(errorOf(second.doc).code);
    await dev.next("locked-out", 10_000);
    const r = await laptop.pair(dev.ready.name, code);
    expect(r.code).toBe(1);
    const e = errorOf(r.doc);
    expect(e.code).toBe("LOCKED_OUT");
    expect(Number(e.details["retryAfterMs"])).toBeGreaterThan(60_000);
    expect(e.message).toMatch(/refuses pairing for \d+ (min|s)/);
    expect(e.remedy).toMatch(/Wait until the lockout ends/);
  });

  it("out of range mid-pairing: OUT_OF_RANGE, not a timeout, and no bond on either side", async () => {
    const dev = await sim(t, "f6-dev");
    const laptop = new Laptop(t, "f6-laptop");
    const code = codeOf(dev.firstDisplay!);
    const p = laptop.start(["pair", dev.ready.name, "--code", "-"], { timeoutMs: 80_000 });
    await stderrShows(p, /is in pairing mode/);
    const home = t.air.controllers().find((c) => c.label === "f6-dev")!.position;
    t.air.move("f6-dev", { x: home.x + 2000, y: home.y });
    try {
      p.write(`${code}\n`);
      p.proc.stdin!.end();
      const r = await p.result;
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stderr).toMatch(/error: the device is out of range/);
      expect(r.stderr).toMatch(/→ Move the laptop closer/);
    } finally {
      t.air.move("f6-dev", home);
    }
    expect((await laptop.json<{ bonds: unknown[] }>(["devices"])).doc.bonds).toEqual([]);
    await dev.command("status");
    expect((await dev.next("status", 5000)).bonds).toBe(0);
  });

  it("bond table full: BOND_TABLE_FULL names the remedies, and nothing is evicted", async () => {
    const dev = await sim(t, "f7-dev", { args: ["--slots", "1"] });
    const a = new Laptop(t, "f7-laptop-a");
    expect((await a.pair(dev.ready.name, codeOf(dev.firstDisplay!))).code).toBe(0);
    await dev.next("bonded", 10_000);
    await a.close(); // its open session would keep the device from advertising (bleno: one central)
    const fresh = await dev.press();
    const b = new Laptop(t, "f7-laptop-b");
    const r = await b.pair(dev.ready.name, codeOf(fresh));
    expect(r.code).toBe(1);
    expect(errorOf(r.doc)).toMatchObject({ code: "BOND_TABLE_FULL", details: { slots: 1 } });
    expect(errorOf(r.doc).remedy).toMatch(/Remove a pairing/);
    // Nothing was evicted: the first laptop's bond is still the one in the table.
    await dev.command("status");
    expect((await dev.next("status", 5000)).bonds).toBe(1);
  });
});
