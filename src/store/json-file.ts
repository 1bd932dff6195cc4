/**
 * One JSON document in a state directory, persisted so that a kill -9 or power cut at any instant
 * leaves either the old or the new content: written to a temp file (0600, exclusive create), fsynced,
 * renamed over the target, then the directory fsynced so the rename itself is durable; validated with
 * zod before writing and on load. Used by the laptop's store and the simulated device alike.
 *
 * A file that does not parse or validate is quarantined (renamed `<name>.corrupt-<timestamp>`), never
 * deleted, and reported; a file written by a newer format version is refused (STATE_TOO_NEW) and left
 * untouched. Temp files a killed writer left behind (`<name>.<digits>`, possibly holding keys or names)
 * are removed at load (the caller holds the directory's lock, so no live writer owns them).
 *
 * The write is hand-made rather than write-file-atomic's so that crash tests can stop the process at
 * each step of it (`onWritePoint`): that seam is what proves the sequence safe.
 */
import { constants as fsConstants } from "node:fs";
import { copyFile, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
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
  /**
   * Testing seam: called at each step of a save (crash-consistency tests kill the process here). May
   * return a promise that the save waits for.
   */
  onWritePoint?: (point: WritePoint, path: string) => void | Promise<void>;
}

/**
 * The steps of a save: the temp file holds the new content (fsynced) but is not yet renamed; the rename
 * is done but the directory not yet fsynced.
 */
export type WritePoint = "temp-written" | "renamed";

let tempSeq = 0;

/** What `inspect` found. */
export type Inspected<T> =
  | { state: "missing" }
  | { state: "ok"; value: T }
  | { state: "corrupt"; reason: string };

/** Temp files are `<name>.<digits>` (write-file-atomic's pattern too, so its leftovers are found as well). */
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
    const found = await this.inspect();
    if (found.state === "ok") return found.value;
    if (found.state === "corrupt") await this.quarantine(found.reason);
    return undefined;
  }

  /**
   * What is on disk, changing nothing (no quarantine, no temp cleanup): for callers that must look at
   * several files before they touch any. Throws STATE_TOO_NEW for a newer format, STORAGE when unreadable.
   */
  async inspect(): Promise<Inspected<z.output<S>>> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return { state: "missing" };
      throw this.storage(err);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return { state: "corrupt", reason: "not valid JSON" };
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
      return { state: "corrupt", reason: `does not match the expected shape at ${where}` };
    }
    return { state: "ok", value: parsed.data };
  }

  /** Writes the value durably. The directory must exist (ensured once by its owner, not per write). */
  async save(value: z.input<S>): Promise<void> {
    // Validate before writing: a bug must not persist a file the next boot would quarantine.
    const parsed = this.schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? issue.path.join(".") : "(root)";
      throw new OpenClawError("INTERNAL", {
        detail: `refused to write ${this.path}: the value does not match its schema at ${where}`,
      });
    }
    const text = `${JSON.stringify(parsed.data, null, 2)}\n`;
    const tmp = `${this.path}.${process.pid}${String(++tempSeq).padStart(6, "0")}`;
    const fail = (err: unknown) =>
      new OpenClawError("STORAGE", { path: this.path, detail: describeFsError(err) }, { cause: err });
    try {
      const fh = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
      try {
        await fh.writeFile(text, "utf8");
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw fail(err);
    }
    await this.opts.onWritePoint?.("temp-written", this.path);
    try {
      await rename(tmp, this.path);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw fail(err);
    }
    await this.opts.onWritePoint?.("renamed", this.path);
    await fsyncDir(this.dir);
  }

  async remove(): Promise<void> {
    try {
      await unlink(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw this.storage(err);
    }
    await fsyncDir(this.dir);
  }

  /** Moves the file aside (also for callers whose own decoding found it unusable). */
  async quarantine(reason: string): Promise<Quarantine> {
    const quarantinedAs = this.asideName();
    try {
      await rename(this.path, quarantinedAs);
    } catch (err) {
      throw this.storage(err);
    }
    return this.movedAside(quarantinedAs, reason);
  }

  /**
   * Copies the file aside (`<name>.corrupt-<timestamp>`, 0600) and leaves it in place: for a document
   * whose owner repairs part of it, so the original stays for inspection while the repaired one is
   * written over it. A crash at any point leaves the original in one place or both.
   */
  async preserve(reason: string): Promise<Quarantine> {
    const quarantinedAs = this.asideName();
    try {
      await copyFile(this.path, quarantinedAs, fsConstants.COPYFILE_EXCL);
      const fh = await open(quarantinedAs, "r+");
      try {
        await fh.chmod(0o600);
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw this.storage(err);
    }
    return this.movedAside(quarantinedAs, reason);
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

  private storage(err: unknown): OpenClawError<"STORAGE"> {
    return new OpenClawError("STORAGE", { path: this.path, detail: describeFsError(err) }, { cause: err });
  }

  /** The copy or move is durable: report it. */
  private async movedAside(quarantinedAs: string, reason: string): Promise<Quarantine> {
    await fsyncDir(this.dir);
    const q = { file: this.path, quarantinedAs, reason };
    this.onQuarantine(q);
    return q;
  }

  /** A name next to the file that is not taken yet (two quarantines in one millisecond get -2, -3…). */
  private asideName(): string {
    const stamp = new Date(this.wallClock()).toISOString().replace(/[:.]/g, "-");
    const base = `${this.path}.corrupt-${stamp}`;
    const n = (asideCounts.get(base) ?? 0) + 1;
    asideCounts.set(base, n);
    return n === 1 ? base : `${base}-${n}`;
  }
}

const asideCounts = new Map<string, number>();
