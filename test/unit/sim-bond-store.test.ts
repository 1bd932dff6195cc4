import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { BondStore, type BondTableCodec } from "../../firmware-sim/device/bond-store.js";
import { defaultDeviceName, IdentityStore } from "../../firmware-sim/device/identity.js";
import { JsonStateFile, type Quarantine } from "../../firmware-sim/device/state-file.js";
import { seededRandom } from "../../src/protocol/env.js";

// A stand-in table so the store is tested on its own terms (persistence, not bond semantics).
const Table = z.object({ slots: z.number().int(), entries: z.array(z.object({ id: z.string() })) });
type Table = z.infer<typeof Table>;
const codec: BondTableCodec<Table> = { serialise: (t) => t, deserialise: (j) => Table.parse(j) };

let dir: string;
beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), "sim-store-")), "state");
  await mkdir(dir, { mode: 0o700 });
});
afterEach(async () => {
  await rm(join(dir, ".."), { recursive: true, force: true });
});

describe("device state files", () => {
  it("round-trips the bond table in a 0700 directory with a 0600 file", async () => {
    const store = new BondStore(dir, codec);
    expect(await store.load()).toBeUndefined();
    const table = { slots: 8, entries: [{ id: "a" }, { id: "b" }] };
    await store.save(table);
    expect(await new BondStore(dir, codec).load()).toEqual(table);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(store.path)).mode & 0o777).toBe(0o600);
    // No temp files left behind by the atomic write.
    expect(await readdir(dir)).toEqual(["bonds.json"]);
  });

  it("quarantines a file that is not JSON, with a warning, and boots empty", async () => {
    const warnings: Quarantine[] = [];
    const store = new BondStore(dir, codec, (q) => warnings.push(q));
    await store.save({ slots: 8, entries: [] });
    await writeFile(store.path, "{ half a wri");
    expect(await store.load()).toBeUndefined();
    expect(warnings).toHaveLength(1);
    const files = await readdir(dir);
    expect(files.some((f) => /^bonds\.json\.corrupt-/.test(f))).toBe(true);
    expect(files).not.toContain("bonds.json");
    // The reason names the problem, not the content.
    expect(warnings[0]!.reason).not.toContain("half");
  });

  it("quarantines a table that parses but does not validate", async () => {
    const warnings: Quarantine[] = [];
    const store = new BondStore(dir, codec, (q) => warnings.push(q));
    await store.save({ slots: 8, entries: [] });
    await writeFile(store.path, JSON.stringify({ version: 1, table: { slots: "eight", entries: [] } }));
    expect(await store.load()).toBeUndefined();
    expect(warnings).toHaveLength(1);
    // After quarantine the device can save a fresh table.
    await store.save({ slots: 8, entries: [{ id: "c" }] });
    expect(await store.load()).toEqual({ slots: 8, entries: [{ id: "c" }] });
  });

  it("refuses to persist a value that its own schema rejects", async () => {
    const file = new JsonStateFile(dir, "x.json", z.object({ n: z.number() }));
    await expect(file.save({ n: "1" } as unknown as { n: number })).rejects.toThrow();
    await expect(readFile(join(dir, "x.json"))).rejects.toThrow();
  });

  it("keeps the identity across restarts and makes a new one after a corrupt file", async () => {
    const random = seededRandom("identity");
    const first = await new IdentityStore(dir).loadOrCreate(random);
    expect(first.created).toBe(true);
    const again = await new IdentityStore(dir).loadOrCreate(random);
    expect(again.created).toBe(false);
    expect(again.identity).toEqual(first.identity);
    expect(defaultDeviceName(first.identity.deviceId)).toMatch(/^OpenClaw-[0-9A-F]{4}$/);
    expect((await stat(join(dir, "identity.json"))).mode & 0o777).toBe(0o600);

    await writeFile(join(dir, "identity.json"), JSON.stringify({ version: 1, deviceId: "zz" }));
    const warnings: Quarantine[] = [];
    const fresh = await new IdentityStore(dir, (q) => warnings.push(q)).loadOrCreate(random);
    expect(fresh.created).toBe(true);
    expect(warnings).toHaveLength(1);
    expect(fresh.identity.deviceId).not.toEqual(first.identity.deviceId);
  });
});
