/**
 * The daemon's logger never writes a pairing code, a key or a tag, wherever in a log object it sits,
 * at any level: read back from the log file the real logger wrote at debug level.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createDaemonLogger, REDACTED, scrubSecrets } from "../../src/daemon/process/log.js";
import { OpenClawError } from "../../src/protocol/errors.js";

const KEY = "a1b2c3d4".repeat(8);
const TAG = "feedface0badcafe";
const CODE = "482913";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("log redaction", () => {
  it("replaces secret-named fields and bytes, keeps catalogue error codes", () => {
    const out = scrubSecrets({
      code: CODE,
      params: { code: CODE, device: "dev1" },
      error: { code: "WRONG_CODE", details: { attemptsLeft: 3 } },
      errorCode: "LOCKED_OUT",
      bond: { tagKey: KEY, controllerStaticPrivateKey: KEY, accessoryStaticPublicKey: KEY, deviceId: "0011" },
      advert: { tag: TAG, noncePrefix: "abcd", windowOpen: true },
      passkey: CODE,
      sessionSecret: KEY,
      raw: Uint8Array.from([1, 2, 3]),
      list: [{ key: KEY }],
    }) as Record<string, Record<string, unknown>>;
    expect(out["code"]).toBe(REDACTED);
    expect(out["params"]).toEqual({ code: REDACTED, device: "dev1" });
    expect(out["error"]).toEqual({ code: "WRONG_CODE", details: { attemptsLeft: 3 } });
    expect(out["errorCode"]).toBe("LOCKED_OUT");
    expect(out["bond"]).toEqual({
      tagKey: REDACTED,
      controllerStaticPrivateKey: REDACTED,
      accessoryStaticPublicKey: REDACTED,
      deviceId: "0011",
    });
    expect(out["advert"]).toEqual({ tag: REDACTED, noncePrefix: REDACTED, windowOpen: true });
    expect(JSON.stringify(out)).not.toMatch(new RegExp(`${CODE}|${KEY}|${TAG}`));
  });

  it("writes a 0600 log file at debug level with none of them in it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ocp-log-"));
    dirs.push(dir);
    const file = join(dir, "daemon.log");
    const log = createDaemonLogger({ level: "debug", file, stderr: false });
    log.debug({ params: { code: CODE } }, "request");
    log.info({ bond: { record: { tagKey: KEY, controllerStaticKey: { privateKey: KEY } } } }, "bond");
    log.warn({ advert: { tag: TAG }, rssi: -40 }, "advert");
    log.error({ err: Object.assign(new Error("boom"), { passkey: CODE, code: "INTERNAL" }) }, "failed");
    log.error({ error: new OpenClawError("WRONG_CODE", { attemptsLeft: 2 }).toJSON() }, "pairing failed");
    log.debug({ nested: { deeper: { stillDeeper: { pairingCode: CODE, key: KEY } } } }, "deep");
    log.flush();
    const text = readFileSync(file, "utf8");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(text.split("\n").filter(Boolean)).toHaveLength(6);
    expect(text).not.toContain(CODE);
    expect(text).not.toContain(KEY);
    expect(text).not.toContain(TAG);
    expect(text).toContain('"code":"WRONG_CODE"');
    expect(text).toContain('"rssi":-40');
  });
});
