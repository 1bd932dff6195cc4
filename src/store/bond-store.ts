/**
 * The laptop's bonds (DESIGN §6): one JSON file per device, `<bondsDir>/<deviceIdHex>.json`, 0600 in a
 * 0700 directory, each written atomically (JsonStateFile: temp, fsync, rename, fsync dir).
 *
 * A file holds the device's active bond and, while a (re-)pairing is under way, a candidate beside it:
 *
 *   { version: 2, active?: { ...bond record, pairedAt, lastVerifiedAt?, lastSeen? }, candidate?: { ...bond record, createdAt } }
 *
 * Version 2 added `lastSeen` (where the device answered at its last connect/verify), so a restarted
 * daemon can tell a reset device (another id at that address) from an absent one. Version 1 files load
 * as they are; the version was raised so that an older daemon skips a file with the new field
 * (STATE_TOO_NEW, left untouched) instead of quarantining it as malformed.
 *
 * Every transition (candidate put, committed, dropped; verified; rotation begun; removed) is one atomic
 * write, so a crash at any instant leaves the old state or the new one, never a half bond; and a
 * re-pairing replaces the old bond only once the new one has verified (commitCandidate).
 *
 * Loading never fails because of one file: a corrupt file is quarantined (moved aside, reported) and a
 * file from a newer version is skipped and left untouched (and that device refuses changes here).
 * The caller holds the state directory's lock (lockStateDir), so no other writer exists while we load.
 */
import { readFileSync } from "node:fs";
import { readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { Clock } from "../clock/index.js";
import type { KeyPair } from "../protocol/accessory/types.js";
import { toHex as bytesToHex } from "../protocol/bytes.js";
import {
  beginRotation,
  bondRecordFromParsed,
  bondRecordToJson,
  type ControllerBond,
  ControllerBondJson,
  verifiedWith,
} from "../protocol/controller/bond-record.js";
import { OpenClawError } from "../protocol/errors.js";
import { DEVICE_ID_LEN } from "../protocol/messages/constants.js";
import { JsonStateFile, type Quarantine } from "./json-file.js";
import type { OpenClawPaths } from "./paths.js";
import { describeFsError, ensurePrivateDir, fsyncDir } from "./state-dir.js";

/** A bond as this laptop keeps it. Times are wall-clock ms, for people (never for expiry). */
export interface StoredBond {
  record: ControllerBond;
  pairedAt: number;
  lastVerifiedAt?: number;
  /** Where the device answered at the last connect that verified (absent in files before version 2). */
  lastSeen?: LastSeen;
}

/** The radio a device was reached on, recorded at pairing and verify time (never per advert). */
export interface LastSeen {
  /** Its Bluetooth address as the scan reported it. */
  address: string;
  /** What the radio connects by (noble's peripheral id). */
  radioId: string;
  /** Wall ms of that connect. */
  at: number;
}

/** Where a device was just reached (the store stamps the time). */
export type SeenAt = Omit<LastSeen, "at">;

/** A bond file load left alone: written by a newer version (STATE_TOO_NEW) or unreadable (STORAGE). */
export interface SkippedBondFile {
  file: string;
  deviceIdHex: string;
  error: OpenClawError<"STATE_TOO_NEW" | "STORAGE">;
}

export interface BondStoreOptions {
  clock: Clock;
  /** Told about each file load moved aside (also kept in `quarantined()`). */
  onQuarantine?: (q: Quarantine) => void;
  /** Files read between two yields to the event loop while loading (default 256). */
  loadBatch?: number;
}

export const BOND_FILE_VERSION = 2;

const wallMs = z.number().int().nonnegative();
const radioName = z.string().min(1).max(64);
const LastSeenJson = z.object({ address: radioName, radioId: radioName, at: wallMs }).strict();
const ActiveJson = ControllerBondJson.extend({
  pairedAt: wallMs,
  lastVerifiedAt: wallMs.optional(),
  lastSeen: LastSeenJson.optional(),
}).strict();
const CandidateJson = ControllerBondJson.extend({ createdAt: wallMs }).strict();
const BondFileJson = z
  .object({
    // 1: before lastSeen; it reads the same (the field is optional).
    version: z.union([z.literal(1), z.literal(BOND_FILE_VERSION)]),
    active: ActiveJson.optional(),
    candidate: CandidateJson.optional(),
  })
  .strict();
export type BondFileJson = z.infer<typeof BondFileJson>;

/** A (re-)pairing under way: the new bond, kept beside the active one until its first verify. */
export interface CandidateBond {
  record: ControllerBond;
  /** Wall ms. */
  createdAt: number;
}
/** What one bond file holds. */
export interface BondFileContent {
  active?: StoredBond;
  candidate?: CandidateBond;
}
type Entry = BondFileContent;

const ID_HEX = new RegExp(`^[0-9a-f]{${DEVICE_ID_LEN * 2}}$`);
const BOND_FILE = new RegExp(`^([0-9a-f]{${DEVICE_ID_LEN * 2}})\\.json$`);
/** write-file-atomic's temp files (`<name>.<decimal>`), left by a writer that was killed. */
const TEMP_FILE = new RegExp(`^[0-9a-f]{${DEVICE_ID_LEN * 2}}\\.json\\.\\d+$`);
const QUARANTINED_FILE = /\.json\.corrupt-/;

/** The JSON of one bond file (what the store writes; for tools and tests that prepare a directory). */
export function encodeBondFile(e: BondFileContent): BondFileJson {
  const out: BondFileJson = { version: BOND_FILE_VERSION };
  if (e.active)
    out.active = {
      ...bondRecordToJson(e.active.record),
      pairedAt: e.active.pairedAt,
      ...(e.active.lastVerifiedAt === undefined ? {} : { lastVerifiedAt: e.active.lastVerifiedAt }),
      ...(e.active.lastSeen === undefined ? {} : { lastSeen: { ...e.active.lastSeen } }),
    };
  if (e.candidate)
    out.candidate = { ...bondRecordToJson(e.candidate.record), createdAt: e.candidate.createdAt };
  return out;
}

/** Decodes a validated file; throws PROTOCOL_ERROR (a path, never a value) for what zod could not check. */
function entryFromJson(f: BondFileJson): Entry {
  const e: Entry = {};
  if (f.active) {
    const { pairedAt, lastVerifiedAt, lastSeen, ...record } = f.active;
    e.active = {
      record: bondRecordFromParsed(record),
      pairedAt,
      ...(lastVerifiedAt === undefined ? {} : { lastVerifiedAt }),
      ...(lastSeen === undefined ? {} : { lastSeen }),
    };
  }
  if (f.candidate) {
    const { createdAt, ...record } = f.candidate;
    e.candidate = { record: bondRecordFromParsed(record), createdAt };
  }
  return e;
}

type LoadResult =
  | { kind: "ok"; entry: Entry }
  | { kind: "empty" }
  | { kind: "corrupt"; reason: string }
  | { kind: "skipped"; error: OpenClawError<"STATE_TOO_NEW" | "STORAGE"> };

function parseBondFile(path: string, idHex: string, text: string): LoadResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON.parse's message: it quotes the text, which holds keys.
    return { kind: "corrupt", reason: "not valid JSON" };
  }
  const version = (json as { version?: unknown } | null)?.version;
  if (typeof version === "number" && version > BOND_FILE_VERSION)
    return {
      kind: "skipped",
      error: new OpenClawError("STATE_TOO_NEW", { path, version, supported: BOND_FILE_VERSION }),
    };
  const parsed = BondFileJson.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join(".") : "(root)";
    return { kind: "corrupt", reason: `does not match the expected shape at ${where}` };
  }
  let entry: Entry;
  try {
    entry = entryFromJson(parsed.data);
  } catch (err) {
    return {
      kind: "corrupt",
      reason: err instanceof OpenClawError ? err.message : "undecodable bond record",
    };
  }
  for (const b of [entry.active?.record, entry.candidate?.record])
    if (b && bytesToHex(b.deviceId) !== idHex)
      return { kind: "corrupt", reason: "the device id inside does not match the file name" };
  if (!entry.active && !entry.candidate) return { kind: "empty" };
  return { kind: "ok", entry };
}

function normaliseId(deviceIdHex: string): string {
  return deviceIdHex.toLowerCase();
}

export class BondStore {
  readonly #dir: string;
  readonly #clock: Clock;
  readonly #onQuarantine: (q: Quarantine) => void;
  readonly #entries = new Map<string, Entry>();
  readonly #files = new Map<string, JsonStateFile<typeof BondFileJson>>();
  readonly #quarantined: Quarantine[] = [];
  readonly #skipped = new Map<string, SkippedBondFile>();
  readonly #earlierQuarantined: string[] = [];
  readonly #chains = new Map<string, Promise<void>>();

  private constructor(dir: string, opts: BondStoreOptions) {
    this.#dir = dir;
    this.#clock = opts.clock;
    this.#onQuarantine = opts.onQuarantine ?? (() => {});
  }

  /**
   * Ensures the private directories, removes temp files a killed writer left, and loads every bond file.
   * Throws only STORAGE for the state or bonds directory itself; one bad file never fails the load.
   */
  static async open(
    paths: Pick<OpenClawPaths, "stateDir" | "bondsDir">,
    opts: BondStoreOptions,
  ): Promise<BondStore> {
    await ensurePrivateDir(paths.stateDir);
    await ensurePrivateDir(paths.bondsDir);
    const store = new BondStore(paths.bondsDir, opts);
    await store.#load(Math.max(1, opts.loadBatch ?? 256));
    return store;
  }

  async #load(batch: number): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch (err) {
      throw new OpenClawError("STORAGE", { path: this.#dir, detail: describeFsError(err) }, { cause: err });
    }
    const ids: string[] = [];
    const temps: string[] = [];
    for (const n of names) {
      const m = BOND_FILE.exec(n);
      if (m) ids.push(m[1] as string);
      else if (TEMP_FILE.test(n)) temps.push(n);
      else if (QUARANTINED_FILE.test(n)) this.#earlierQuarantined.push(join(this.#dir, n));
    }
    // Temp files may hold keys; no live writer owns them (we hold the lock), so they go.
    if (temps.length > 0) {
      for (const n of temps) await unlink(join(this.#dir, n)).catch(() => {});
      await fsyncDir(this.#dir);
    }
    // Read in synchronous batches, yielding to the event loop between them. Measured on this project's
    // 2-core CI box with 10 000 files: fs.promises.readFile with 64 in flight ~2.5 s, callback readFile
    // ~0.4 s, readFileSync in batches ~0.12 s — small files cost a thread-pool round trip per syscall.
    const corrupt: { idHex: string; reason: string }[] = [];
    for (let i = 0; i < ids.length; i += batch) {
      if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      for (const idHex of ids.slice(i, i + batch)) {
        const path = `${this.#dir}/${idHex}.json`; // not join(): measurable at 10 000 files
        let text: string;
        try {
          text = readFileSync(path, "utf8");
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
          this.#skip(idHex, path, new OpenClawError("STORAGE", { path, detail: describeFsError(err) }));
          continue;
        }
        const r = parseBondFile(path, idHex, text);
        if (r.kind === "ok") this.#entries.set(idHex, r.entry);
        else if (r.kind === "skipped") this.#skip(idHex, path, r.error);
        else if (r.kind === "corrupt") corrupt.push({ idHex, reason: r.reason });
      }
    }
    for (const { idHex, reason } of corrupt) {
      try {
        const q = await this.#file(idHex).quarantine(reason);
        this.#quarantined.push(q);
        this.#onQuarantine(q);
      } catch (err) {
        // Could not even move it aside: leave it, refuse changes to that device, keep the rest.
        this.#skip(idHex, join(this.#dir, `${idHex}.json`), err as OpenClawError<"STORAGE">);
      }
    }
  }

  #skip(idHex: string, file: string, error: OpenClawError<"STATE_TOO_NEW" | "STORAGE">): void {
    this.#skipped.set(idHex, { file, deviceIdHex: idHex, error });
  }

  #file(idHex: string): JsonStateFile<typeof BondFileJson> {
    let f = this.#files.get(idHex);
    if (!f) {
      f = new JsonStateFile(this.#dir, `${idHex}.json`, BondFileJson, {
        formatVersion: BOND_FILE_VERSION,
        wallClock: () => this.#clock.wallNow(),
      });
      this.#files.set(idHex, f);
    }
    return f;
  }

  /** Path of a device's bond file (for `doctor` and messages). */
  fileOf(deviceIdHex: string): string {
    return join(this.#dir, `${normaliseId(deviceIdHex)}.json`);
  }

  /** Active bonds, oldest pairing first. Treat the returned objects as read-only. */
  list(): StoredBond[] {
    const out: StoredBond[] = [];
    for (const e of this.#entries.values()) if (e.active) out.push(e.active);
    return out.sort(
      (a, b) =>
        a.pairedAt - b.pairedAt || bytesToHex(a.record.deviceId).localeCompare(bytesToHex(b.record.deviceId)),
    );
  }

  get(deviceIdHex: string): StoredBond | undefined {
    return this.#entries.get(normaliseId(deviceIdHex))?.active;
  }

  /** What this load moved aside (for `devices` and `doctor`); see `quarantineError` for the words. */
  quarantined(): Quarantine[] {
    return [...this.#quarantined];
  }

  /** Files moved aside by earlier loads and still lying in the bonds directory. */
  earlierQuarantined(): string[] {
    return [...this.#earlierQuarantined].sort();
  }

  /** Files left untouched (newer format, unreadable); changes to those devices are refused. */
  skipped(): SkippedBondFile[] {
    return [...this.#skipped.values()];
  }

  /** Every candidate (a pairing not yet verified, e.g. left by a crash), for the core to settle. */
  candidates(): ControllerBond[] {
    const out: ControllerBond[] = [];
    for (const e of this.#entries.values()) if (e.candidate) out.push(e.candidate.record);
    return out;
  }

  candidate(deviceIdHex: string): ControllerBond | undefined {
    return this.#entries.get(normaliseId(deviceIdHex))?.candidate?.record;
  }

  /** Records a new bond beside the active one (if any); it takes over only on `commitCandidate`. */
  putCandidate(record: ControllerBond): Promise<void> {
    const idHex = bytesToHex(record.deviceId);
    return this.#change(idHex, (e) => ({
      ...e,
      candidate: { record, createdAt: this.#clock.wallNow() },
    })).then(() => {});
  }

  /**
   * The candidate verified: it becomes the device's bond, replacing any old one. `seen`: the radio it
   * verified on (kept as `lastSeen`).
   */
  async commitCandidate(deviceIdHex: string, seen?: SeenAt): Promise<StoredBond> {
    const idHex = normaliseId(deviceIdHex);
    const e = await this.#change(idHex, (cur) => {
      if (!cur.candidate) throw new OpenClawError("NOT_BONDED", { device: idHex });
      const now = this.#clock.wallNow();
      return {
        active: {
          record: cur.candidate.record,
          pairedAt: now,
          lastVerifiedAt: now,
          ...(seen ? { lastSeen: { ...seen, at: now } } : {}),
        },
      };
    });
    return e.active as StoredBond;
  }

  /** The (re-)pairing failed or was abandoned: the old bond, if any, stays as it was. */
  async dropCandidate(deviceIdHex: string): Promise<void> {
    const idHex = normaliseId(deviceIdHex);
    if (!this.#entries.get(idHex)?.candidate) return;
    await this.#change(idHex, ({ active }) => (active ? { active } : {}));
  }

  /**
   * A verify succeeded (with `key`, when the caller tried several): records the time, and settles an
   * unresolved rotation (the pending key verified → it is the key now; the old one did → drop pending).
   * `seen`: the radio it verified on, kept as `lastSeen` in the same write (without it the old stays).
   */
  async markVerified(deviceIdHex: string, key?: KeyPair, seen?: SeenAt): Promise<StoredBond> {
    const idHex = normaliseId(deviceIdHex);
    const e = await this.#change(idHex, (cur) => {
      const active = this.#requireActive(idHex, cur);
      const record = key ? verifiedWith(active.record, key) : active.record;
      const now = this.#clock.wallNow();
      return {
        ...cur,
        active: {
          ...active,
          record,
          lastVerifiedAt: now,
          ...(seen ? { lastSeen: { ...seen, at: now } } : {}),
        },
      };
    });
    return e.active as StoredBond;
  }

  /** Persists `newKey` as pending; call (and await) this BEFORE the rotate command is sent. */
  async beginRotation(deviceIdHex: string, newKey: KeyPair): Promise<StoredBond> {
    const idHex = normaliseId(deviceIdHex);
    const e = await this.#change(idHex, (cur) => {
      const active = this.#requireActive(idHex, cur);
      return { ...cur, active: { ...active, record: beginRotation(active.record, newKey) } };
    });
    return e.active as StoredBond;
  }

  /** Removes the device's bond (and any candidate). False when there was none. */
  async remove(deviceIdHex: string): Promise<boolean> {
    const idHex = normaliseId(deviceIdHex);
    let had = false;
    await this.#change(idHex, (cur) => {
      had = cur.active !== undefined || cur.candidate !== undefined;
      return {};
    });
    return had;
  }

  #requireActive(idHex: string, e: Entry): StoredBond {
    if (!e.active) throw new OpenClawError("NOT_BONDED", { device: idHex });
    return e.active;
  }

  /**
   * One transition of one device's file: computed from the current entry, written durably (one atomic
   * write, or an unlink when nothing is left), and only then visible. Transitions of a device run one
   * at a time; different devices proceed in parallel.
   */
  #change(idHex: string, next: (cur: Entry) => Entry): Promise<Entry> {
    if (!ID_HEX.test(idHex))
      return Promise.reject(
        new OpenClawError("INVALID_ARGUMENT", { detail: `a device id is ${DEVICE_ID_LEN * 2} hex digits` }),
      );
    const run = async (): Promise<Entry> => {
      const skipped = this.#skipped.get(idHex);
      if (skipped) throw skipped.error;
      const cur = this.#entries.get(idHex) ?? {};
      const e = next(cur);
      const file = this.#file(idHex);
      if (!e.active && !e.candidate) {
        if (cur.active || cur.candidate) await file.remove();
        this.#entries.delete(idHex);
      } else {
        await file.save(encodeBondFile(e));
        this.#entries.set(idHex, e);
      }
      return e;
    };
    const prev = this.#chains.get(idHex) ?? Promise.resolve();
    const result = prev.then(run);
    const tail = result.then(
      () => {},
      () => {},
    );
    this.#chains.set(idHex, tail);
    void tail.then(() => {
      if (this.#chains.get(idHex) === tail) this.#chains.delete(idHex);
    });
    return result;
  }
}
