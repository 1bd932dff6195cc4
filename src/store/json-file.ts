/**
 * One JSON document in a state directory, persisted so that a kill -9 or power cut at any instant
 * leaves either the old or the new content: written atomically (temp file, fsync, rename —
 * write-file-atomic), then the directory fsynced so the rename itself is durable; mode 0600; validated
 * with zod before writing and on load. Used by the laptop's store and the simulated device alike.
 *
 * A file that does not parse or validate is quarantined (renamed `<name>.corrupt-<timestamp>`), never
 * deleted, and reported; a file written by a newer format version is refused (STATE_TOO_NEW) and left
 * untouched. Temp files a killed writer left behind are removed at load (the caller holds the
 * directory's lock, so no live writer owns them).
 */
import { readdir, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import writeFileAtomic from "write-file-atomic";
import type { z } from "zod";
import { OpenClawError } from "../protocol/errors.js";
import { describeFsError, fsyncDir } from "./state-dir.js";

export interface Quarantine {
  file: string;
  quarantinedAs: string;
  /** Why the file was refused: parse error or the schema path that failed. Never the file's content. */
  reason: string;
}

export interface JsonFileOptions {
  /** Called after a file was moved aside. */
  onQuarantine?: (q: Quarantine) => void;
  /** Wall clock for the quarantine suffix only (a file name for people, never for expiry). */
  wallClock?: () => number;
  /** The newest `version` field this code reads; a larger one is STATE_TOO_NEW (not quarantined). */
  formatVersion?: number;
}

/** write-file-atomic names its temp files `<name>.<decimal hash>`. */
const tempName = (name: string) => new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.\\d+$`);

export class JsonStateFile<S extends z.ZodType> {
  readonly path: string;
  private readonly onQuarantine: (q: Quarantine) => void;
  private readonly wallClock: () => number;

  constructor(
    readonly dir: string,
    readonly name: string,
    private readonly schema: S,
    private readonly opts: JsonFileOptions = {},
  ) {
    this.path = join(dir, name);
    this.onQuarantine = opts.onQuarantine ?? (() => {});
    this.wallClock = opts.wallClock ?? Date.now;
  }

  /** The stored value, or undefined when there is none (missing, or corrupt and now quarantined). */
  async load(): Promise<z.output<S> | undefined> {
    await this.cleanTemps();
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new OpenClawError("STORAGE", { path: this.path, detail: describeFsError(err) }, { cause: err });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      await this.quarantine("not valid JSON");
      return undefined;
    }
    const version = (json as { version?: unknown } | null)?.version;
    if (
      this.opts.formatVersion !== undefined &&
      typeof version === "number" &&
      version > this.opts.formatVersion
    )
      throw new OpenClawError("STATE_TOO_NEW", {
        path: this.path,
        version,
        supported: this.opts.formatVersion,
      });
    const parsed = this.schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? issue.path.join(".") : "(root)";
      await this.quarantine(`does not match the expected shape at ${where}`);
      return undefined;
    }
    return parsed.data;
  }

  /** Writes the value durably. The directory must exist (ensured once by its owner, not per write). */
  async save(value: z.input<S>): Promise<void> {
    // Validate before writing: a bug must not persist a file the next boot would quarantine.
    const checked = this.schema.parse(value);
    try {
      await writeFileAtomic(this.path, `${JSON.stringify(checked, null, 2)}\n`, { mode: 0o600, fsync: true });
    } catch (err) {
      throw new OpenClawError("STORAGE", { path: this.path, detail: describeFsError(err) }, { cause: err });
    }
    await fsyncDir(this.dir);
  }

  async remove(): Promise<void> {
    try {
      await unlink(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT")
        throw new OpenClawError("STORAGE", { path: this.path, detail: describeFsError(err) }, { cause: err });
    }
    await fsyncDir(this.dir);
  }

  /** Moves the file aside (also for callers whose own decoding found it unusable). */
  async quarantine(reason: string): Promise<Quarantine> {
    const stamp = new Date(this.wallClock()).toISOString().replace(/[:.]/g, "-");
    const quarantinedAs = `${this.path}.corrupt-${stamp}`;
    try {
      await rename(this.path, quarantinedAs);
    } catch (err) {
      throw new OpenClawError("STORAGE", { path: this.path, detail: describeFsError(err) }, { cause: err });
    }
    await fsyncDir(this.dir);
    const q = { file: this.path, quarantinedAs, reason };
    this.onQuarantine(q);
    return q;
  }

  /** Removes temp files a killed writer of this file left (they may hold keys or names). */
  async cleanTemps(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return 0;
    }
    const re = tempName(this.name);
    let removed = 0;
    for (const n of names) {
      if (!re.test(n)) continue;
      await unlink(join(this.dir, n)).catch(() => {});
      removed++;
    }
    if (removed > 0) await fsyncDir(this.dir);
    return removed;
  }
}
