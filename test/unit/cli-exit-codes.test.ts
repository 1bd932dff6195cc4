/**
 * What a person or a script sees when the built CLI ends (`node bin/openclaw.js …`, compiled by the
 * test setup): 0 ok, 1 the command failed, 2 a usage error; one line of error, one line of remedy, and
 * the help the remedy points at is the subcommand's own.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = join(ROOT, "bin/openclaw.js");
const tmp = mkdtempSync(join(tmpdir(), "ocp-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function openclaw(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: "utf8",
    timeout: 15_000,
    // Nothing here may touch the user's state or radio, even on a bug.
    env: { ...process.env, XDG_STATE_HOME: tmp, XDG_RUNTIME_DIR: tmp, NO_COLOR: "1", FORCE_COLOR: "0" },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("exit status 0", () => {
  it("--version prints the package version", () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    const r = openclaw("--version");
    expect(r).toMatchObject({ status: 0, stdout: `${version}\n` });
  });

  it("--help lists the commands and documents the exit status", () => {
    const r = openclaw("--help");
    expect(r.status).toBe(0);
    for (const c of ["start", "sim", "air", "vectors"])
      expect(r.stdout).toMatch(new RegExp(`^  ${c}\\b`, "m"));
    expect(r.stdout).toContain("Exit status: 0 ok, 1 the command failed, 2 a usage error");
  });

  it("a subcommand's --help, including start's", () => {
    expect(openclaw("sim", "--help")).toMatchObject({
      status: 0,
      stdout: expect.stringContaining("--state-dir"),
    });
    expect(openclaw("start", "--help")).toMatchObject({
      status: 0,
      stdout: expect.stringContaining("Usage: openclaw start"),
    });
  });
});

describe("exit status 2: usage", () => {
  it.each([
    [["frobnicate"], "error: unknown command 'frobnicate'", "(run `openclaw --help` for usage)"],
    [["sim", "--bogus"], "error: unknown option '--bogus'", "(run `openclaw sim --help` for usage)"],
    [
      ["vectors", "check"],
      "error: missing required argument 'files'",
      "(run `openclaw vectors check --help` for usage)",
    ],
    [
      ["air", "ctl", "--bogus"],
      "error: unknown option '--bogus'",
      "(run `openclaw air ctl --help` for usage)",
    ],
  ])("commander's own: openclaw %j", (args, error, hint) => {
    const r = openclaw(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(error);
    expect(r.stderr).toContain(hint);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("no command at all shows the help, as a usage error", () => {
    const r = openclaw();
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("Usage: openclaw");
  });

  it.each([
    [["sim", "--slots", "0"], "--slots must be a whole number from 1 to 32", "sim"],
    [["sim", "--ttl", "soon"], '--ttl "soon" is not a duration', "sim"],
    [["sim", "--format", "hex"], 'code format must be "passkey" or "long"', "sim"],
  ])("INVALID_ARGUMENT: openclaw %j names the subcommand's help", (args, detail, command) => {
    const r = openclaw(...args);
    expect(r.status).toBe(2);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(`error: invalid argument: ${detail}`);
    expect(lines[1]).toBe(`  → See \`openclaw ${command} --help\` for the accepted values.`);
  });

  it("a vector file that is not there", () => {
    const r = openclaw("vectors", "check", join(tmp, "missing.json"));
    expect(r.status).toBe(2);
    expect(r.stdout).toContain("no such file");
  });
});

describe("exit status 1: the command failed", () => {
  it("a vector that does not hold", () => {
    const file = join(tmp, "wrong.json");
    writeFileSync(
      file,
      JSON.stringify({
        format: "openclaw-vectors/1",
        kind: "codes",
        description: "one wrong on purpose",
        vectors: [
          {
            name: "wrong on purpose",
            type: "normalise",
            format: "passkey",
            input: "123 456",
            canonical: "654321",
          },
        ],
      }),
    );
    const r = openclaw("vectors", "check", file);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("wrong on purpose");
    expect(r.stdout.trim().split("\n").at(-1)).toBe("0 passed, 1 failed, 0 skipped");
  });
});
