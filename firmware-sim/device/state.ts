/**
 * The device's "flash": ONE document, `device.json` in the state directory, holding the identity, the
 * bond table and the attempt guard together. Every change rewrites the whole document atomically
 * (src/store JsonStateFile: temp file, fsync, rename, directory fsync), so a kill -9 or power cut at any
 * instant leaves either the old state or the new one — never a new identity with old bonds, or bonds
 * without their identity. A factory reset is therefore one atomic step: one write of a new identity with
 * an empty table and an empty guard. Temp files a killed write left behind (`device.json.<digits>`,
 * which may hold a private key or laptop names) are removed at boot and before a reset.
 *
 * Damage is repaired section by section and never silently: the damaged document is copied aside
 * (`device.json.corrupt-<time>`, kept, never deleted) and the boot reports what it did.
 *   - unparseable file → moved aside; the device starts as a new one; the guard is lost (at the limit)
 *   - identity section bad → a new identity; the bonds (useless without it) stay only in the copy
 *   - bonds section bad → an empty table
 *   - guard section bad → lost: the device starts at the limit (PairingWindow.restoreGuard)
 *   - a newer format version → STATE_TOO_NEW, nothing touched
 * State directories of the older layout (identity.json, bonds.json, guard.json) are migrated once
 * (firmware-sim/device/state-legacy.ts).
 */
import { z } from "zod";
import { BondTable, BondTableJson, type BondTableOptions } from "../../src/protocol/accessory/bonds.js";
import { generateAccessoryIdentity } from "../../src/protocol/accessory/identity.js";
import type { AccessoryIdentity } from "../../src/protocol/accessory/types.js";
import { OpenClawError } from "../../src/protocol/errors.js";
import type { RandomBytes } from "../../src/protocol/random.js";
import { type GuardSnapshot, GuardSnapshotSchema } from "../../src/protocol/window/guard.js";
import { JsonStateFile, type Quarantine, type WritePoint } from "../../src/store/json-file.js";
import { legacyLeftovers, migrateLegacyState } from "./state-legacy.js";
import {
  corruptError,
  EMPTY_GUARD,
  IdentityJson,
  identityFromJson,
  identityToJson,
  type StateNotice,
  zodWhere,
} from "./state-schema.js";

export type { StateNotice } from "./state-schema.js";

export const STATE_FILE = "device.json";
export const STATE_FORMAT = 1;

/** What is written: every section validated. */
const DeviceFile = z
  .object({
    version: z.literal(STATE_FORMAT),
    identity: IdentityJson,
    bonds: BondTableJson,
    guard: GuardSnapshotSchema,
  })
  .strict();
export type DeviceFile = z.infer<typeof DeviceFile>;

/** What is read: the envelope only, so each section can be checked (and repaired) on its own. */
const DeviceFileEnvelope = z.object({
  version: z.literal(STATE_FORMAT),
  identity: z.unknown(),
  bonds: z.unknown(),
  guard: z.unknown(),
});

/** Why the document is written (crash tests stop the process at a chosen write, see OPENCLAW_SIM_CRASH_AT). */
export type SaveCause = "boot" | "identity" | "bonds" | "guard" | "reset";

export interface BootedState {
  identity: AccessoryIdentity;
  bonds: BondTable | undefined;
  /** The stored guard; `null` when it was lost (the device then starts at the limit). */
  guard: GuardSnapshot | null;
  notices: StateNotice[];
}

export interface DeviceStateOptions {
  slots: number;
  provisionalTtlMs: number;
  /** The device's monotonic clock (provisional bonds are re-armed from it). */
  now: () => number;
  random: RandomBytes;
  /** Wall clock for quarantine file names and bonds' createdAt (for people, never for expiry). */
  wallClock?: () => number;
  /** Testing seam: called at each step of each write, with why it is written. */
  onWritePoint?: (cause: readonly SaveCause[], point: WritePoint) => void | Promise<void>;
}

/** The document as the device holds it in memory; written whole. */
export interface DeviceSnapshot {
  identity: AccessoryIdentity;
  bonds: BondTable;
  guard: GuardSnapshot;
}

export class DeviceStateStore {
  private readonly file: JsonStateFile<typeof DeviceFileEnvelope>;
  private causes: readonly SaveCause[] = [];
  private moved: Quarantine | undefined;

  constructor(
    readonly dir: string,
    private readonly o: DeviceStateOptions,
  ) {
    this.file = new JsonStateFile(dir, STATE_FILE, DeviceFileEnvelope, {
      formatVersion: STATE_FORMAT,
      onQuarantine: (q) => {
        this.moved = q;
      },
      ...(o.wallClock ? { wallClock: o.wallClock } : {}),
      ...(o.onWritePoint ? { onWritePoint: (point) => o.onWritePoint?.(this.causes, point) } : {}),
    });
  }

  get path(): string {
    return this.file.path;
  }

  /**
   * Reads (or makes, on first boot) the device's state, repairing and reporting damage. Throws
   * STATE_TOO_NEW (nothing touched), STORAGE, or INVALID_ARGUMENT when the table holds more bonds than
   * `slots` (a mistyped --slots never throws bonds away).
   *
   * The caller writes the state back (`save`) once its accessory has restored it and before it comes
   * up: that one write persists a new identity, a repair, and a guard restored at the limit together.
   */
  async boot(): Promise<BootedState> {
    const notices: StateNotice[] = [];
    this.moved = undefined;
    const stored = await this.file.load();
    const lostWhole = this.moved as Quarantine | undefined;
    if (!stored) {
      if (lostWhole !== undefined) {
        notices.push({
          message: `${lostWhole.file} ${lostWhole.reason}; moved it (kept, not deleted) to ${lostWhole.quarantinedAs}. This device starts as a new one: its old identity and bonds are in that file`,
          error: corruptError(lostWhole),
        });
        return this.fresh(null, notices);
      }
      // A damaged legacy file is reported by the migration, which moves it aside itself.
      const legacy = await migrateLegacyState(this.dir, {
        ...this.tableOptions(),
        now: this.o.now,
        ...(this.o.wallClock ? { wallClock: this.o.wallClock } : {}),
      });
      if (!legacy) return this.fresh(EMPTY_GUARD, notices);
      notices.push(...legacy.notices);
      const identity = legacy.identity ?? generateAccessoryIdentity(this.o.random);
      const guard = legacy.guard;
      // device.json first, then the old files go: a crash in between leaves them as leftovers (below).
      await this.save({ identity, bonds: legacy.bonds ?? this.emptyTable(), guard: guard ?? EMPTY_GUARD }, [
        "boot",
      ]);
      await legacy.finish();
      return { identity, bonds: legacy.bonds, guard, notices };
    }
    notices.push(...(await legacyLeftovers(this.dir, this.o.wallClock)));

    // Section by section. The first damage copies the document aside once; the repaired one is written.
    let preserved: Quarantine | undefined;
    const preserve = async (what: string) => {
      preserved ??= await this.file.preserve(what);
      return preserved;
    };

    let identity: AccessoryIdentity | undefined;
    const id = IdentityJson.safeParse(stored.identity);
    if (id.success) identity = identityFromJson(id.data);

    let bonds: BondTable | undefined;
    let bondsBad: string | undefined;
    const table = BondTableJson.safeParse(stored.bonds);
    if (table.success) {
      const held = table.data.entries.filter((e) => e !== null).length;
      if (held > this.o.slots) {
        throw new OpenClawError("INVALID_ARGUMENT", {
          detail: `${this.path} holds ${held} bonds, more than --slots ${this.o.slots}; start with a larger --slots (or another --state-dir)`,
          command: "sim",
        });
      }
      bonds = BondTable.fromJSON(table.data, this.o.now(), this.tableOptions());
    } else bondsBad = zodWhere(table.error);

    if (!identity) {
      const held = table.success ? table.data.entries.filter((e) => e !== null).length : 0;
      const q = await preserve("its identity section does not validate");
      notices.push({
        message: `${this.path}: the device identity ${id.success ? "" : `is damaged (at ${zodWhere(id.error)}) `}and cannot be used, so this device starts as a new one; ${held > 0 ? `its ${held} bond${held === 1 ? "" : "s"} could no longer verify and ${held === 1 ? "is" : "are"} kept (not deleted) in ${q.quarantinedAs}` : `the damaged file is kept in ${q.quarantinedAs}`}`,
        error: corruptError(q, "identity section"),
      });
      identity = generateAccessoryIdentity(this.o.random);
      bonds = undefined;
    } else if (bondsBad !== undefined) {
      const q = await preserve(`its bonds section does not validate at ${bondsBad}`);
      notices.push({
        message: `${this.path}: the bond table is damaged (at ${bondsBad}); the device starts with no bonds, the damaged table is kept (not deleted) in ${q.quarantinedAs}`,
        error: corruptError(q, "bonds section"),
      });
    }

    let guard: GuardSnapshot | null;
    const g = GuardSnapshotSchema.safeParse(stored.guard);
    if (g.success) guard = g.data;
    else {
      const q = await preserve(`its guard section does not validate at ${zodWhere(g.error)}`);
      notices.push({
        message: `${this.path}: the attempt guard is damaged (at ${zodWhere(g.error)}; the file is kept in ${q.quarantinedAs})`,
        error: corruptError(q, "guard section"),
      });
      guard = null;
    }
    return { identity, bonds, guard, notices };
  }

  /** Writes the whole document (atomic). */
  async save(s: DeviceSnapshot, causes: readonly SaveCause[]): Promise<void> {
    const doc: DeviceFile = {
      version: STATE_FORMAT,
      identity: identityToJson(s.identity),
      bonds: s.bonds.toJSON(),
      guard: s.guard,
    };
    const checked = DeviceFile.safeParse(doc);
    if (!checked.success) {
      throw new OpenClawError("INTERNAL", {
        detail: `refused to write ${this.path}: the device state does not validate at ${zodWhere(checked.error)}`,
      });
    }
    this.causes = causes;
    try {
      await this.file.save(checked.data);
    } finally {
      this.causes = [];
    }
  }

  /**
   * Factory reset, one atomic step: temp files of earlier writes go first (they may hold the old key),
   * then one write replaces identity, bonds and guard together.
   */
  async reset(identity: AccessoryIdentity): Promise<void> {
    await this.file.cleanTemps();
    await this.save({ identity, bonds: this.emptyTable(), guard: EMPTY_GUARD }, ["reset"]);
  }

  /** First boot (or the whole file lost): a new identity, to be saved by the caller (see boot). */
  private fresh(guard: GuardSnapshot | null, notices: StateNotice[]): BootedState {
    return { identity: generateAccessoryIdentity(this.o.random), bonds: undefined, guard, notices };
  }

  private tableOptions(): BondTableOptions & { slots: number; provisionalTtlMs: number } {
    return {
      slots: this.o.slots,
      provisionalTtlMs: this.o.provisionalTtlMs,
      ...(this.o.wallClock ? { wallNow: this.o.wallClock } : {}),
    };
  }

  private emptyTable(): BondTable {
    return new BondTable(this.tableOptions());
  }
}
