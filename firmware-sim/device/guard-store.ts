/**
 * The attempt guard on "flash": guard.json in the state directory, persisted atomically (0600) by
 * JsonStateFile on every `guard-changed` event and loaded at boot, so pulling the battery does not hand
 * an attacker a fresh set of guesses (PROTOCOL §6.2). Its shape belongs to the pure window code
 * (src/protocol/window/guard.ts): counts and the lockout time left, no timestamps, no secrets.
 * A corrupt file is quarantined and the device boots with an empty guard, like the other state files.
 */
import { z } from "zod";
import { type GuardSnapshot, GuardSnapshotSchema } from "../../src/protocol/window/guard.js";
import { JsonStateFile, type Quarantine } from "./state-file.js";

const GuardFileSchema = z.object({ version: z.literal(1), guard: GuardSnapshotSchema });

/** A guard with nothing in it is stored as no file at all. */
const isEmpty = (g: GuardSnapshot) =>
  g.failuresInLastHour === 0 && g.lockouts === 0 && g.lockedForMs === 0 && (g.unsettled ?? 0) === 0;

export class GuardStore {
  private readonly file: JsonStateFile<typeof GuardFileSchema>;

  constructor(dir: string, onQuarantine?: (q: Quarantine) => void) {
    this.file = new JsonStateFile(dir, "guard.json", GuardFileSchema, onQuarantine);
  }

  get path(): string {
    return this.file.path;
  }

  /** The stored guard, or undefined (none yet, or a corrupt file now quarantined). */
  async load(): Promise<GuardSnapshot | undefined> {
    return (await this.file.load())?.guard;
  }

  async save(guard: GuardSnapshot): Promise<void> {
    if (isEmpty(guard)) await this.file.remove();
    else await this.file.save({ version: 1, guard });
  }

  async clear(): Promise<void> {
    await this.file.remove();
  }
}
