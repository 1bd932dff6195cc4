/**
 * The laptop's bond store on real files in a temp dir: what lands on disk (read back, modes), the
 * two-phase pairing and rotation transitions, and a damaged, newer or half-written file among good ones.
 */
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock/index.js";
import { verifyKeys } from "../../src/protocol/controller/bond-record.js";
import { isOpenClawError } from "../../src/protocol/errors.js";
import { BondStore, encodeBondFile } from "../../src/store/bond-store.js";
import type { Quarantine } from "../../src/store/json-file.js";
import { type OpenClawPaths, resolvePaths } from "../../src/store/paths.js";
import { idHex, sampleBond, sampleKey, secretsOf, writeBondFiles } from "../../src/store/testing.js";
import { rejection } from "../helpers/errors.js";

let root: string;
let paths: OpenClawPaths;
let clock: ManualClock;
const T0 = Date.UTC(2026, 3, 1, 12);

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "store-bonds-"));
  paths = resolvePaths({ stateDir: join(root, "state"), env: {} });
  clock = new ManualClock(0, T0);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const open = (onQuarantine?: (q: Quarantine) => void) =>
  BondStore.open(paths, { clock, ...(onQuarantine ? { onQuarantine } : {}) });
const fileOf = (id: string) => join(paths.bondsDir, `${id}.json`);
const onDisk = async (id: string) => JSON.parse(await readFile(fileOf(id), "utf8"));

describe("bond store", () => {
  it("pairs two-phase: a candidate is invisible until committed, then one 0600 file in a 0700 dir", async () => {
    const store = await open();
    const b = sampleBond("dev1");
    await store.putCandidate(b);
    expect(store.get(idHex(b))).toBeUndefined();
    expect(store.list()).toEqual([]);
    expect(store.candidate(idHex(b))).toEqual(b);
    expect(Object.keys(await onDisk(idHex(b)))).toEqual(["version", "candidate"]);

    clock.advance(5000);
    const committed = await store.commitCandidate(idHex(b));
    expect(committed).toEqual({ record: b, pairedAt: T0 + 5000, lastVerifiedAt: T0 + 5000 });
    expect(store.candidate(idHex(b))).toBeUndefined();
    const disk = await onDisk(idHex(b));
    expect(disk.version).toBe(2);
    expect(disk.candidate).toBeUndefined();
    expect(disk.active).toMatchObject({ deviceId: idHex(b), pairedAt: T0 + 5000, version: 2 });

    expect((await stat(paths.stateDir)).mode & 0o777).toBe(0o700);
    expect((await stat(paths.bondsDir)).mode & 0o777).toBe(0o700);
    expect((await stat(fileOf(idHex(b)))).mode & 0o777).toBe(0o600);
    expect(await readdir(paths.bondsDir)).toEqual([`${idHex(b)}.json`]);

    // A new process sees the same.
    const again = await open();
    expect(again.list()).toEqual([committed]);
    expect(again.get(idHex(b).toUpperCase())).toEqual(committed);
  });

  it("re-pairing keeps the old bond until the new one verified; a failed re-pairing leaves it as it was", async () => {
    const store = await open();
    const old = sampleBond("dev", "gen1");
    await store.putCandidate(old);
    const first = await store.commitCandidate(idHex(old));
    const next = sampleBond("dev", "gen2");
    await store.putCandidate(next);
    expect(store.get(idHex(old))).toEqual(first);
    expect((await open()).get(idHex(old))).toEqual(first); // on disk too, beside the candidate
    await store.dropCandidate(idHex(old));
    expect(store.candidate(idHex(old))).toBeUndefined();
    expect(await onDisk(idHex(old))).not.toHaveProperty("candidate");
    expect((await open()).get(idHex(old))).toEqual(first);

    await store.putCandidate(next);
    clock.advance(1000);
    const replaced = await store.commitCandidate(idHex(next));
    expect(replaced.record).toEqual(next);
    expect((await open()).get(idHex(next))?.record.controllerStaticKey).toEqual(next.controllerStaticKey);

    // Dropping a candidate when there is no bond removes the file.
    const lone = sampleBond("lone");
    await store.putCandidate(lone);
    await store.dropCandidate(idHex(lone));
    expect(await readdir(paths.bondsDir)).toEqual([`${idHex(next)}.json`]);
  });

  it("lists by pairing time; markVerified records the time; remove says whether there was one", async () => {
    const store = await open();
    const ids: string[] = [];
    for (const name of ["c", "a", "b"]) {
      const b = sampleBond(name);
      ids.push(idHex(b));
      await store.putCandidate(b);
      clock.advance(1000);
      await store.commitCandidate(idHex(b));
    }
    expect(store.list().map((s) => idHex(s.record))).toEqual(ids);
    clock.advance(60_000);
    const v = await store.markVerified(ids[0]!);
    expect(v.lastVerifiedAt).toBe(clock.wallNow());
    expect((await open()).get(ids[0]!)?.lastVerifiedAt).toBe(clock.wallNow());

    expect(await store.remove(ids[1]!)).toBe(true);
    expect(await store.remove(ids[1]!)).toBe(false);
    expect(await readdir(paths.bondsDir)).not.toContain(`${ids[1]}.json`);
    expect((await open()).list().map((s) => idHex(s.record))).toEqual([ids[0], ids[2]]);
    expect((await rejection(store.markVerified(ids[1]!))).code).toBe("NOT_BONDED");
    expect((await rejection(store.commitCandidate(ids[1]!))).code).toBe("NOT_BONDED");
    expect((await rejection(store.markVerified("not-an-id"))).code).toBe("INVALID_ARGUMENT");
  });

  it("rotation: the pending key is on disk before the command is sent, and the verify that works settles it", async () => {
    const store = await open();
    const b = sampleBond("rot");
    await store.putCandidate(b);
    await store.commitCandidate(idHex(b));
    const k1 = sampleKey("k1");
    await store.beginRotation(idHex(b), k1);
    // What a process started after a crash right here would see:
    const reloaded = (await open()).get(idHex(b))!;
    expect(verifyKeys(reloaded.record)).toEqual([k1, b.controllerStaticKey]);
    expect((await rejection(store.beginRotation(idHex(b), sampleKey("k2")))).code).toBe("INVALID_ARGUMENT");

    // The device took it: the pending key verified and becomes the key.
    const done = await store.markVerified(idHex(b), k1);
    expect(done.record.controllerStaticKey).toEqual(k1);
    expect(done.record.pendingStaticKey).toBeUndefined();
    expect((await onDisk(idHex(b))).active).not.toHaveProperty("pendingStaticPublicKey");

    // The device never got the next one: the old key verified and the pending key is dropped.
    await store.beginRotation(idHex(b), sampleKey("k3"));
    const kept = await store.markVerified(idHex(b), k1);
    expect(kept.record.controllerStaticKey).toEqual(k1);
    expect((await open()).get(idHex(b))?.record.pendingStaticKey).toBeUndefined();
  });

  it("transitions of one device run in order; a failed write changes nothing in memory", async () => {
    const store = await open();
    const b = sampleBond("order");
    const [, committed] = await Promise.all([store.putCandidate(b), store.commitCandidate(idHex(b))]);
    expect(committed.record).toEqual(b);
    expect(store.get(idHex(b))).toEqual(committed);

    // A directory where the file belongs: the write fails with STORAGE, naming the path.
    const c = sampleBond("blocked");
    await mkdir(fileOf(idHex(c)));
    const err = await rejection(store.putCandidate(c));
    expect(err.code).toBe("STORAGE");
    expect(err.message).toContain(fileOf(idHex(c)));
    expect(store.candidate(idHex(c))).toBeUndefined();
  });

  it("a corrupt file among good ones is quarantined with a warning; the others load", async () => {
    const store = await open();
    const good = ["g1", "g2", "g3"].map((n) => sampleBond(n));
    for (const b of good) {
      await store.putCandidate(b);
      await store.commitCandidate(idHex(b));
    }
    const torn = sampleBond("torn");
    const text = JSON.stringify(encodeBondFile({ active: { record: torn, pairedAt: T0 } }));
    await writeFile(fileOf(idHex(torn)), text.slice(0, text.length / 2), { mode: 0o600 });
    const wrongShape = sampleBond("shape");
    await writeFile(fileOf(idHex(wrongShape)), JSON.stringify({ version: 1, active: { role: "root" } }));
    const misplaced = sampleBond("misplaced");
    const elsewhere = "00112233445566ff";
    await writeFile(
      fileOf(elsewhere),
      JSON.stringify(encodeBondFile({ active: { record: misplaced, pairedAt: T0 } })),
    );

    const warned: Quarantine[] = [];
    const loaded = await open((q) => warned.push(q));
    expect(loaded.list().map((s) => s.record)).toEqual(good);
    expect(warned.map((q) => q.file).sort()).toEqual(
      [fileOf(idHex(torn)), fileOf(idHex(wrongShape)), fileOf(elsewhere)].sort(),
    );
    expect(loaded.quarantined()).toEqual(warned);
    const byFile = new Map(warned.map((q) => [q.file, q.reason]));
    expect(byFile.get(fileOf(idHex(torn)))).toBe("not valid JSON");
    expect(byFile.get(fileOf(elsewhere))).toMatch(/device id .* file name/);
    // Moved aside, not deleted; the content is kept byte for byte.
    const q = warned.find((w) => w.file === fileOf(idHex(torn)))!;
    expect(await readFile(q.quarantinedAs, "utf8")).toBe(text.slice(0, text.length / 2));
    // The next load does not quarantine again but still tells `doctor` about them.
    const later = await open();
    expect(later.quarantined()).toEqual([]);
    expect(later.earlierQuarantined()).toHaveLength(3);
    // The device can be paired again.
    await later.putCandidate(torn);
    await later.commitCandidate(idHex(torn));
    expect((await open()).get(idHex(torn))?.record).toEqual(torn);
  });

  it("keeps where the device last answered (written at commit/verify), across a reopen", async () => {
    const store = await open();
    const b = sampleBond("seen");
    const id = idHex(b);
    await store.putCandidate(b);
    clock.advance(1000);
    await store.commitCandidate(id, { address: "aa:bb:cc:dd:ee:01", radioId: "aabbccddee01" });
    expect((await onDisk(id)).active.lastSeen).toEqual({
      address: "aa:bb:cc:dd:ee:01",
      radioId: "aabbccddee01",
      at: T0 + 1000,
    });
    // A verify without a sighting keeps the old address; one with a new address replaces it.
    clock.advance(1000);
    await store.markVerified(id);
    expect((await open()).get(id)?.lastSeen).toEqual({
      address: "aa:bb:cc:dd:ee:01",
      radioId: "aabbccddee01",
      at: T0 + 1000,
    });
    clock.advance(1000);
    await store.markVerified(id, undefined, { address: "aa:bb:cc:dd:ee:02", radioId: "aabbccddee02" });
    const reopened = (await open()).get(id);
    expect(reopened?.lastSeen).toEqual({
      address: "aa:bb:cc:dd:ee:02",
      radioId: "aabbccddee02",
      at: T0 + 3000,
    });
    expect(reopened?.lastVerifiedAt).toBe(T0 + 3000);
  });

  it("a version 1 file (before lastSeen) loads as it was, and is written as version 2 at the next change", async () => {
    const b = sampleBond("old");
    const id = idHex(b);
    const v1 = { ...encodeBondFile({ active: { record: b, pairedAt: T0, lastVerifiedAt: T0 } }), version: 1 };
    expect(v1.active).not.toHaveProperty("lastSeen");
    await (await open()).putCandidate(b); // the private directories, as a store makes them
    await writeFile(fileOf(id), JSON.stringify(v1));
    const warned: Quarantine[] = [];
    const store = await open((q) => warned.push(q));
    expect(warned).toEqual([]);
    expect(store.skipped()).toEqual([]);
    expect(store.get(id)).toEqual({ record: b, pairedAt: T0, lastVerifiedAt: T0 });
    clock.advance(1000);
    await store.markVerified(id, undefined, { address: "aa:bb:cc:dd:ee:03", radioId: "aabbccddee03" });
    const disk = await onDisk(id);
    expect(disk.version).toBe(2);
    expect(disk.active.lastSeen).toEqual({
      address: "aa:bb:cc:dd:ee:03",
      radioId: "aabbccddee03",
      at: T0 + 1000,
    });
  });

  it("a file from a newer version is skipped and left untouched, and that device refuses changes", async () => {
    const store = await open();
    const b = sampleBond("future");
    await store.putCandidate(b);
    await store.commitCandidate(idHex(b));
    const newer = JSON.stringify({ version: 3, somethingNew: true });
    await writeFile(fileOf(idHex(b)), newer);
    const warned: Quarantine[] = [];
    const loaded = await open((q) => warned.push(q));
    expect(warned).toEqual([]);
    expect(loaded.get(idHex(b))).toBeUndefined();
    const [skipped] = loaded.skipped();
    expect(skipped?.error.code).toBe("STATE_TOO_NEW");
    expect(skipped?.error.details).toEqual({ path: fileOf(idHex(b)), version: 3, supported: 2 });
    expect((await rejection(loaded.putCandidate(b))).code).toBe("STATE_TOO_NEW");
    expect((await rejection(loaded.remove(idHex(b)))).code).toBe("STATE_TOO_NEW");
    expect(await readFile(fileOf(idHex(b)), "utf8")).toBe(newer);
  });

  it("removes the temp files a killed writer left, and ignores files that are not bonds", async () => {
    const store = await open();
    const b = sampleBond("temps");
    await store.putCandidate(b);
    await store.commitCandidate(idHex(b));
    await writeFile(join(paths.bondsDir, `${idHex(b)}.json.123456789`), "{ half");
    await writeFile(join(paths.bondsDir, "notes.txt"), "mine");
    const loaded = await open();
    expect(loaded.list()).toHaveLength(1);
    expect((await readdir(paths.bondsDir)).sort()).toEqual([`${idHex(b)}.json`, "notes.txt"]);
  });

  it("refuses a bonds directory other users can reach (and does not chmod it)", async () => {
    await mkdir(paths.bondsDir, { recursive: true, mode: 0o700 });
    await chmod(paths.stateDir, 0o700);
    await chmod(paths.bondsDir, 0o750);
    const err = await rejection(open());
    expect(err.code).toBe("STORAGE");
    expect(err.message).toContain(paths.bondsDir);
    expect((await stat(paths.bondsDir)).mode & 0o777).toBe(0o750);
  });

  it("never shows a key in a quarantine reason or an error, however the file is damaged", async () => {
    const store = await open();
    const b = sampleBond("secret");
    await store.putCandidate(b);
    await store.commitCandidate(idHex(b));
    await store.beginRotation(idHex(b), sampleKey("pending"));
    const rec = store.get(idHex(b))!.record;
    const secrets = secretsOf(rec);
    const original = await readFile(fileOf(idHex(b)), "utf8");
    await fc.assert(
      fc.asyncProperty(
        fc.nat(original.length - 1),
        fc.nat(original.length),
        fc.constantFrom("cut", "flip", "insert"),
        async (at, len, how) => {
          const damaged =
            how === "cut"
              ? original.slice(0, at)
              : how === "flip"
                ? `${original.slice(0, at)}${original[at] === "a" ? "Q" : "a"}${original.slice(at + 1)}`
                : `${original.slice(0, at)}"${original.slice(at, at + (len % 40))}"${original.slice(at)}`;
          await writeFile(fileOf(idHex(b)), damaged);
          const warned: Quarantine[] = [];
          let text = "";
          try {
            const s = await open((q) => warned.push(q));
            text = JSON.stringify([s.quarantined(), s.skipped().map((x) => x.error.message)]);
          } catch (err) {
            text = isOpenClawError(err) ? `${err.message} ${JSON.stringify(err.details)}` : String(err);
          }
          for (const s of secrets) expect(text).not.toContain(s.slice(0, 16));
          // Clean up for the next run: remove quarantined copies, restore the file.
          for (const n of await readdir(paths.bondsDir))
            if (n.includes(".corrupt-")) await rm(join(paths.bondsDir, n));
          await writeFile(fileOf(idHex(b)), original);
        },
      ),
      { numRuns: 60 },
    );
    // Errors thrown by transitions name the device, never a key.
    for (const e of [
      await rejection(store.beginRotation(idHex(b), sampleKey("again"))),
      await rejection(store.markVerified(idHex(b), sampleKey("stranger"))),
    ])
      for (const s of secrets)
        expect(`${e.message} ${JSON.stringify(e.details)}`).not.toContain(s.slice(0, 16));
  });

  it("loads many bonds in linear time (bench/store.ts measures 10 000)", async () => {
    await writeBondFiles(paths.bondsDir, 2000);
    await chmod(paths.stateDir, 0o700);
    const c0 = process.cpuUsage();
    const store = await open();
    const cpu = process.cpuUsage(c0);
    expect(store.list()).toHaveLength(2000);
    // A generous bound on CPU time (not wall time: the test machine is shared); ~50 ms when linear.
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(1000);
  }, 30_000);
});
