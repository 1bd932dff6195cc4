/** docs/control-api.md documents every method and notification the daemon serves, and no other. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { API_VERSION, METHOD_NAMES, NOTIFICATION_NAMES } from "../../src/daemon/rpc/api.js";

const doc = readFileSync(new URL("../../docs/control-api.md", import.meta.url), "utf8");

describe("docs/control-api.md", () => {
  it("has a section for every method, and no section for a method that does not exist", () => {
    const documented = [...doc.matchAll(/^### `([a-z.]+)`$/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...METHOD_NAMES].sort());
  });

  it("lists every notification", () => {
    for (const n of NOTIFICATION_NAMES) expect(doc).toContain(`| \`${n}\` |`);
  });

  it("states the API version", () => {
    expect(doc).toContain(`\`API_VERSION\` is **${API_VERSION}**`);
  });
});
