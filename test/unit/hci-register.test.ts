/**
 * useHci() and the OPENCLAW_HCI preload, each in a fresh Node process (the module cache they change is
 * per process).
 */
import { execFile } from "node:child_process";
import { describe, expect, it } from "vitest";
import { HCI_PRELOAD, ROOT } from "../../rig/proc.js";

const INSTALL = `${ROOT}dist/src/radio/hci/install.js`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs an ESM snippet in a new node process from the repository root. */
function node(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const merged: NodeJS.ProcessEnv = { ...process.env, OPENCLAW_HCI: undefined, ...env };
  for (const k of Object.keys(merged)) if (merged[k] === undefined) delete merged[k];
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: ROOT, env: merged, timeout: 10_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const snippet = (code: string): string[] => ["--input-type=module", "-e", code];

/** Prints what noble and bleno would get for their socket class. */
const PROBE = `
  import { createRequire } from "node:module";
  const req = createRequire(process.cwd() + "/x.js");
  const out = {};
  for (const stack of ["@abandonware/noble", "@abandonware/bleno"]) {
    const r = createRequire(req.resolve(stack + "/package.json"));
    const S = r("@abandonware/bluetooth-hci-socket");
    const s = new S();
    out[stack] = { target: s.target ?? null, up: typeof s.isDevUp === "function" };
  }
  console.log(JSON.stringify(out));
`;

describe("useHci", () => {
  it("gives noble and bleno the stream socket, and accepts the same choice twice", async () => {
    const r = await node(
      snippet(`
        import { useHci, hciTargets } from ${JSON.stringify(INSTALL)};
        useHci("unix:/tmp/x.sock?label=a");
        useHci("unix:/tmp/x.sock?label=a");
        ${PROBE}
      `),
    );
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({
      "@abandonware/noble": { target: "unix:/tmp/x.sock?label=a", up: true },
      "@abandonware/bleno": { target: "unix:/tmp/x.sock?label=a", up: true },
    });
  });

  it("lets a later choice replace an earlier one while the stacks are not loaded yet", async () => {
    const r = await node(
      snippet(`
        import { useHci } from ${JSON.stringify(INSTALL)};
        useHci("unix:/tmp/x.sock?label=a");
        useHci("tcp:127.0.0.1:4500?label=b");
        ${PROBE}
      `),
    );
    expect(JSON.parse(r.stdout)["@abandonware/noble"].target).toBe("tcp:127.0.0.1:4500?label=b");
  });

  it("refuses clearly once noble was loaded", async () => {
    const r = await node(
      snippet(`
        import { createRequire } from "node:module";
        import { useHci } from ${JSON.stringify(INSTALL)};
        useHci("unix:/tmp/x.sock");
        createRequire(process.cwd() + "/x.js")("@abandonware/noble");
        try { useHci("unix:/tmp/other.sock"); console.log("no error"); }
        catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
        process.exit(0);
      `),
    );
    const out = JSON.parse(r.stdout) as { code: string; message: string };
    expect(out.code).toBe("ADAPTER_UNAVAILABLE");
    expect(out.message).toMatch(/noble or bleno was loaded before the HCI transport was chosen.*useHci\(\)/);
  });

  it("leaves a preload's choice alone when no spec is given", async () => {
    const r = await node(
      [
        "--require",
        HCI_PRELOAD,
        ...snippet(`
        import { useHci } from ${JSON.stringify(INSTALL)};
        useHci(undefined);
        ${PROBE}
      `),
      ],
      { OPENCLAW_HCI: "unix:/tmp/pre.sock" },
    );
    expect(JSON.parse(r.stdout)["@abandonware/bleno"].target).toBe("unix:/tmp/pre.sock");
  });
});

describe("openclaw-pair/hci-register", () => {
  it("loads by package name with --require and with --import", async () => {
    for (const how of ["--require", "--import"]) {
      const r = await node([how, "openclaw-pair/hci-register", ...snippet(PROBE)], {
        OPENCLAW_HCI: "unix:/tmp/y.sock?label=z",
      });
      expect(r.stderr, how).not.toMatch(/Error|Warning/);
      expect(JSON.parse(r.stdout)["@abandonware/noble"].target, how).toBe("unix:/tmp/y.sock?label=z");
    }
  });

  it("does nothing when OPENCLAW_HCI is unset (the real adapter)", async () => {
    const r = await node([
      "--require",
      "openclaw-pair/hci-register",
      ...snippet(`
        import { hciTargets } from ${JSON.stringify(INSTALL)};
        console.log(JSON.stringify(hciTargets().map((t) => t.spec ?? null)));
      `),
    ]);
    const specs = JSON.parse(r.stdout) as unknown[];
    expect(specs.length).toBeGreaterThan(0);
    expect(specs.every((s) => s === null)).toBe(true);
  });

  it("stops with a one-line message, not a stack trace, on a bad OPENCLAW_HCI", async () => {
    const r = await node(["--require", "openclaw-pair/hci-register", "-e", "console.log('ran')"], {
      OPENCLAW_HCI: "bluetooth0",
    });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(
      /^openclaw-pair\/hci-register: OPENCLAW_HCI: invalid argument: HCI spec "bluetooth0"/,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
