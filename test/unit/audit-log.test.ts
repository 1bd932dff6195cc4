import { appendFile, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock/index.js";
import { type AuditEventInput, AuditLog, readAudit } from "../../src/store/audit-log.js";
import { type OpenClawPaths, resolvePaths } from "../../src/store/paths.js";
import { rejection } from "../helpers/errors.js";

let root: string;
let paths: OpenClawPaths;
let clock: ManualClock;
const dev = "0011223344556677";

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "audit-"));
  paths = resolvePaths({ stateDir: join(root, "state"), env: {} });
  clock = new ManualClock(0, Date.UTC(2026, 4, 2, 10, 30));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const lines = async () => (await readFile(paths.auditFile, "utf8")).split("\n").filter((l) => l !== "");

describe("audit log", () => {
  it("appends one JSON line per event with the wall time, 0600", async () => {
    const log = await AuditLog.open(paths, { clock });
    await log.append({ type: "pair-attempt", deviceId: dev, deviceName: "OpenClaw-6677" });
    clock.advance(1500);
    await log.append({ type: "pair-failed", deviceId: dev, code: "WRONG_CODE" });
    await log.append({ type: "paired", deviceId: dev, deviceName: "OpenClaw-6677", role: "admin" });
    await log.append({ type: "removed", deviceId: dev, where: "local", outcome: "removed" });
    await log.close();
    expect((await stat(paths.auditFile)).mode & 0o777).toBe(0o600);
    const written = (await lines()).map((l) => JSON.parse(l));
    expect(written[0]).toEqual({
      type: "pair-attempt",
      at: "2026-05-02T10:30:00.000Z",
      deviceId: dev,
      deviceName: "OpenClaw-6677",
    });
    expect(written[1]).toEqual({
      type: "pair-failed",
      at: "2026-05-02T10:30:01.500Z",
      deviceId: dev,
      code: "WRONG_CODE",
    });
    expect(written.map((e) => e.type)).toEqual(["pair-attempt", "pair-failed", "paired", "removed"]);
    // A reopened log appends after what is there.
    const again = await AuditLog.open(paths, { clock });
    await again.append({ type: "verified", deviceId: dev });
    await again.close();
    expect((await readAudit(paths)).events.map((e) => e.type)).toEqual([
      "pair-attempt",
      "pair-failed",
      "paired",
      "removed",
      "verified",
    ]);
  });

  it("refuses anything outside the closed set of events, and writes nothing for it", async () => {
    const log = await AuditLog.open(paths, { clock });
    const bad = [
      { type: "verified", deviceId: dev, code: "123456" }, // no code field on a success
      { type: "pair-failed", deviceId: dev, code: "123456" }, // a pairing code is not a catalogue code
      { type: "pair-attempt", deviceId: dev, pairingCode: "K7Q2-9ZXM" },
      { type: "rotated", deviceId: dev, key: "ab".repeat(32) },
      { type: "shell", deviceId: dev },
      { type: "verified", deviceId: "AB".repeat(8) }, // ids are lower-case hex, 16 digits
    ];
    for (const e of bad) {
      const err = await rejection(log.append(e as unknown as AuditEventInput));
      expect(err.code).toBe("INTERNAL");
      expect(err.message).not.toMatch(/123456|K7Q2|abab/);
    }
    await log.append({ type: "verified", deviceId: dev });
    await log.close();
    expect(await lines()).toHaveLength(1);
  });

  it("no extra field gets through, whatever its name or value (property)", async () => {
    const log = await AuditLog.open(paths, { clock });
    const keys = ["code", "key", "tag", "secret", "privateKey", "pin", "x"];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...keys), fc.string({ minLength: 1 }), async (k, v) => {
        const err = await rejection(
          log.append({ type: "verified", deviceId: dev, [k]: v } as AuditEventInput),
        );
        expect(err.code).toBe("INTERNAL");
        expect(err.message).not.toContain(v.length > 3 ? v : "\u0000");
      }),
      { numRuns: 100 },
    );
    await log.close();
    expect(await readdir(paths.stateDir)).toEqual(["audit.jsonl"]);
    expect(await readFile(paths.auditFile, "utf8")).toBe("");
  });

  it("rotates at maxBytes and keeps N old files; reading returns the kept events oldest first", async () => {
    const log = await AuditLog.open(paths, { clock, maxBytes: 600, keep: 3 });
    for (let i = 0; i < 60; i++) {
      clock.advance(1000);
      await log.append({ type: "verified", deviceId: dev, deviceName: `n${i}` });
    }
    await log.close();
    const files = (await readdir(paths.stateDir)).sort();
    expect(files).toEqual(["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2", "audit.jsonl.3"]);
    for (const f of files) expect((await stat(join(paths.stateDir, f))).size).toBeLessThanOrEqual(600);
    const { events, problems } = await readAudit(paths);
    expect(problems).toEqual([]);
    const names = events.map((e) => Number(e.deviceName?.slice(1)));
    expect(names.at(-1)).toBe(59);
    // Contiguous: nothing lost inside the kept range.
    expect(names).toEqual(names.map((_, i) => names[0]! + i));
  });

  it("tolerates a torn last line (kill -9 mid-append): reported by readAudit, sealed on the next open", async () => {
    const log = await AuditLog.open(paths, { clock });
    await log.append({ type: "pair-attempt", deviceId: dev });
    await log.close();
    await appendFile(paths.auditFile, '{"type":"paired","at":"2026-05-02T1');
    const before = await readAudit(paths);
    expect(before.events).toHaveLength(1);
    expect(before.problems).toEqual([{ file: paths.auditFile, line: 2, reason: "not valid JSON" }]);

    const reopened = await AuditLog.open(paths, { clock });
    await reopened.append({ type: "paired", deviceId: dev, role: "admin" });
    await reopened.close();
    const after = await readAudit(paths);
    expect(after.events.map((e) => e.type)).toEqual(["pair-attempt", "paired"]);
    expect(after.problems).toEqual([{ file: paths.auditFile, line: 2, reason: "not valid JSON" }]);
  });
});
