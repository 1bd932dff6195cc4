/**
 * `openclaw sim` with no options on a machine without an adapter, as a new user runs it — twice. The
 * first brings up the virtual radio and says plainly that the radio lives in it (with a control socket
 * for `openclaw air ctl`); a second one without options is the same device, so it is refused naming
 * --state-dir; one with its own --state-dir joins the radio as a different device and is told it goes
 * when the first quits — which the first says too when it does.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { type Child, killAll, liveChildren, ROOT, spawnProgram } from "../../rig/proc.js";
import type { SimChildEvent } from "./sim-harness.js";

const run = promisify(execFile);
const home = mkdtempSync(join(tmpdir(), "ocp-host-"));
// A private XDG world: no real adapter, no OPENCLAW_HCI, the default state and runtime dirs in here.
const env = {
  XDG_STATE_HOME: join(home, "state"),
  XDG_RUNTIME_DIR: join(home, "run"),
  OPENCLAW_HCI: undefined,
};

afterEach(async () => {
  await killAll();
});
afterAll(() => {
  rmSync(home, { recursive: true, force: true });
  expect(liveChildren()).toHaveLength(0);
});

function sim(name: string, args: string[] = []): Child<SimChildEvent> {
  return spawnProgram<SimChildEvent>(`${ROOT}bin/openclaw.js`, {
    name,
    args: ["sim", "--json-events", ...args],
    env,
  });
}

async function exitWithin(c: Child<SimChildEvent>, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([
    c.exited,
    new Promise<null>((r) => {
      timer = setTimeout(() => r(null), ms);
    }),
  ]);
  clearTimeout(timer);
  return exit === null ? null : exit.code;
}

describe("openclaw sim without options, twice", () => {
  it("the first hosts the radio and says so; a second is refused; one with its own --state-dir joins", async () => {
    mkdirPrivate(env.XDG_RUNTIME_DIR);
    const first = sim("first");
    const ready = await first.next("ready", 15_000);
    const said = first.stderrTail();
    expect(said).toMatch(/this sim runs the virtual radio at unix:/);
    expect(said).toMatch(/the radio lives in this sim: when it quits, every program on the radio loses it/);
    const control = /openclaw air ctl --control (\S+) list/.exec(said)?.[1];
    expect(control).toBeDefined();

    // The radio it hosts answers `air ctl`.
    const listed = await run(process.execPath, [
      `${ROOT}bin/openclaw.js`,
      "air",
      "ctl",
      "--control",
      control!,
      "list",
    ]);
    expect(listed.stdout).toContain("sim-");

    // The same command again is the same device: refused, naming the first one's pid and --state-dir.
    const again = sim("again");
    expect(await exitWithin(again, 15_000)).not.toBe(0);
    expect(again.events.find((e) => e.type === "error")).toMatchObject({ code: "STATE_LOCKED" });
    expect(again.stderrTail()).toContain(`pid ${first.pid}`);
    expect(again.stderrTail()).toContain("--state-dir");
    expect(again.stderrTail()).not.toMatch(/joining/); // refused before it touched the radio

    // With its own state directory it is another device on the same radio, and is told whose radio it is.
    const other = sim("other", ["--state-dir", join(home, "other")]);
    const otherReady = await other.next("ready", 15_000);
    expect(otherReady.id).not.toBe(ready.id);
    expect(otherReady.address).not.toBe(ready.address);
    expect(other.stderrTail()).toMatch(/joining the virtual radio another sim runs.*\n.*loses its radio/);

    // The host quits: it says who loses the radio, and the joined sim stops with ADAPTER_UNAVAILABLE.
    first.send({ cmd: "quit" });
    expect(await exitWithin(first, 10_000)).toBe(0);
    expect(first.stderrTail()).toMatch(/closing the virtual radio: 1 other program on it loses the radio/);
    expect(await exitWithin(other, 10_000)).not.toBe(0);
    expect(other.events.find((e) => e.type === "error")).toMatchObject({ code: "ADAPTER_UNAVAILABLE" });
  }, 90_000);
});

function mkdirPrivate(dir: string): void {
  // XDG_RUNTIME_DIR is made by the login manager, 0700; stand in for it.
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { mode: 0o700, recursive: true });
}
