/**
 * What a user of the package imports by name resolves to the built files (the global setup builds dist/),
 * and importing the library loads no Bluetooth stack.
 */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";

function run(code: string): string {
  return execFileSync(process.execPath, ["--input-type=module", "-e", code], { encoding: "utf8" }).trim();
}

describe("package entry points", () => {
  it("openclaw-pair exposes the protocol, transport and hci without loading noble or bleno", () => {
    const out = run(`
      import { createRequire } from "node:module";
      const m = await import("openclaw-pair");
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((p) => /noble|bleno/.test(p));
      console.log(JSON.stringify({ acc: typeof m.Accessory, code: typeof m.generateCode, useHci: typeof m.hci.useHci,
        channel: typeof m.transport.MessageChannel, err: typeof m.OpenClawError, loaded }));
    `);
    expect(JSON.parse(out)).toEqual({
      acc: "function",
      code: "function",
      useHci: "function",
      channel: "function",
      err: "function",
      loaded: [],
    });
  });

  it("openclaw-pair/air exports the virtual radio", () => {
    expect(run(`const { Air } = await import("openclaw-pair/air"); console.log(typeof Air);`)).toBe(
      "function",
    );
  });
});
