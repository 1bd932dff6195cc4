/**
 * The device's bond table: a fixed number of slots (default 8), each empty or holding one controller's
 * bond. A bond is provisional from pair-setup until the controller's first successful verify (src/protocol/verify
 * calls `confirm`), and a provisional bond that is never confirmed expires (default 5 min), so a lost
 * final pair-setup message never leaves a half bond behind for long.
 *
 * Times are on the device's monotonic clock. Such a clock restarts at boot, so a persisted provisional
 * bond is re-armed with a full provisional lifetime when the table is loaded (`fromJSON(json, now)`).
 */
import { z } from "zod";
import { OpenClawError } from "../errors.js";
import { CONTROLLER_ID_LEN, MAX_TEXT, X25519_KEY_LEN } from "../messages/constants.js";
import type { BondView, Role } from "./types.js";

export const DEFAULT_SLOTS = 8;
export const MAX_SLOTS = 64;
export const DEFAULT_PROVISIONAL_TTL_MS = 5 * 60_000;

export type BondState = { kind: "provisional"; expiresAt: number } | { kind: "permanent" };

export interface Bond {
  controllerId: Uint8Array;
  controllerStaticPublicKey: Uint8Array;
  role: Role;
  name: string;
  state: BondState;
  createdAt: number;
}

const hex = (len: number) =>
  z
    .string()
    .length(len * 2)
    .regex(/^[0-9a-f]+$/);

const BondJson = z
  .object({
    controllerId: hex(CONTROLLER_ID_LEN),
    controllerStaticPublicKey: hex(X25519_KEY_LEN),
    role: z.enum(["admin", "user"]),
    name: z.string().max(MAX_TEXT),
    state: z.discriminatedUnion("kind", [
      z.object({ kind: z.literal("provisional"), expiresAt: z.number().finite() }).strict(),
      z.object({ kind: z.literal("permanent") }).strict(),
    ]),
    createdAt: z.number().finite(),
  })
  .strict();

export const BondTableJson = z
  .object({
    slots: z.number().int().min(1).max(MAX_SLOTS),
    provisionalTtlMs: z
      .number()
      .int()
      .min(1000)
      .max(24 * 3600_000),
    entries: z.array(BondJson.nullable()).max(MAX_SLOTS),
  })
  .strict()
  .superRefine((t, ctx) => {
    const ids = t.entries.flatMap((e) => (e ? [e.controllerId] : []));
    if (new Set(ids).size !== ids.length) ctx.addIssue({ code: "custom", path: ["entries"], message: "dup" });
  });

export type BondTableJson = z.infer<typeof BondTableJson>;

export const idHex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
const fromHex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

export interface BondTableOptions {
  slots?: number;
  provisionalTtlMs?: number;
}

export class BondTable {
  readonly slots: number;
  readonly provisionalTtlMs: number;
  #entries: Array<Bond | null>;

  constructor(opts: BondTableOptions = {}) {
    const slots = opts.slots ?? DEFAULT_SLOTS;
    const ttl = opts.provisionalTtlMs ?? DEFAULT_PROVISIONAL_TTL_MS;
    if (!Number.isInteger(slots) || slots < 1 || slots > MAX_SLOTS) {
      throw new OpenClawError("INVALID_ARGUMENT", { detail: `bond slots must be 1..${MAX_SLOTS}` });
    }
    if (!Number.isInteger(ttl) || ttl < 1000) {
      throw new OpenClawError("INVALID_ARGUMENT", {
        detail: "provisional bond lifetime must be at least 1 s",
      });
    }
    this.slots = slots;
    this.provisionalTtlMs = ttl;
    this.#entries = new Array<Bond | null>(slots).fill(null);
  }

  /** Bonds in slot order. */
  list(): readonly Bond[] {
    return this.#entries.filter((e): e is Bond => e !== null);
  }

  get used(): number {
    return this.list().length;
  }

  find(controllerId: Uint8Array): Bond | undefined {
    return this.list().find((b) => sameBytes(b.controllerId, controllerId));
  }

  /** No free slot for this controller (its own existing bond would be replaced, so it does not count). */
  isFullFor(controllerId: Uint8Array): boolean {
    return this.find(controllerId) === undefined && this.used >= this.slots;
  }

  hasAdmin(): boolean {
    return this.list().some((b) => b.role === "admin");
  }

  /**
   * Adds a provisional bond, replacing the same controller's bond if there is one (same slot).
   * Throws BOND_TABLE_FULL when there is no slot.
   */
  addProvisional(
    b: { controllerId: Uint8Array; controllerStaticPublicKey: Uint8Array; role: Role; name: string },
    now: number,
  ): Bond {
    const bond: Bond = {
      controllerId: b.controllerId.slice(),
      controllerStaticPublicKey: b.controllerStaticPublicKey.slice(),
      role: b.role,
      name: b.name,
      state: { kind: "provisional", expiresAt: now + this.provisionalTtlMs },
      createdAt: now,
    };
    const existing = this.#entries.findIndex((e) => e !== null && sameBytes(e.controllerId, b.controllerId));
    const slot = existing >= 0 ? existing : this.#entries.indexOf(null);
    if (slot < 0) throw new OpenClawError("BOND_TABLE_FULL", { slots: this.slots });
    this.#entries[slot] = bond;
    return bond;
  }

  /** Provisional → permanent. Returns false when there is no such bond or it is already permanent. */
  confirm(controllerId: Uint8Array): boolean {
    const b = this.find(controllerId);
    if (!b || b.state.kind === "permanent") return false;
    b.state = { kind: "permanent" };
    return true;
  }

  setStaticKey(controllerId: Uint8Array, publicKey: Uint8Array): boolean {
    const b = this.find(controllerId);
    if (!b) return false;
    b.controllerStaticPublicKey = publicKey.slice();
    return true;
  }

  remove(controllerId: Uint8Array): Bond | undefined {
    const i = this.#entries.findIndex((e) => e !== null && sameBytes(e.controllerId, controllerId));
    if (i < 0) return undefined;
    const b = this.#entries[i]!;
    this.#entries[i] = null;
    return b;
  }

  clear(): void {
    this.#entries.fill(null);
  }

  /** Removes provisional bonds whose time is up; returns them. */
  expire(now: number): Bond[] {
    const gone: Bond[] = [];
    this.#entries = this.#entries.map((e) => {
      if (e && e.state.kind === "provisional" && now >= e.state.expiresAt) {
        gone.push(e);
        return null;
      }
      return e;
    });
    return gone;
  }

  nextDeadline(): number | undefined {
    const times = this.list().flatMap((b) => (b.state.kind === "provisional" ? [b.state.expiresAt] : []));
    return times.length ? Math.min(...times) : undefined;
  }

  views(): BondView[] {
    return this.list().map((b) => ({
      controllerId: b.controllerId.slice(),
      controllerStaticPublicKey: b.controllerStaticPublicKey.slice(),
      role: b.role,
      name: b.name,
      provisional: b.state.kind === "provisional",
      createdAt: b.createdAt,
    }));
  }

  toJSON(): BondTableJson {
    return {
      slots: this.slots,
      provisionalTtlMs: this.provisionalTtlMs,
      entries: this.#entries.map((e) =>
        e === null
          ? null
          : {
              controllerId: idHex(e.controllerId),
              controllerStaticPublicKey: idHex(e.controllerStaticPublicKey),
              role: e.role,
              name: e.name,
              state: e.state.kind === "provisional" ? { ...e.state } : { kind: "permanent" as const },
              createdAt: e.createdAt,
            },
      ),
    };
  }

  /**
   * Loads a persisted table, zod-validated: STORE_CORRUPT (naming `opts.path`, where it was read from)
   * when it does not validate; INVALID_ARGUMENT when it holds more bonds than the `slots` asked for (a
   * setting, not damage). Provisional bonds get a fresh lifetime from `now` (the clock restarted).
   */
  static fromJSON(json: unknown, now: number, opts: BondTableOptions & { path?: string } = {}): BondTable {
    const p = BondTableJson.safeParse(json);
    if (!p.success) {
      throw new OpenClawError("STORE_CORRUPT", {
        path: opts.path ?? "bond table",
        detail: `invalid ${p.error.issues[0]?.path.join(".") || "table"}`,
      });
    }
    const stored = p.data.entries.filter((e) => e !== null);
    const table = new BondTable({
      slots: opts.slots ?? p.data.slots,
      provisionalTtlMs: opts.provisionalTtlMs ?? p.data.provisionalTtlMs,
    });
    if (stored.length > table.slots) {
      throw new OpenClawError("INVALID_ARGUMENT", {
        detail: `the bond table holds ${stored.length} bonds, more than the ${table.slots} slots configured`,
      });
    }
    // Keep slot positions when they fit, otherwise pack.
    const fits = p.data.entries.length <= table.slots;
    let next = 0;
    p.data.entries.forEach((e, i) => {
      if (!e) return;
      const slot = fits ? i : next++;
      table.#entries[slot] = {
        controllerId: fromHex(e.controllerId),
        controllerStaticPublicKey: fromHex(e.controllerStaticPublicKey),
        role: e.role,
        name: e.name,
        state:
          e.state.kind === "provisional"
            ? { kind: "provisional", expiresAt: now + table.provisionalTtlMs }
            : { kind: "permanent" },
        createdAt: e.createdAt,
      };
    });
    return table;
  }
}
