/**
 * The older layout of a device's state directory — three files, identity.json, bonds.json and
 * guard.json, written one after the other — migrated once into device.json (state.ts), which keeps them
 * in one atomic document. Nothing is lost on the way: a damaged file is moved aside and reported, bonds
 * whose identity is missing or damaged are moved aside (they could never verify again), a file of a
 * newer version stops the boot (STATE_TOO_NEW) with nothing touched. The old files go only after
 * device.json is on disk; a crash in between leaves them next to it, and the next boot moves those
 * leftovers aside (`legacyLeftovers`).
 */
import { access } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { BondTable, BondTableJson } from "../../src/protocol/accessory/bonds.js";
import type { AccessoryIdentity } from "../../src/protocol/accessory/types.js";
import { OpenClawError } from "../../src/protocol/errors.js";
import { type GuardSnapshot, GuardSnapshotSchema } from "../../src/protocol/window/guard.js";
import { JsonStateFile, type Quarantine } from "../../src/store/json-file.js";
import {
  corruptError,
  EMPTY_GUARD,
  IdentityJson,
  identityFromJson,
  type StateNotice,
} from "./state-schema.js";

const LEGACY = {
  identity: { name: "identity.json", schema: IdentityJson.extend({ version: z.literal(1) }).strict() },
  bonds: { name: "bonds.json", schema: z.object({ version: z.literal(1), table: z.unknown() }) },
  guard: { name: "guard.json", schema: z.object({ version: z.literal(1), guard: GuardSnapshotSchema }) },
} as const;
const LEGACY_NAMES = Object.values(LEGACY).map((l) => l.name);

export interface LegacyState {
  identity: AccessoryIdentity | undefined;
  bonds: BondTable | undefined;
  /** null: guard.json was damaged (the device starts at the limit). No file was an empty guard. */
  guard: GuardSnapshot | null;
  notices: StateNotice[];
  /** Removes the migrated files; call once device.json holds their content. */
  finish(): Promise<void>;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

function file<S extends z.ZodType>(
  dir: string,
  name: string,
  schema: S,
  moved: Quarantine[],
  wallClock?: () => number,
): JsonStateFile<S> {
  return new JsonStateFile(dir, name, schema, {
    formatVersion: 1,
    onQuarantine: (q) => moved.push(q),
    ...(wallClock ? { wallClock } : {}),
  });
}

/** Reads the older layout, or returns undefined when the directory holds none of its files. */
export async function migrateLegacyState(
  dir: string,
  o: { slots: number; provisionalTtlMs: number; now?: () => number; wallClock?: () => number },
): Promise<LegacyState | undefined> {
  const moved: Quarantine[] = [];
  const files = {
    identity: file(dir, LEGACY.identity.name, LEGACY.identity.schema, moved, o.wallClock),
    bonds: file(dir, LEGACY.bonds.name, LEGACY.bonds.schema, moved, o.wallClock),
    guard: file(dir, LEGACY.guard.name, LEGACY.guard.schema, moved, o.wallClock),
  };
  // Temp files of the old writer (identity.json.N holds a private key, bonds.json.N laptop names).
  for (const f of Object.values(files)) await f.cleanTemps();
  const present = await Promise.all(LEGACY_NAMES.map((n) => exists(join(dir, n))));
  if (!present.some(Boolean)) return undefined;

  // Look at everything before changing anything: a newer file (STATE_TOO_NEW) must stop us untouched.
  for (const f of Object.values(files)) await f.inspect();
  const notices: StateNotice[] = [];
  const id = await files.identity.load();
  const identity = id ? identityFromJson(id) : undefined;
  let bonds: BondTable | undefined;
  const storedBonds = await files.bonds.load();
  if (storedBonds) {
    const table = BondTableJson.safeParse(storedBonds.table);
    if (!table.success) await files.bonds.quarantine("the bond table does not validate");
    else {
      const held = table.data.entries.filter((e) => e !== null).length;
      if (held > o.slots)
        throw new OpenClawError("INVALID_ARGUMENT", {
          detail: `${files.bonds.path} holds ${held} bonds, more than --slots ${o.slots}; start with a larger --slots (or another --state-dir)`,
          command: "sim",
        });
      bonds = BondTable.fromJSON(table.data, o.now?.() ?? 0, o);
    }
  }
  const storedGuard = await files.guard.load();
  const guardLost = moved.some((q) => q.file === files.guard.path);
  const guard = storedGuard ? storedGuard.guard : guardLost ? null : { ...EMPTY_GUARD };

  for (const q of moved) {
    notices.push({
      message: `${q.file} ${q.reason}; moved it (kept, not deleted) to ${q.quarantinedAs}`,
      error: corruptError(q),
    });
  }
  if (!identity && bonds) {
    // A new identity cannot verify these bonds, but they are a person's data: aside, reported.
    const held = bonds.used;
    const q = await files.bonds.quarantine("belongs to a device identity that is gone");
    bonds = undefined;
    notices.push({
      message: `${files.identity.path} was missing or unusable, so this device starts as a new one; its ${held} bond${held === 1 ? "" : "s"} could no longer verify and ${held === 1 ? "was" : "were"} moved (kept, not deleted) to ${q.quarantinedAs}`,
      error: corruptError(q),
    });
  }
  notices.push({
    message: `moved ${LEGACY_NAMES.filter((_, i) => present[i]).join(", ")} into device.json (identity, bonds and guard now live in one file, written atomically)`,
  });
  return {
    identity,
    bonds,
    guard,
    notices,
    finish: async () => {
      for (const f of Object.values(files)) await f.remove();
    },
  };
}

/**
 * Old-layout files next to device.json (a migration interrupted after device.json was written, or
 * files copied in by hand): moved aside and reported, never read, never deleted.
 */
export async function legacyLeftovers(dir: string, wallClock?: () => number): Promise<StateNotice[]> {
  const notices: StateNotice[] = [];
  for (const name of LEGACY_NAMES) {
    const f = new JsonStateFile(dir, name, z.unknown(), wallClock ? { wallClock } : {});
    await f.cleanTemps();
    if (!(await exists(f.path))) continue;
    const q = await f.quarantine("is left over from the older layout next to device.json");
    notices.push({
      message: `${q.file} ${q.reason} (device.json is what counts); moved it to ${q.quarantinedAs}`,
    });
  }
  return notices;
}
