/**
 * `--state-dir` as people really pass it: a directory that exists with other permissions (never
 * chmodded: refused with the reason, as ssh refuses a world-readable key), one that another sim already
 * uses (STATE_LOCKED naming its pid), and paths that cannot work (a file, a directory where device.json
 * belongs, a place that cannot be created). Each ends quickly with the path and `--state-dir` named.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { TestAir } from "../../rig/radio.js";
import { runSimToExit, startSim, stateDir, useSimAir } from "./sim-harness.js";

let t: TestAir;
useSimAir((air) => {
  t = air;
});

const scratch = mkdtempSync(join(tmpdir(), "ocp-statedir-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The refusal a person sees: not started, exit non-zero, the path and --state-dir on stderr. */
function expectRefused(run: Awaited<ReturnType<typeof runSimToExit>>, path: string, code: string): void {
  expect(run.code, run.stderr).not.toBe(0);
  expect(run.events.some((e) => e.type === "ready")).toBe(false);
  // A catalogue error, as every error event is: code, message, remedy and its typed details.
  expect(run.events.find((e) => e.type === "error")).toMatchObject({
    code,
    remedy: expect.stringContaining("--state-dir"),
    details: expect.objectContaining({ path: expect.any(String) }),
  });
  expect(run.stderr).toContain(path);
  expect(run.stderr).toContain("--state-dir");
}

describe("openclaw sim --state-dir", () => {
  for (const mode of [0o755, 0o1777]) {
    it(`refuses an existing directory others can reach (mode ${mode.toString(8)}) and leaves its mode alone`, async () => {
      const dir = join(scratch, `shared-${mode.toString(8)}`);
      mkdirSync(dir);
      chmodSync(dir, mode);
      const run = await runSimToExit(t, `dev-mode-${mode.toString(8)}`, ["--state-dir", dir]);
      expectRefused(run, dir, "STORAGE");
      expect(run.stderr).toMatch(/other users can reach it/);
      expect(statSync(dir).mode & 0o7777).toBe(mode);
    }, 30_000);
  }

  it("a second sim on the same state directory is refused with STATE_LOCKED naming the first one's pid", async () => {
    const dir = stateDir();
    const first = await startSim(t, "dev-lock-1", { dir });
    const second = await runSimToExit(t, "dev-lock-2", ["--state-dir", dir]);
    expectRefused(second, dir, "STATE_LOCKED");
    expect(second.stderr).toContain(`pid ${first.child.pid}`);
    // The first one is unharmed.
    expect(await first.command("status")).toMatchObject({ bonds: 0 });
    // Once it is gone (even by SIGKILL) the directory can be used again.
    process.kill(-first.child.pid, "SIGKILL");
    await first.child.exited;
    const third = await startSim(t, "dev-lock-3", { dir, expectWindow: true });
    expect(third.ready.id).toBe(first.ready.id);
  }, 60_000);

  it("a file where the directory should be, a directory where device.json belongs, an impossible path", async () => {
    const file = join(scratch, "a-file");
    writeFileSync(file, "not a directory");
    expectRefused(
      await runSimToExit(t, "dev-file", ["--state-dir", file], { timeoutMs: 10_000 }),
      file,
      "STORAGE",
    );

    const dir = join(scratch, "dir-in-the-way");
    mkdirSync(join(dir, "device.json"), { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    expectRefused(
      await runSimToExit(t, "dev-dirfile", ["--state-dir", dir], { timeoutMs: 10_000 }),
      join(dir, "device.json"),
      "STORAGE",
    );

    const proc = "/proc/openclaw-x/state";
    expectRefused(
      await runSimToExit(t, "dev-proc", ["--state-dir", proc], { timeoutMs: 10_000 }),
      proc,
      "STORAGE",
    );
  }, 60_000);
});
