/**
 * The attempt guard on "flash": guard.json in the state directory, persisted atomically (0600) by
 * JsonStateFile on every `guard-changed` event and loaded at boot, so pulling the battery does not hand
 * an attacker a fresh set of guesses (PROTOCOL §6.2). Its shape belongs to the pure window code
 * (src/protocol/window/guard.ts): counts and the lockout time left, no timestamps, no secrets.
 * A corrupt file is quarantined and the device boots with an empty guard, like the other state files.
 */
import { z } from "zod";
import { type GuardSnapshot, GuardSnapshotSchema } from "../../src/protocol/window/guard.js";
import { JsonStateFile, type Quarantine } from "../../src/store/json-file.js";

const GuardFileSchema = z.object({ version: z.literal(1), guard: GuardSnapshotSchema });

/** A guard with nothing in it is stored as no file at all. */
const isEmpty = (g: GuardSnapshot) =>
  g.failuresInLastHour === 0 && g.lockouts === 0 && g.lockedForMs === 0 && (g.unsettled ?? 0) === 0;

/** What boot found: a guard, none (never any failures), or a file that did not read back (quarantined). */
export type LoadedGuard =
  | { kind: "none" }
  | { kind: "ok"; guard: GuardSnapshot }
  | { kind: "lost"; quarantine: Quarantine };

export class GuardStore {
  private readonly file: JsonStateFile<typeof GuardFileSchema>;
  private lost: Quarantine | undefined;

  constructor(dir: string) {
    this.file = new JsonStateFile(dir, "guard.json", GuardFileSchema, {
      onQuarantine: (q) => {
        this.lost = q;
      },
      formatVersion: 1,
    });
  }

  get path(): string {
    return this.file.path;
  }

  /** The stored guard; a corrupt file is quarantined and reported as lost (the device then starts at the limit). */
  async load(): Promise<LoadedGuard> {
    this.lost = undefined;
    const stored = await this.file.load();
    if (stored) return { kind: "ok", guard: stored.guard };
    if (this.lost) return { kind: "lost", quarantine: this.lost };
    return { kind: "none" };
  }

  async save(guard: GuardSnapshot): Promise<void> {
    if (isEmpty(guard)) await this.file.remove();
    else await this.file.save({ version: 1, guard });
  }

  async clear(): Promise<void> {
    await this.file.remove();
  }
}
