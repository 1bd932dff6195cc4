/**
 * One JSON document in the simulated device's state directory, persisted the way the daemon's store is:
 * written atomically (temp file, fsync, rename — write-file-atomic), then the directory fsynced so the
 * rename itself survives a power cut; mode 0600 inside a 0700 directory; validated with zod on load.
 * A file that does not parse or validate is quarantined (renamed `<name>.corrupt-<timestamp>`) and
 * reported, never thrown: a device with a damaged flash page boots with that table empty, it does not
 * brick itself.
 */
import { constants as fsConstants } from "node:fs";
import { chmod, mkdir, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import writeFileAtomic from "write-file-atomic";
import type { z } from "zod";

export interface Quarantine {
  file: string;
  quarantinedAs: string;
  /** Why the file was refused: parse error or the schema path that failed. Never the file's content. */
  reason: string;
}

/** Creates the state directory (0700) if missing and tightens its mode if it exists. */
export async function ensureStateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await stat(dir);
  if ((st.mode & 0o777) !== 0o700) await chmod(dir, 0o700);
}

/** fsync a directory so a rename inside it is durable. Some filesystems refuse; that is not fatal. */
async function fsyncDir(dir: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(dir, fsConstants.O_RDONLY);
    await fh.sync();
  } catch {
    // EINVAL/EISDIR on filesystems without directory fsync: the data file itself was fsynced.
  } finally {
    await fh?.close();
  }
}

export class JsonStateFile<S extends z.ZodType> {
  readonly path: string;

  constructor(
    readonly dir: string,
    readonly name: string,
    private readonly schema: S,
    private readonly onQuarantine: (q: Quarantine) => void = () => {},
    /** Wall clock for the quarantine suffix only (a file name for people, never for expiry). */
    private readonly wallClock: () => number = Date.now,
  ) {
    this.path = join(dir, name);
  }

  /** The stored value, or undefined when there is none (missing, or corrupt and now quarantined). */
  async load(): Promise<z.output<S> | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      await this.quarantine("not valid JSON");
      return undefined;
    }
    const parsed = this.schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? issue.path.join(".") : "(root)";
      await this.quarantine(`does not match the expected shape at ${where}`);
      return undefined;
    }
    return parsed.data;
  }

  async save(value: z.input<S>): Promise<void> {
    // Validate before writing: a bug must not persist a file the next boot would quarantine.
    const checked = this.schema.parse(value);
    await ensureStateDir(this.dir);
    await writeFileAtomic(this.path, `${JSON.stringify(checked, null, 2)}\n`, { mode: 0o600, fsync: true });
    await fsyncDir(this.dir);
  }

  async remove(): Promise<void> {
    try {
      await unlink(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    await fsyncDir(this.dir);
  }

  /** Moves the file aside (also for callers whose own decoding found it unusable). */
  async quarantine(reason: string): Promise<void> {
    const stamp = new Date(this.wallClock()).toISOString().replace(/[:.]/g, "-");
    const quarantinedAs = `${this.path}.corrupt-${stamp}`;
    await rename(this.path, quarantinedAs);
    await fsyncDir(this.dir);
    this.onQuarantine({ file: this.path, quarantinedAs, reason });
  }
}
