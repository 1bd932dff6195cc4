/**
 * `npm ci` on every Node we claim installs without an EBADENGINE warning: each locked package's
 * `engines.node` admits every version our own `engines.node` admits. (@inquirer 8.8 once moved to
 * Node 22.22+ in a minor release and the lockfile followed it onto the Node 20 machines.)
 */
import { readFileSync } from "node:fs";
import semver from "semver";
import { describe, expect, it } from "vitest";

interface LockedPackage {
  engines?: { node?: string } | string[];
  optional?: boolean;
}

const root = new URL("../../", import.meta.url);
const pkg = JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(new URL("package-lock.json", root), "utf8")) as {
  packages: Record<string, LockedPackage>;
};

describe("supported Node versions", () => {
  it("are the ones the README names", () => {
    expect(pkg.engines.node).toBe("^20.19.0 || ^22.13.0 || >=24");
    expect(readFileSync(new URL("README.md", root), "utf8")).toContain("Node.js 20.19+, 22.13+ or 24+");
  });

  it("are admitted by every installed package in the lockfile", () => {
    const narrower: string[] = [];
    for (const [path, locked] of Object.entries(lock.packages)) {
      // Optional platform builds (wasm, other OSes) are skipped by npm where they do not fit.
      if (path === "" || locked.optional === true) continue;
      const range = Array.isArray(locked.engines) ? undefined : locked.engines?.node;
      if (range !== undefined && !semver.subset(pkg.engines.node, range)) narrower.push(`${path}: ${range}`);
    }
    expect(narrower).toEqual([]);
  });
});
