/** The daemon's config file: defaults, units, and a refusal that names the file and the field. */
import { describe, expect, it } from "vitest";
import { CONFIG_DEFAULTS, parseConfig } from "../../src/daemon/process/config.js";
import { OpenClawError } from "../../src/protocol/errors.js";

function refusal(text: string): OpenClawError {
  try {
    parseConfig("/home/a/.config/openclaw/config.json", text);
  } catch (err) {
    if (err instanceof OpenClawError) return err;
    throw err;
  }
  throw new Error("expected a refusal");
}

describe("daemon config file", () => {
  it("an empty file means the defaults", () => {
    expect(parseConfig("f", "{}")).toEqual({
      hci: undefined,
      idleTimeoutMs: CONFIG_DEFAULTS.idleTimeoutMs,
      sessionIdleMs: CONFIG_DEFAULTS.sessionIdleMs,
      logLevel: "info",
      name: undefined,
    });
  });

  it("reads seconds into milliseconds", () => {
    const c = parseConfig(
      "f",
      JSON.stringify({
        hci: "unix:/tmp/a.sock",
        idleTimeoutSeconds: 120,
        sessionIdleSeconds: 10,
        logLevel: "debug",
      }),
    );
    expect(c).toMatchObject({
      hci: "unix:/tmp/a.sock",
      idleTimeoutMs: 120_000,
      sessionIdleMs: 10_000,
      logLevel: "debug",
    });
  });

  it("refuses bad JSON, unknown keys and out-of-range values with the file and field named", () => {
    expect(refusal("{").message).toMatch(/config\.json: not valid JSON/);
    expect(refusal('{"hcii":"hci0"}').message).toMatch(/config\.json: \(root\)|hcii/);
    const e = refusal('{"sessionIdleSeconds":1}');
    expect(e.code).toBe("INVALID_ARGUMENT");
    expect(e.message).toMatch(/sessionIdleSeconds/);
    expect(refusal('{"logLevel":"loud"}').message).toMatch(/logLevel/);
  });
});
