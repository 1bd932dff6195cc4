/**
 * A hostile device nearby (issue 9): a raw H4 peripheral in its own process (rig/programs/hostile-device)
 * that advertises as an OpenClaw device in pairing mode and answers every ATT request with a malformed
 * PDU. The real daemon (started by the CLI, real noble) scans it, probes it and is asked to pair with it
 * while it serves a real simulated device. What a user sees: the pair fails with a catalogue error and
 * its remedy (no hang, no crash), the same daemon keeps serving the good device, and its log says what
 * happened without a secret in it (useE2E checks every log and output for codes and keys).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type Child, spawnProgram } from "../../rig/proc.js";
import type { TestAir } from "../../rig/radio.js";
import { ERROR_CODES } from "../../src/protocol/errors.js";
import { codeOf, errorOf, Laptop, sim, useE2E } from "./harness.js";

let t: TestAir;
useE2E((air) => {
  t = air;
});

const HOSTILE_NAME = "OpenClaw-BAD0";

async function hostile(label: string): Promise<Child> {
  const h = spawnProgram("rig/programs/hostile-device.js", {
    name: label,
    args: [t.path, label, HOSTILE_NAME],
  });
  await h.waitFor((e) => e.type === "advertising", 10_000, `${label} advertising`);
  return h;
}

describe("a hostile device next to a good one", { timeout: 180_000 }, () => {
  it("pairing with it fails with a catalogue error; the same daemon still scans, pairs and serves the good device", async () => {
    const dev = await sim(t, "hd-dev");
    const laptop = new Laptop(t, "hd-laptop");
    const name = dev.ready.name;

    // Before: the good device pairs and answers.
    const ok = await laptop.pair(name, codeOf(dev.firstDisplay!));
    expect(ok.code, ok.r.stderr).toBe(0);
    expect((await laptop.json(["status", name])).code).toBe(0);
    const pid = laptop.daemonPid();
    expect(pid).toBeDefined();

    const bad = await hostile("hd-hostile");
    // The scan sees it (it advertises an open window) and probes it: the probe meets malformed ATT.
    const scan1 = await laptop.json<{ devices: Array<{ name: string | null }> }>(["scan", "--timeout", "3"], {
      timeoutMs: 90_000,
    });
    expect(scan1.code, scan1.r.stderr).toBe(0);
    expect(scan1.doc.devices.map((d) => d.name)).toEqual(expect.arrayContaining([name, HOSTILE_NAME]));

    const attempt = await laptop.pair(HOSTILE_NAME, "123456", { timeoutMs: 120_000 });
    expect(attempt.r.signal, "the CLI was killed by the harness's timeout: a hang").toBeNull();
    expect(attempt.code).toBe(1);
    const err = errorOf(attempt.doc);
    expect(ERROR_CODES).toContain(err.code);
    expect(err.code).not.toBe("INTERNAL");
    expect(err.remedy.length).toBeGreaterThan(0);
    expect(
      bad.events.some((e) => e.type === "att"),
      "the daemon's noble talked to the hostile device",
    ).toBe(true);
    // The person reading the terminal sees the same error in words.
    const human = await laptop.run(["pair", HOSTILE_NAME, "--code", "-"], {
      stdin: "123456\n",
      timeoutMs: 120_000,
    });
    expect(human.code).toBe(1);
    expect(human.stderr).toMatch(/^error: /m);
    expect(human.stderr).toMatch(/→ /);

    // After: the same daemon, still serving the good device.
    expect(laptop.daemonPid()).toBe(pid);
    const scan2 = await laptop.json<{ devices: Array<{ name: string | null }> }>(
      ["scan", "--timeout", "2", "--no-probe"],
      { timeoutMs: 30_000 },
    );
    expect(scan2.code, scan2.r.stderr).toBe(0); // the same daemon still scans
    // The good device may be absent from this scan: the daemon still holds its session and bleno does not
    // advertise while connected (issue 9, open). Serving it is checked by status and claw below.
    const st = await laptop.json(["status", name]);
    expect(st.code, st.r.stderr).toBe(0);
    const claw = await laptop.json(["claw", name, "open"]);
    expect(claw.code, claw.r.stderr).toBe(0);
    expect(claw.doc).toMatchObject({ claw: "open" });
    // (Re-pairing the good device while the daemon holds its session is not asserted: bleno does not
    // advertise while connected, issue 9, open.)
    expect(laptop.daemonPid()).toBe(pid);

    // The daemon's log records the failed attempt with its code.
    const log = readFileSync(laptop.paths.logFile, "utf8");
    expect(log).toContain(err.code);
    await bad.kill(1500);
  });
});
