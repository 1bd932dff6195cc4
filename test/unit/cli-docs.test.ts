/** docs/cli.md's troubleshooting table names every catalogue error with its current remedy. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CATALOGUE, ERROR_CODES } from "../../src/protocol/errors.js";

const doc = readFileSync(new URL("../../docs/cli.md", import.meta.url), "utf8");

describe("docs/cli.md troubleshooting", () => {
  it("has a row for every error code, with the remedy the CLI prints", () => {
    for (const code of ERROR_CODES) {
      const row = doc.split("\n").find((l) => l.startsWith(`| \`${code}\` |`));
      expect(row, `no row for ${code}`).toBeDefined();
      const remedy = CATALOGUE[code].remedy;
      if (typeof remedy === "string") expect(row).toContain(remedy.replace(/\|/g, "\\|"));
    }
  });
});
