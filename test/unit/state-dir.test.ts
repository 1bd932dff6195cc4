/**
 * src/store/state-dir.ts: a private state directory is made or refused, never chmodded; one process
 * per directory through a pid lock; every failure is STORAGE naming the path, and none hangs.
 */
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ensurePrivateDir, lockStateDir } from "../../src/store/state-dir.js";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "state-dir-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("ensurePrivateDir", () => {
  it("creates missing levels 0700", async () => {
    const dir = join(root, "a", "b", "state");
    await ensurePrivateDir(dir);
    for (const d of [join(root, "a"), join(root, "a", "b"), dir])
      expect((await stat(d)).mode & 0o777).toBe(0o700);
    await ensurePrivateDir(dir); // and accepts it the next time
  });

  it("refuses a directory others can reach, and does not touch its mode", async () => {
    for (const mode of [0o755, 0o1777, 0o710]) {
      const dir = join(root, `m${mode.toString(8)}`);
      await mkdir(dir);
      await chmod(dir, mode);
      await expect(ensurePrivateDir(dir)).rejects.toMatchObject({
        code: "STORAGE",
        details: { path: dir, detail: expect.stringMatching(/other users can reach it/) },
      });
      expect((await stat(dir)).mode & 0o7777).toBe(mode);
    }
  });

  it("a file, a file on the way, a place where directories cannot be made: STORAGE, at once", async () => {
    const file = join(root, "f");
    await writeFile(file, "x");
    await expect(ensurePrivateDir(file)).rejects.toMatchObject({
      code: "STORAGE",
      details: { path: file, detail: "it is a file, not a directory" },
    });
    await expect(ensurePrivateDir(join(file, "sub"))).rejects.toMatchObject({ code: "STORAGE" });
    // Node's own recursive mkdir spins forever here.
    await expect(ensurePrivateDir("/proc/openclaw-test/state")).rejects.toMatchObject({
      code: "STORAGE",
      details: { path: "/proc/openclaw-test/state" },
    });
  });
});

describe("lockStateDir", () => {
  it("one holder at a time: the next is STATE_LOCKED with the holder's pid; released, it is free", async () => {
    await ensurePrivateDir(root);
    const lock = await lockStateDir(root);
    await expect(lockStateDir(root)).rejects.toMatchObject({
      code: "STATE_LOCKED",
      details: { path: root, pid: process.pid },
    });
    await lock.release();
    const again = await lockStateDir(root);
    await again.release();
    expect(await readdir(root)).toEqual([]);
  });

  it("takes over a lock whose process is gone (kill -9)", async () => {
    await writeFile(join(root, "lock"), JSON.stringify({ pid: 2 ** 22 + 12345 }));
    const lock = await lockStateDir(root);
    await lock.release();
  });
});
