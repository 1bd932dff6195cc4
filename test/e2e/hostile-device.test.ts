/**
 * Hostile devices nearby (issue 9), each in its own process next to a real simulated device:
 *
 * - rig/programs/hostile-device: a raw H4 peripheral that advertises as an OpenClaw device in pairing
 *   mode and answers every ATT request with a malformed PDU;
 * - rig/programs/hostile-protocol-device: real bleno with the real OpenClaw GATT table, so discovery
 *   succeeds, that then answers pair-setup with malformed framing, an undecodable or out-of-order
 *   message, or serves garbage as its info.
 *
 * The real daemon (started by the CLI, real noble) scans them, probes them and is asked to pair with
 * them. What a user sees: the pair fails at once with PROTOCOL_ERROR and its remedy (no hang, no
 * crash, one connection: malformed data is not retried like a fading link), the same daemon keeps
 * serving and pairing the good device, and its log says which device sent what kind of garbage without
 * a secret in it (useE2E checks every log and output for codes and keys).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type Child, type ChildEvent, spawnProgram } from "../../rig/proc.js";
import type { HostileMode } from "../../rig/programs/hostile-protocol-device.js";
import type { TestAir } from "../../rig/radio.js";
import { CATALOGUE } from "../../src/protocol/errors.js";
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

    const before = connections(bad);
    const attempt = await laptop.pair(HOSTILE_NAME, "123456", { timeoutMs: 60_000 });
    expect(attempt.r.signal, "the CLI was killed by the harness's timeout: a hang").toBeNull();
    expect(attempt.code).toBe(1);
    const err = errorOf(attempt.doc);
    expect(err.code).toBe("PROTOCOL_ERROR");
    expect(err.remedy).toBe(CATALOGUE.PROTOCOL_ERROR.remedy);
    expect(
      bad.events.some((e) => e.type === "att"),
      "the daemon's noble talked to the hostile device",
    ).toBe(true);
    // Garbage is not a fading link: one connection, no retries under the connect budget.
    expect(connections(bad) - before).toBe(1);
    // The person reading the terminal sees the same error in words, just as fast.
    const beforeHuman = connections(bad);
    const human = await laptop.run(["pair", HOSTILE_NAME, "--code", "-"], {
      stdin: "123456\n",
      timeoutMs: 60_000,
    });
    expect(human.code).toBe(1);
    expect(human.stderr).toMatch(/^error: protocol error: /m);
    expect(human.stderr).toContain(`→ ${CATALOGUE.PROTOCOL_ERROR.remedy}`);
    expect(connections(bad) - beforeHuman).toBe(1);

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

    // The daemon's log names the device that sent garbage, and what kind.
    const faults = deviceFaults(laptop);
    expect(faults.some((f) => f.device === HOSTILE_NAME && /malformed ATT/.test(f.detail))).toBe(true);
    expectNoTypedCode(laptop, "123456");
    await bad.kill(1500);
  });
});

const EVIL_NAME = "OpenClaw-EV1L";

/** Connections the daemon opened to a hostile program so far (its `connected` events). */
function connections(h: Child<ChildEvent>): number {
  return h.events.filter((e) => e.type === "connected").length;
}

/** The daemon log's "a device sent malformed data" warnings. */
function deviceFaults(laptop: Laptop): Array<{ device?: string; deviceId?: string; detail: string }> {
  return readFileSync(laptop.paths.logFile, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as { msg: string; level: number; device?: string; detail: string })
    .filter((l) => l.msg === "a device sent malformed data" && l.level === 40);
}

/**
 * The code typed for a hostile device is in no log field (timestamps may contain any six digits, so
 * string values are checked, not the raw text).
 */
function expectNoTypedCode(laptop: Laptop, code: string): void {
  const strings = (v: unknown): string[] =>
    typeof v === "string" ? [v] : v && typeof v === "object" ? Object.values(v).flatMap(strings) : [];
  const lines = readFileSync(laptop.paths.logFile, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "");
  const leaks = lines.filter((l) => strings(JSON.parse(l)).some((v) => v.includes(code)));
  expect(leaks).toEqual([]);
}

type HostileProtocolEvent = { type: string; state?: string; mode?: HostileMode };

async function hostileProtocol(label: string, mode: HostileMode): Promise<Child<HostileProtocolEvent>> {
  const h = spawnProgram<HostileProtocolEvent>("rig/programs/hostile-protocol-device.js", {
    name: label,
    hci: t.spec(label),
    args: [EVIL_NAME, mode],
  });
  await h.waitFor((e) => e.type === "state" && e.state === "poweredOn", 10_000, `${label} poweredOn`);
  await h.call("advertise", {}, 10_000);
  return h;
}

/** Each mode of the hostile protocol device and the words its PROTOCOL_ERROR has for it. */
const PROTOCOL_CASES: ReadonlyArray<{ mode: HostileMode; detail: RegExp }> = [
  { mode: "bad-length", detail: /message ended short of its length/ },
  { mode: "bad-continuation", detail: /continuation frame outside a message/ },
  { mode: "oversized", detail: /exceeds the 2048-byte limit/ },
  { mode: "undecodable", detail: /PairSetupChallenge: truncated TLV value/ },
  { mode: "wrong-state", detail: /unexpected PairSetupDone during pair-setup/ },
  { mode: "garbage-info", detail: /info: truncated TLV value/ },
];

describe("a device with the OpenClaw GATT table that speaks garbage", { timeout: 180_000 }, () => {
  it("every malformed frame or message fails the pair at once with PROTOCOL_ERROR; the same daemon then pairs and serves the good device", async () => {
    const dev = await sim(t, "hp-dev");
    const evil = await hostileProtocol("hp-evil", "bad-length");
    const laptop = new Laptop(t, "hp-laptop");
    const name = dev.ready.name;

    // The scan sees both and probes the hostile one (its info is valid in this mode).
    const scan = await laptop.json<{ devices: Array<{ name: string | null }> }>(["scan", "--timeout", "3"], {
      timeoutMs: 60_000,
    });
    expect(scan.code, scan.r.stderr).toBe(0);
    expect(scan.doc.devices.map((d) => d.name)).toEqual(expect.arrayContaining([name, EVIL_NAME]));
    const pid = laptop.daemonPid();
    expect(pid).toBeDefined();

    for (const c of PROTOCOL_CASES) {
      await evil.call("setMode", { mode: c.mode }, 5000);
      const before = connections(evil);
      const attempt = await laptop.pair(EVIL_NAME, "123456", { timeoutMs: 60_000 });
      expect(attempt.r.signal, `${c.mode}: the CLI was killed by the harness's timeout`).toBeNull();
      expect(attempt.code, `${c.mode}: ${attempt.r.stdout}`).toBe(1);
      const err = errorOf(attempt.doc);
      expect(err.code, `${c.mode}: ${err.message}`).toBe("PROTOCOL_ERROR");
      expect(err.message, c.mode).toMatch(c.detail);
      expect(err.remedy).toBe(CATALOGUE.PROTOCOL_ERROR.remedy);
      expect(connections(evil) - before, `${c.mode}: connections for one pair`).toBe(1);
      if (c.mode !== "garbage-info") {
        expect(evil.events.some((e) => e.type === "hostile" && e.mode === c.mode)).toBe(true);
      }
      expect(laptop.daemonPid(), `${c.mode}: the daemon survived`).toBe(pid);
    }

    // In words, for a person: cause and remedy.
    await evil.call("setMode", { mode: "wrong-state" }, 5000);
    const human = await laptop.run(["pair", EVIL_NAME, "--code", "-"], {
      stdin: "123456\n",
      timeoutMs: 60_000,
    });
    expect(human.code).toBe(1);
    expect(human.stderr).toMatch(/^error: protocol error: unexpected PairSetupDone during pair-setup/m);
    expect(human.stderr).toContain(`→ ${CATALOGUE.PROTOCOL_ERROR.remedy}`);

    // The same daemon pairs the good device next to it, and serves it.
    const ok = await laptop.pair(name, codeOf(dev.firstDisplay!));
    expect(ok.code, ok.r.stderr).toBe(0);
    const st = await laptop.json(["status", name]);
    expect(st.code, st.r.stderr).toBe(0);
    const claw = await laptop.json(["claw", name, "open"]);
    expect(claw.code, claw.r.stderr).toBe(0);
    expect(claw.doc).toMatchObject({ claw: "open" });
    expect(laptop.daemonPid()).toBe(pid);

    // The log has one warning per bad answer, naming the structure that was wrong.
    const faults = deviceFaults(laptop);
    for (const c of PROTOCOL_CASES) {
      expect(
        faults.some((f) => c.detail.test(f.detail)),
        `${c.mode} in ${JSON.stringify(faults)}`,
      ).toBe(true);
    }
    expectNoTypedCode(laptop, "123456");
    await evil.kill(1500);
  });
});
