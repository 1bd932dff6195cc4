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
import { fromHex, toHex } from "../bytes.js";
import { OpenClawError } from "../errors.js";
import { CONTROLLER_ID_LEN, MAX_TEXT, X25519_KEY_LEN } from "../messages/constants.js";
import type { BondView, Role } from "./types.js";

export const DEFAULT_SLOTS = 8;
export const MAX_SLOTS = 64;
export const DEFAULT_PROVISIONAL_TTL_MS = 5 * 60_000;

export type BondState = { kind: "provisional"; expiresAt: number } | { kind: "permanent" };

/** The permanent bond a re-pair's provisional bond will replace, kept until the new one verifies. */
export interface ReplacedBond {
  controllerStaticPublicKey: Uint8Array;
  role: Role;
  name: string;
  createdAt: number;
}

export interface Bond {
  controllerId: Uint8Array;
  controllerStaticPublicKey: Uint8Array;
  role: Role;
  name: string;
  state: BondState;
  /** When it was made: wall-clock ms when the table has `wallNow` (for people; never for expiry). */
  createdAt: number;
  /**
   * Set on a provisional bond made by re-pairing a controller that held a permanent bond: that bond,
   * still valid for verify until the new one verifies (then it goes) or expires (then it is back).
   */
  replaces?: ReplacedBond;
}

const hex = (len: number) =>
  z
    .string()
    .length(len * 2)
    .regex(/^[0-9a-f]+$/);

const ReplacedJson = z
  .object({
    controllerStaticPublicKey: hex(X25519_KEY_LEN),
    role: z.enum(["admin", "user"]),
    name: z.string().max(MAX_TEXT),
    createdAt: z.number().finite(),
  })
  .strict();

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
    replaces: ReplacedJson.optional(),
  })
  .strict()
  .refine((b) => b.replaces === undefined || b.state.kind === "provisional", {
    message: "only a provisional bond replaces another",
    path: ["replaces"],
  });

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

/** A controller id (or key) as it appears in events and the bond file. */
export const idHex = toHex;
const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

export interface BondTableOptions {
  slots?: number;
  provisionalTtlMs?: number;
  /**
   * Wall-clock ms since the epoch, for `createdAt` ("paired at", read by people). Expiry never uses
   * it: that is the monotonic `now`. Without it, `createdAt` falls back to the monotonic `now`.
   */
  wallNow?: () => number;
}

export class BondTable {
  readonly slots: number;
  readonly provisionalTtlMs: number;
  readonly #wallNow: (() => number) | undefined;
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
    this.#wallNow = opts.wallNow;
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
    return this.list().some((b) => b.role === "admin" || b.replaces?.role === "admin");
  }

  /**
   * Adds a provisional bond in the same controller's slot if it has one, else in a free slot. A
   * permanent bond of that controller is not dropped: it is kept as `replaces`, still good for verify,
   * until the new bond verifies (a re-pair that fails halfway must not unpair a working laptop).
   * Throws BOND_TABLE_FULL when there is no slot.
   */
  addProvisional(
    b: { controllerId: Uint8Array; controllerStaticPublicKey: Uint8Array; role: Role; name: string },
    now: number,
    createdAt: number = this.#wallNow?.() ?? now,
  ): Bond {
    const existing = this.#entries.findIndex((e) => e !== null && sameBytes(e.controllerId, b.controllerId));
    const slot = existing >= 0 ? existing : this.#entries.indexOf(null);
    if (slot < 0) throw new OpenClawError("BOND_TABLE_FULL", { slots: this.slots });
    const old = existing >= 0 ? this.#entries[existing]! : undefined;
    const replaces: ReplacedBond | undefined =
      old?.state.kind === "permanent"
        ? {
            controllerStaticPublicKey: old.controllerStaticPublicKey,
            role: old.role,
            name: old.name,
            createdAt: old.createdAt,
          }
        : old?.replaces;
    const bond: Bond = {
      controllerId: b.controllerId.slice(),
      controllerStaticPublicKey: b.controllerStaticPublicKey.slice(),
      role: b.role,
      name: b.name,
      state: { kind: "provisional", expiresAt: now + this.provisionalTtlMs },
      createdAt,
      ...(replaces ? { replaces } : {}),
    };
    this.#entries[slot] = bond;
    return bond;
  }

  /**
   * Provisional → permanent (the bond it replaces, if any, goes now). Returns false when there is no
   * such bond or it is already permanent.
   */
  confirm(controllerId: Uint8Array): boolean {
    const b = this.find(controllerId);
    if (!b || b.state.kind === "permanent") return false;
    b.state = { kind: "permanent" };
    delete b.replaces;
    return true;
  }

  /**
   * Rotates the controller's key. While a re-pair is pending, a session can only have verified with
   * the replaced bond (verifying the new one confirms it), so that is the one rotated.
   */
  setStaticKey(controllerId: Uint8Array, publicKey: Uint8Array): boolean {
    const b = this.find(controllerId);
    if (!b) return false;
    if (b.replaces) b.replaces.controllerStaticPublicKey = publicKey.slice();
    else b.controllerStaticPublicKey = publicKey.slice();
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

  /**
   * Removes provisional bonds whose time is up; returns them. A re-pair's bond that expires gives its
   * slot back to the permanent bond it would have replaced.
   */
  expire(now: number): Bond[] {
    const gone: Bond[] = [];
    this.#entries = this.#entries.map((e) => {
      if (e && e.state.kind === "provisional" && now >= e.state.expiresAt) {
        gone.push(e);
        if (!e.replaces) return null;
        return { controllerId: e.controllerId, ...e.replaces, state: { kind: "permanent" } };
      }
      return e;
    });
    return gone;
  }

  nextDeadline(): number | undefined {
    const times = this.list().flatMap((b) => (b.state.kind === "provisional" ? [b.state.expiresAt] : []));
    return times.length ? Math.min(...times) : undefined;
  }

  /**
   * One view per bond a controller may verify with: a pending re-pair shows both its provisional bond
   * and the permanent one it replaces (same controller id), so either key verifies.
   */
  views(): BondView[] {
    return this.list().flatMap((b) => {
      const view: BondView = {
        controllerId: b.controllerId.slice(),
        controllerStaticPublicKey: b.controllerStaticPublicKey.slice(),
        role: b.role,
        name: b.name,
        provisional: b.state.kind === "provisional",
        createdAt: b.createdAt,
      };
      if (!b.replaces) return [view];
      return [
        view,
        {
          controllerId: b.controllerId.slice(),
          controllerStaticPublicKey: b.replaces.controllerStaticPublicKey.slice(),
          role: b.replaces.role,
          name: b.replaces.name,
          provisional: false,
          createdAt: b.replaces.createdAt,
        },
      ];
    });
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
              ...(e.replaces
                ? {
                    replaces: {
                      controllerStaticPublicKey: idHex(e.replaces.controllerStaticPublicKey),
                      role: e.replaces.role,
                      name: e.replaces.name,
                      createdAt: e.replaces.createdAt,
                    },
                  }
                : {}),
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
      ...(opts.wallNow ? { wallNow: opts.wallNow } : {}),
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
        ...(e.replaces
          ? {
              replaces: {
                controllerStaticPublicKey: fromHex(e.replaces.controllerStaticPublicKey),
                role: e.replaces.role,
                name: e.replaces.name,
                createdAt: e.replaces.createdAt,
              },
            }
          : {}),
      };
    });
    return table;
  }
}
