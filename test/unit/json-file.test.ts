/**
 * src/store's JSON state file on its own terms: atomic writes (0600), the temp files a killed writer
 * leaves removed at load, damage quarantined (moved or copied aside, never deleted), a newer format
 * refused untouched, and a value that would not read back refused before anything is written.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { JsonStateFile, type Quarantine, type WritePoint } from "../../src/store/json-file.js";

const Doc = z.object({ version: z.literal(1), n: z.number().int() }).strict();

let dir: string;
beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), "json-file-")), "state");
  await mkdir(dir, { mode: 0o700 });
});
afterEach(async () => {
  await rm(join(dir, ".."), { recursive: true, force: true });
});

const wall = () => Date.UTC(2026, 0, 2, 3, 4, 5, 6);

describe("JsonStateFile", () => {
  it("writes 0600 files that read back, leaving nothing else in the directory", async () => {
    const f = new JsonStateFile(dir, "doc.json", Doc, { formatVersion: 1 });
    expect(await f.load()).toBeUndefined();
    await f.save({ version: 1, n: 5 });
    expect(await f.load()).toEqual({ version: 1, n: 5 });
    expect((await stat(f.path)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(["doc.json"]);
  });

  it("a crash after the temp file was written leaves the old content, and the temp is gone at the next load", async () => {
    const f = new JsonStateFile(dir, "doc.json", Doc);
    await f.save({ version: 1, n: 1 });
    const points: WritePoint[] = [];
    const crashing = new JsonStateFile(dir, "doc.json", Doc, {
      onWritePoint: (p) => {
        points.push(p);
        if (p === "temp-written") throw new Error("power cut");
      },
    });
    await expect(crashing.save({ version: 1, n: 2 })).rejects.toThrow("power cut");
    expect(points).toEqual(["temp-written"]);
    const left = (await readdir(dir)).filter((n) => n !== "doc.json");
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(/^doc\.json\.\d+$/);
    expect(JSON.parse(await readFile(join(dir, left[0]!), "utf8"))).toEqual({ version: 1, n: 2 });
    expect(await f.load()).toEqual({ version: 1, n: 1 });
    expect(await readdir(dir)).toEqual(["doc.json"]);
  });

  it("reports both write points in order, the rename before the directory fsync", async () => {
    const points: WritePoint[] = [];
    const f = new JsonStateFile(dir, "doc.json", Doc, { onWritePoint: (p) => void points.push(p) });
    await f.save({ version: 1, n: 3 });
    expect(points).toEqual(["temp-written", "renamed"]);
  });

  it("quarantines a file that does not parse or validate, with the reason and never the content", async () => {
    const moved: Quarantine[] = [];
    const f = new JsonStateFile(dir, "doc.json", Doc, {
      onQuarantine: (q) => moved.push(q),
      wallClock: wall,
    });
    await writeFile(f.path, "{ secret-ish");
    expect(await f.load()).toBeUndefined();
    await writeFile(f.path, JSON.stringify({ version: 1, n: "x" }));
    expect(await f.load()).toBeUndefined();
    expect(moved.map((q) => q.reason)).toEqual(["not valid JSON", "does not match the expected shape at n"]);
    expect(moved[0]!.quarantinedAs).toBe(`${f.path}.corrupt-2026-01-02T03-04-05-006Z`);
    expect(moved[1]!.quarantinedAs).not.toBe(moved[0]!.quarantinedAs);
    expect((await readdir(dir)).sort()).toEqual(
      moved.map((q) => q.quarantinedAs.slice(dir.length + 1)).sort(),
    );
  });

  it("refuses a newer format with STATE_TOO_NEW and leaves the file alone", async () => {
    const f = new JsonStateFile(dir, "doc.json", Doc, { formatVersion: 1 });
    await writeFile(f.path, JSON.stringify({ version: 2, n: 1, future: true }));
    await expect(f.load()).rejects.toMatchObject({
      code: "STATE_TOO_NEW",
      details: { path: f.path, version: 2, supported: 1 },
    });
    expect(JSON.parse(await readFile(f.path, "utf8"))).toMatchObject({ future: true });
  });

  it("inspect looks without touching: no quarantine, no temp cleanup", async () => {
    const f = new JsonStateFile(dir, "doc.json", Doc);
    await writeFile(f.path, "nope");
    await writeFile(join(dir, "doc.json.123"), "{");
    expect(await f.inspect()).toEqual({ state: "corrupt", reason: "not valid JSON" });
    expect((await readdir(dir)).sort()).toEqual(["doc.json", "doc.json.123"]);
  });

  it("preserve copies the file aside (0600) and leaves it in place", async () => {
    const f = new JsonStateFile(dir, "doc.json", Doc, { wallClock: wall });
    await f.save({ version: 1, n: 9 });
    const q = await f.preserve("its second section is damaged");
    expect(await f.load()).toEqual({ version: 1, n: 9 });
    expect(JSON.parse(await readFile(q.quarantinedAs, "utf8"))).toEqual({ version: 1, n: 9 });
    expect((await stat(q.quarantinedAs)).mode & 0o777).toBe(0o600);
  });

  it("refuses to write a value its own schema rejects: INTERNAL, nothing written", async () => {
    const f = new JsonStateFile(dir, "doc.json", Doc);
    await expect(f.save({ version: 1, n: 1.5 })).rejects.toMatchObject({
      code: "INTERNAL",
      message: expect.stringMatching(/at n/),
    });
    expect(await readdir(dir)).toEqual([]);
  });

  it("a directory that cannot be written is STORAGE naming the file", async () => {
    const f = new JsonStateFile(join(dir, "missing"), "doc.json", Doc);
    await expect(f.save({ version: 1, n: 1 })).rejects.toMatchObject({
      code: "STORAGE",
      details: { path: f.path },
    });
  });
});
