/**
 * What `npm publish` would ship: the library, the CLI and the simulator it launches, the protocol
 * documents — and no tests, fixtures, rig or bench. Everything shipped must load from what is shipped,
 * and starting the CLI must load no native addon (node-hid, noble and bleno load when a command needs
 * them). Reads the file list from `npm pack --dry-run` and the built files from dist/.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  bin: Record<string, string>;
  exports: Record<string, string>;
  allowScripts?: Record<string, boolean>;
};

function packedFiles(): string[] {
  // --ignore-scripts: the list, without rebuilding dist/ (the test setup already built it).
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  const [report] = JSON.parse(out) as Array<{ files: Array<{ path: string }> }>;
  return report!.files.map((f) => f.path);
}

describe("the published package", () => {
  const files = packedFiles();
  const shipped = new Set(files);

  it("ships no tests, fixtures, rig or bench", () => {
    const unwanted = files.filter((f) =>
      /^(test|rig|bench)\/|^dist\/(test|rig|bench)\/|\.test\.|test-client\.|session\/testing\./.test(f),
    );
    expect(unwanted).toEqual([]);
  });

  it("ships the CLI, the library entry points, the simulator it launches and the protocol documents", () => {
    const needed = [
      ...Object.values(pkg.bin),
      ...Object.values(pkg.exports),
      "dist/src/cli/main.js",
      "dist/firmware-sim/device/main.js",
      "dist/firmware-sim/air/index.js",
      "hardware/PROTOCOL.md",
      "README.md",
    ].map((p) => normalize(p));
    expect(needed.filter((p) => !shipped.has(p))).toEqual([]);
    expect(files.some((f) => f.startsWith("hardware/vectors/") && f.endsWith(".json"))).toBe(true);
  });

  it("every relative import in a shipped file resolves to a shipped file", () => {
    const broken: string[] = [];
    for (const file of files.filter((f) => f.endsWith(".js") && f.startsWith("dist/"))) {
      const text = readFileSync(join(ROOT, file), "utf8");
      for (const ref of ts.preProcessFile(text, true, true).importedFiles) {
        if (!ref.fileName.startsWith(".")) continue;
        const target = normalize(join(dirname(file), ref.fileName));
        if (!shipped.has(target)) broken.push(`${file} → ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});

describe("install scripts", () => {
  it("allowScripts approves exactly the native addons that have install scripts", () => {
    // `npm install-scripts ls` names any package whose install script is not covered: npm 11 warns
    // about those on every `npm ci`.
    const ls = spawnSync("npm", ["install-scripts", "ls"], { cwd: ROOT, encoding: "utf8" });
    expect(ls.status).toBe(0);
    expect(ls.stdout + ls.stderr).toContain("No packages with unreviewed install scripts");
    const approved = Object.keys(pkg.allowScripts ?? {}).sort();
    expect(approved).toEqual(
      [
        "@abandonware/bleno",
        "@abandonware/bluetooth-hci-socket",
        "@abandonware/noble",
        "node-hid",
        "usb",
      ].sort(),
    );
    for (const name of approved) expect(existsSync(join(ROOT, "node_modules", name)), name).toBe(true);
  });
});

describe("start-up", () => {
  // Records every native addon the process loads (process.dlopen is how Node loads a .node file).
  const probe = `data:text/javascript,${encodeURIComponent(
    'const o = process.dlopen; process.dlopen = function (m, f, ...r) { process.stderr.write("dlopen " + f + "\\n"); return o.call(this, m, f, ...r); };',
  )}`;

  it.each(["--help", "--version", "sim --help", "air --help", "vectors --help"])(
    "`openclaw %s` loads no native addon (node-hid, noble and bleno load only when used)",
    (args) => {
      const r = spawnSync(
        process.execPath,
        ["--import", probe, join(ROOT, "bin/openclaw.js"), ...args.split(" ")],
        {
          encoding: "utf8",
          timeout: 15_000,
        },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr.split("\n").filter((l) => l.startsWith("dlopen"))).toEqual([]);
    },
  );

  it("the probe does see an addon when one loads", () => {
    const r = spawnSync(
      process.execPath,
      ["--import", probe, "-e", 'try { require("@abandonware/bluetooth-hci-socket") } catch {}'],
      { cwd: ROOT, encoding: "utf8", timeout: 15_000 },
    );
    expect(r.stderr).toMatch(/^dlopen .*bluetooth_hci_socket\.node$/m);
  });
});
