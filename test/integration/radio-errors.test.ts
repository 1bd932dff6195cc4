/**
 * What a person sees when the radio cannot be used (issue 8 item 9): the compiled CLI, as a user runs
 * it, says once what happened and what to do, with no Node warning line and no errno soup, and at once
 * (not after the power-on timeout).
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../../rig/proc.js";

const dir = mkdtempSync(join(tmpdir(), "ocp-radio-errors-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function sim(hci: string): Promise<Run> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [`${ROOT}bin/openclaw.js`, "sim", "--hci", hci, "--state-dir", join(dir, `state-${Math.random()}`)],
      { cwd: ROOT, timeout: 15_000, env: { ...process.env, OPENCLAW_HCI: undefined } as NodeJS.ProcessEnv },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
        resolve({ code, stdout, stderr, ms: Date.now() - t0 });
      },
    );
  });
}

/** Exactly one error line and one remedy line, nothing else (no warning, no stack). */
function expectOneError(r: Run): { error: string; remedy: string } {
  expect(r.code, r.stderr).not.toBe(0);
  expect(r.stderr).not.toMatch(/Warning|\(node:\d+\)|\n\s+at |EAFNOSUPPORT, Address family/);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines, r.stderr).toHaveLength(2);
  return { error: lines[0]!, remedy: lines[1]! };
}

describe("openclaw sim on a radio it cannot use", () => {
  it("--hci hci7: says there is no such adapter (or no Bluetooth at all), at once", async () => {
    const r = await sim("hci7");
    const { error, remedy } = expectOneError(r);
    expect(error).toMatch(
      /^error: no usable Bluetooth adapter: (this system has no Bluetooth support|there is no adapter hci7|permission denied opening hci7)/,
    );
    expect(remedy).toMatch(/openclaw air/);
    expect(r.ms).toBeLessThan(8000); // not the 10 s power-on timeout
  });

  it("--hci unix: to a missing socket: says there is none and how to start the radio", async () => {
    const path = join(dir, "nobody.sock");
    const { error, remedy } = expectOneError(await sim(`unix:${path}`));
    expect(error).toContain(`there is no socket at ${path}`);
    expect(error).toContain(`\`openclaw air --socket ${path}\``);
    expect(remedy).toMatch(/^\s+→ Start the virtual radio first \(`openclaw air --socket PATH`\)/);
  });

  it("--hci unix: to a regular file or a directory: says it is not a socket", async () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "not a socket");
    const folder = join(dir, "a-dir");
    mkdirSync(folder);
    for (const [path, what] of [
      [file, "a regular file"],
      [folder, "a directory"],
    ] as const) {
      const { error } = expectOneError(await sim(`unix:${path}`));
      expect(error).toContain(`${path} is ${what}, not a socket`);
      expect(error).toContain("openclaw air");
    }
  });
});
