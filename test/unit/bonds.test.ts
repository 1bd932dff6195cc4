import { describe, expect, it } from "vitest";
import { BondTable } from "../../src/protocol/accessory/bonds.js";

const id = (n: number) => new Uint8Array(16).fill(n);
const key = (n: number) => new Uint8Array(32).fill(n);
const add = (t: BondTable, n: number, now = 0, role: "admin" | "user" = "user") =>
  t.addProvisional({ controllerId: id(n), controllerStaticPublicKey: key(n), role, name: `c${n}` }, now);

describe("bond table", () => {
  it("has fixed slots and reports BOND_TABLE_FULL", () => {
    const t = new BondTable({ slots: 2 });
    add(t, 1);
    add(t, 2);
    expect(t.isFullFor(id(3))).toBe(true);
    expect(t.isFullFor(id(1))).toBe(false);
    expect(() => add(t, 3)).toThrowError(
      expect.objectContaining({ code: "BOND_TABLE_FULL" }) as unknown as Error,
    );
    t.remove(id(1));
    add(t, 3);
    expect(t.list().map((b) => b.name)).toEqual(["c3", "c2"]); // the freed slot is reused
  });

  it("provisional bonds expire unless confirmed", () => {
    const t = new BondTable({ provisionalTtlMs: 10_000 });
    add(t, 1, 0);
    add(t, 2, 5);
    expect(t.confirm(id(1))).toBe(true);
    expect(t.confirm(id(1))).toBe(false);
    expect(t.nextDeadline()).toBe(10_005);
    expect(t.expire(10_004)).toEqual([]);
    expect(t.expire(10_005).map((b) => b.name)).toEqual(["c2"]);
    expect(t.nextDeadline()).toBeUndefined();
  });

  it("round-trips through JSON; loading re-arms provisional bonds and validates", () => {
    const t = new BondTable({ slots: 4 });
    add(t, 1, 0, "admin");
    add(t, 2, 0);
    t.confirm(id(1));
    const json = JSON.parse(JSON.stringify(t.toJSON())) as unknown;
    const back = BondTable.fromJSON(json, 1_000_000);
    expect(back.slots).toBe(4);
    expect(back.list().map((b) => [b.name, b.role, b.state])).toEqual([
      ["c1", "admin", { kind: "permanent" }],
      ["c2", "user", { kind: "provisional", expiresAt: 1_000_000 + 300_000 }],
    ]);
    expect(BondTable.fromJSON(JSON.parse(JSON.stringify(t.toJSON())), 7).list()).toHaveLength(2);
    const bad = [
      null,
      {},
      { ...(json as object), slots: 0 },
      { ...(json as object), extra: 1 },
      { slots: 2, provisionalTtlMs: 300_000, entries: [{ controllerId: "zz" }] },
    ];
    for (const b of bad) {
      // Damaged data is STORE_CORRUPT naming where it came from, not a bad argument.
      expect(() => BondTable.fromJSON(b, 0, { path: "/x/device.json" })).toThrowError(
        expect.objectContaining({
          code: "STORE_CORRUPT",
          details: expect.objectContaining({ path: "/x/device.json" }),
        }) as unknown as Error,
      );
    }
    const dup = t.toJSON();
    dup.entries[2] = dup.entries[0] ?? null;
    expect(() => BondTable.fromJSON(dup, 0)).toThrow();
    expect(() => BondTable.fromJSON(t.toJSON(), 0, { slots: 1 })).toThrowError(
      expect.objectContaining({ code: "INVALID_ARGUMENT" }) as unknown as Error,
    );
    expect(BondTable.fromJSON(t.toJSON(), 0, { slots: 2 }).used).toBe(2);
  });

  it("re-pairing replaces the same controller's bond in its slot", () => {
    const t = new BondTable({ slots: 2 });
    add(t, 1);
    add(t, 2);
    t.addProvisional(
      { controllerId: id(1), controllerStaticPublicKey: key(9), role: "user", name: "again" },
      0,
    );
    expect(t.list().map((b) => b.name)).toEqual(["again", "c2"]);
    expect(t.find(id(1))?.controllerStaticPublicKey).toEqual(key(9));
  });

  it("a re-pair keeps the permanent bond until the new one verifies, and gives it back if it expires", () => {
    const t = new BondTable({ slots: 2, provisionalTtlMs: 1000 });
    add(t, 1, 0, "admin");
    t.confirm(id(1));
    // Re-pair with a new key: the old permanent bond stays verifiable beside the provisional one.
    t.addProvisional(
      { controllerId: id(1), controllerStaticPublicKey: key(9), role: "admin", name: "new" },
      100,
    );
    expect(t.used).toBe(1);
    expect(t.views().map((v) => [v.controllerStaticPublicKey[0], v.provisional])).toEqual([
      [9, true],
      [1, false],
    ]);
    const json = JSON.parse(JSON.stringify(t.toJSON()));
    expect(BondTable.fromJSON(json, 0).views()).toHaveLength(2);
    // Expiry without a verify: the slot holds the old bond again, permanent.
    expect(t.expire(1100).map((b) => b.name)).toEqual(["new"]);
    expect(t.list().map((b) => [b.name, b.state.kind, b.controllerStaticPublicKey[0]])).toEqual([
      ["c1", "permanent", 1],
    ]);
    // A re-pair that verifies: the old bond goes.
    t.addProvisional(
      { controllerId: id(1), controllerStaticPublicKey: key(8), role: "admin", name: "newer" },
      2000,
    );
    expect(t.confirm(id(1))).toBe(true);
    expect(t.views().map((v) => v.controllerStaticPublicKey[0])).toEqual([8]);
    // Only a provisional bond may carry the one it replaces.
    const bad = t.toJSON();
    const e = bad.entries[0]!;
    const replaces = {
      controllerStaticPublicKey: e.controllerStaticPublicKey,
      role: e.role,
      name: "x",
      createdAt: 0,
    };
    expect(() => BondTable.fromJSON({ ...bad, entries: [{ ...e, replaces }, null] }, 0)).toThrow();
    const provisional = { ...e, state: { kind: "provisional" as const, expiresAt: 5 }, replaces };
    expect(BondTable.fromJSON({ ...bad, entries: [provisional, null] }, 0).views()).toHaveLength(2);
  });

  it("a key rotation during a pending re-pair rotates the bond the session verified with (the old one)", () => {
    const t = new BondTable({ slots: 2 });
    add(t, 1);
    t.confirm(id(1));
    t.addProvisional(
      { controllerId: id(1), controllerStaticPublicKey: key(9), role: "user", name: "new" },
      0,
    );
    t.setStaticKey(id(1), key(5));
    expect(t.views().map((v) => v.controllerStaticPublicKey[0])).toEqual([9, 5]);
  });

  it("createdAt is wall time for people; expiry stays on the monotonic clock", () => {
    const wall = Date.UTC(2026, 4, 1, 12, 0, 0);
    const t = new BondTable({ slots: 2, provisionalTtlMs: 1000, wallNow: () => wall });
    const b = add(t, 1, 50);
    expect(b.createdAt).toBe(wall);
    expect(b.state).toEqual({ kind: "provisional", expiresAt: 1050 });
    expect(BondTable.fromJSON(t.toJSON(), 0).list()[0]!.createdAt).toBe(wall);
  });
});
