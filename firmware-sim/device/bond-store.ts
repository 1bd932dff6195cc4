/**
 * The device's bond table on "flash": bonds.json in the state directory, persisted atomically by
 * JsonStateFile. The table's shape and its validation belong to the pure accessory code
 * (src/protocol/accessory/bonds.ts serialise/deserialise); this module only stores what it is given,
 * so the sim and a firmware port cannot disagree on what a bond is.
 */
import { z } from "zod";
import { JsonStateFile, type Quarantine } from "../../src/store/json-file.js";

export interface BondTableCodec<T> {
  serialise(table: T): unknown;
  /** Throws on anything that is not a valid table (the store then quarantines the file). */
  deserialise(json: unknown): T;
  /**
   * Errors that mean "valid file, wrong settings" (more bonds than the configured slots): load rethrows
   * them instead of quarantining, so a mistyped --slots never throws bonds away.
   */
  isSettingsError?(err: unknown): boolean;
}

const Envelope = z.object({ version: z.literal(1), table: z.unknown() });

export class BondStore<T> {
  private readonly file: JsonStateFile<typeof Envelope>;

  constructor(
    dir: string,
    private readonly codec: BondTableCodec<T>,
    onQuarantine?: (q: Quarantine) => void,
  ) {
    this.file = new JsonStateFile(dir, "bonds.json", Envelope, {
      ...(onQuarantine ? { onQuarantine } : {}),
      formatVersion: 1,
    });
  }

  get path(): string {
    return this.file.path;
  }

  /**
   * The stored table, or undefined when there is none (first boot, or a corrupt file now quarantined).
   * A file written by a newer version throws STATE_TOO_NEW.
   */
  async load(): Promise<T | undefined> {
    const stored = await this.file.load();
    if (!stored) return undefined;
    try {
      return this.codec.deserialise(stored.table);
    } catch (err) {
      if (this.codec.isSettingsError?.(err)) throw err;
      await this.file.quarantine("the bond table does not validate");
      return undefined;
    }
  }

  async save(table: T): Promise<void> {
    await this.file.save({ version: 1, table: this.codec.serialise(table) });
  }

  async clear(): Promise<void> {
    await this.file.remove();
  }

  /** Moves the file aside (kept for inspection, never deleted), e.g. when its identity is gone. */
  quarantine(reason: string): Promise<Quarantine> {
    return this.file.quarantine(reason);
  }
}
