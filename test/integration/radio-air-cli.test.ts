/**
 * `openclaw air` and `openclaw air ctl` as a person runs them (compiled CLI): bad arguments are usage
 * errors with the reason (exit 2), the sockets are private whatever the umask, the air's own errors
 * arrive with the catalogue's words, and a second device with a label in use is refused.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT, spawnProgram } from "../../rig/proc.js";
import type { TestAir } from "../../rig/radio.js";
import { startSim, stateDir, useSimAir } from "./sim-harness.js";

const CLI = `${ROOT}bin/openclaw.js`;
const dir = mkdtempSync(join(tmpdir(), "ocp-air-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let t: TestAir;
useSimAir((air) => {
  t = air;
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function openclaw(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: ROOT, timeout: 15_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr });
    });
  });
}

describe("openclaw air ctl: usage", () => {
  it.each([
    [["move", "dev1", "far", "0"], /x \(metres\) must be a number, not "far"/, "air ctl move"],
    [["latency", "dev1", "abc"], /the latency \(ms\) must be a number, not "abc"/, "air ctl latency"],
    [["drop", "dev1", "--at", "0"], /--at must be a whole number of at least 1, not "0"/, "air ctl drop"],
  ])("%j is a usage error that says what is wrong (exit 2)", async (args, text, command) => {
    const r = await openclaw(["air", "ctl", "--control", join(dir, "none.ctl"), ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(text);
    expect(r.stderr).toContain(`\`openclaw ${command} --help\``);
  });

  it("a missing argument is a usage error too, pointing at the subcommand's help", async () => {
    const r = await openclaw(["air", "ctl", "move", "dev1"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing required argument 'x'/);
    expect(r.stderr).toContain("openclaw air ctl move --help");
  });

  it("--help explains --control and its default, and the exit codes", async () => {
    const r = await openclaw(["air", "ctl", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--control <path>/);
    expect(r.stdout).toMatch(/default: --socket PATH \+ "\.ctl", else \$OPENCLAW_AIR_CONTROL/);
    expect(r.stdout).toMatch(/Exit codes: 0 ok, 1 failure, 2 usage/);
  });
});

describe("openclaw air: a running radio", () => {
  it("listens on 0600 sockets under umask 002, answers ctl, reports its own errors, and cleans up", async () => {
    const sock = join(dir, "run", "air.sock");
    const air: ChildProcess = spawn(
      "/bin/sh",
      ["-c", `umask 002 && exec "$0" "$@"`, process.execPath, CLI, "air", "--socket", sock],
      {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("the air did not start")), 10_000);
        air.stdout!.on("data", (d: Buffer) => {
          if (d.toString().includes("air listening on")) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      expect(statSync(sock).mode & 0o777).toBe(0o600);
      expect(statSync(`${sock}.ctl`).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, "run")).mode & 0o777).toBe(0o700);

      const list = await openclaw(["air", "ctl", "--socket", sock, "list"]);
      expect(list).toMatchObject({ code: 0, stdout: "" }); // nobody there yet: no lines

      const missing = await openclaw(["air", "ctl", "--socket", sock, "move", "nope", "1", "2"]);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toMatch(/error: invalid argument: no controller "nope" on the air\n/);
      expect(missing.stderr).toMatch(/→ See `openclaw air ctl --help`/);
    } finally {
      const exited = new Promise((resolve) => air.once("exit", resolve));
      air.kill("SIGTERM");
      await exited;
    }
    expect(existsSync(sock)).toBe(false);
    expect(existsSync(`${sock}.ctl`)).toBe(false);
  });
});

describe("one label, one device", () => {
  it("a second `openclaw sim` with a label in use stops with a clear error; the first keeps working", async () => {
    const first = await startSim(t, "dup1");
    const second = spawnProgram(CLI, {
      name: "dup1-again",
      args: ["sim", "--json-events", "--hci", t.spec("dup1"), "--state-dir", stateDir()],
    });
    const exit = await second.exited;
    expect(exit.code).not.toBe(0);
    expect(second.stderrTail()).toMatch(/the label "dup1" is already in use on unix:/);
    expect(t.air.controllers().filter((c) => c.label === "dup1")).toHaveLength(1);
    expect(await first.command("status")).toBeDefined();
    expect(first.child.running).toBe(true);
  });
});
