/**
 * A private state directory (keys live there) and the lock that gives it one owner process.
 *
 * We never chmod or delete what a person named: a directory that exists but is reachable by other users
 * (or is not ours) is refused with the reason, as ssh refuses a world-readable key. A directory we create
 * is 0700. One process per state directory: a pid lock file, taken with link(2) so two starters cannot
 * both win; a lock whose process is gone (kill -9) is taken over.
 */
import { constants as fsConstants, unlinkSync } from "node:fs";
import { link, mkdir, open, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { OpenClawError } from "../protocol/errors.js";

/** fsync a directory so a rename or unlink inside it is durable. Some filesystems refuse: not fatal. */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(dir, fsConstants.O_RDONLY);
    await fh.sync();
  } catch {
    // EINVAL/EISDIR on filesystems without directory fsync: the data files themselves were fsynced.
  } finally {
    await fh?.close();
  }
}

function storage(path: string, detail: string, cause?: unknown): OpenClawError<"STORAGE"> {
  return new OpenClawError("STORAGE", { path, detail }, { cause });
}

/** Turns an errno from touching `path` into words a person can act on. */
export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ENOTDIR":
      return "a file stands where a directory is needed";
    case "EISDIR":
      return "a directory stands where a file is needed";
    case "ENOENT":
      return "it does not exist (or a parent directory is missing)";
    case "ENOSPC":
      return "the disk is full";
    case "EROFS":
      return "the filesystem is read-only";
    case "EEXIST":
      return "it already exists";
    default:
      return code ? `system error ${code}` : err instanceof Error ? err.message : String(err);
  }
}

/**
 * Makes sure `dir` is a private directory of this user: created 0700 (with parents) when missing;
 * refused with STORAGE when it is a file, not ours, reachable by group/others, or not writable.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await makeDirs(dir);
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(dir);
  } catch (err) {
    throw storage(dir, describeFsError(err), err);
  }
  if (!st.isDirectory()) throw storage(dir, "it is not a directory");
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid)
    throw storage(
      dir,
      `it belongs to another user (uid ${st.uid}); keys must live in a directory of your own`,
    );
  const mode = st.mode & 0o777;
  if ((mode & 0o077) !== 0)
    throw storage(
      dir,
      `other users can reach it (mode ${mode.toString(8).padStart(4, "0")}); keys must live in a private directory — name a new one, or restrict this one yourself (chmod 700)`,
    );
}

/**
 * `mkdir -p` that fails instead of spinning: Node's recursive mkdir loops forever under /proc (mkdir
 * there says ENOENT although the parent exists). Finds the nearest existing ancestor, then creates each
 * missing level (0700); every failure is STORAGE naming `dir` and the level that could not be made.
 */
async function makeDirs(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = resolve(dir); ; ) {
    try {
      const st = await stat(d);
      if (!st.isDirectory())
        throw storage(
          dir,
          d === resolve(dir) ? "it is a file, not a directory" : `${d} is a file, not a directory`,
        );
      break;
    } catch (err) {
      if (err instanceof OpenClawError) throw err;
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw storage(dir, describeFsError(err), err);
    }
    missing.unshift(d);
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  for (const m of missing) {
    try {
      await mkdir(m, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") continue; // made by someone else meanwhile
      const why =
        (err as NodeJS.ErrnoException).code === "ENOENT"
          ? "directories cannot be made there"
          : describeFsError(err);
      throw storage(dir, m === resolve(dir) ? `cannot create it: ${why}` : `cannot create ${m}: ${why}`, err);
    }
  }
}

export interface StateLock {
  readonly path: string;
  /** Releases the lock (idempotent). Also released when the process exits normally. */
  release(): Promise<void>;
}

interface LockRecord {
  pid: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else; that still holds the lock.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readHolder(lockPath: string): Promise<number | undefined> {
  try {
    const rec = JSON.parse(await readFile(lockPath, "utf8")) as Partial<LockRecord>;
    return typeof rec.pid === "number" && Number.isInteger(rec.pid) && rec.pid > 0 ? rec.pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the directory's lock or throws STATE_LOCKED naming the holder's pid. A lock left by a process
 * that no longer runs is taken over. The caller must have ensured the directory first.
 */
export async function lockStateDir(dir: string, name = "lock"): Promise<StateLock> {
  const lockPath = join(dir, name);
  const tmp = join(dir, `${name}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, `${JSON.stringify({ pid: process.pid } satisfies LockRecord)}\n`, { mode: 0o600 });
  } catch (err) {
    throw storage(dir, describeFsError(err), err);
  }
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(tmp, lockPath);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST")
          throw storage(lockPath, describeFsError(err), err);
      }
      const holder = await readHolder(lockPath);
      if (holder !== undefined && alive(holder))
        throw new OpenClawError("STATE_LOCKED", { path: dir, pid: holder });
      if (attempt >= 3) throw new OpenClawError("STATE_LOCKED", { path: dir });
      // Stale (holder gone, or a torn lock file): move it aside atomically; only one taker's rename wins.
      const aside = join(dir, `${name}.stale-${process.pid}-${attempt}`);
      try {
        await rename(lockPath, aside);
        await unlink(aside);
      } catch {
        // Someone else took it over first; loop and look again.
      }
    }
  } finally {
    await unlink(tmp).catch(() => {});
  }
  await fsyncDir(dir);

  let released = false;
  const onExit = () => {
    if (released) return;
    released = true;
    // Synchronous on exit: best effort, the next starter treats a dead holder as stale anyway.
    try {
      unlinkSync(lockPath);
    } catch {
      /* already gone */
    }
  };
  process.once("exit", onExit);
  return {
    path: lockPath,
    async release() {
      if (released) return;
      released = true;
      process.removeListener("exit", onExit);
      if ((await readHolder(lockPath)) === process.pid) await unlink(lockPath).catch(() => {});
    },
  };
}
