/**
 * The simulated device's state document (firmware-sim/device/state.ts) without a radio: one file for
 * identity, bonds and guard; damage repaired section by section and reported, never deleted; the older
 * three-file layout migrated; a factory reset as one write that removes leftover temp files first.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DeviceStateStore } from "../../firmware-sim/device/state.js";
import { EMPTY_GUARD, identityToJson } from "../../firmware-sim/device/state-schema.js";
import { BondTable } from "../../src/protocol/accessory/bonds.js";
import { generateAccessoryIdentity } from "../../src/protocol/accessory/identity.js";
import { seededRandom } from "../../src/protocol/random.js";

let dir: string;
beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), "sim-state-")), "state");
  await mkdir(dir, { mode: 0o700 });
});
afterEach(async () => {
  await rm(join(dir, ".."), { recursive: true, force: true });
});

const store = (seed = "state") =>
  new DeviceStateStore(dir, {
    slots: 4,
    provisionalTtlMs: 60_000,
    now: () => 1000,
    random: seededRandom(seed),
    wallClock: () => Date.UTC(2026, 0, 1),
  });

function tableWithOne(): BondTable {
  const t = new BondTable({ slots: 4, provisionalTtlMs: 60_000 });
  t.addProvisional(
    {
      controllerId: new Uint8Array(16).fill(7),
      controllerStaticPublicKey: new Uint8Array(32).fill(8),
      role: "admin",
      name: "laptop",
    },
    0,
  );
  t.confirm(new Uint8Array(16).fill(7));
  return t;
}

const read = async () =>
  JSON.parse(await readFile(join(dir, "device.json"), "utf8")) as Record<string, unknown>;

describe("device state (device.json)", () => {
  it("first boot makes an identity; a save reads back whole", async () => {
    const first = await store().boot();
    expect(first.bonds).toBeUndefined();
    expect(first.guard).toEqual(EMPTY_GUARD);
    expect(first.notices).toEqual([]);
    const guard = { failuresInLastHour: 2, lockouts: 0, lockedForMs: 0, unsettled: 0 };
    await store().save({ identity: first.identity, bonds: tableWithOne(), guard }, ["bonds"]);
    const again = await store().boot();
    expect(again.identity).toEqual(first.identity);
    expect(again.bonds?.list().map((b) => b.name)).toEqual(["laptop"]);
    expect(again.guard).toEqual(guard);
  });

  it("repairs a damaged section, reports it with STORE_CORRUPT, and keeps the damaged document", async () => {
    const { identity } = await store().boot();
    await store().save({ identity, bonds: tableWithOne(), guard: EMPTY_GUARD }, ["bonds"]);
    const doc = await read();
    await writeFile(join(dir, "device.json"), JSON.stringify({ ...doc, bonds: { slots: "x" } }));
    const b = await store().boot();
    expect(b.identity).toEqual(identity);
    expect(b.bonds).toBeUndefined();
    expect(b.notices).toHaveLength(1);
    expect(b.notices[0]!.error?.code).toBe("STORE_CORRUPT");
    const copy = (await readdir(dir)).find((n) => n.startsWith("device.json.corrupt-"));
    expect(copy).toBeDefined();
    expect(b.notices[0]!.message).toContain(copy);

    await writeFile(join(dir, "device.json"), JSON.stringify({ ...doc, guard: null }));
    expect((await store().boot()).guard).toBeNull(); // lost: the accessory starts at the limit
  });

  it("a damaged identity means a new device: the bonds stay only in the copy", async () => {
    const { identity } = await store().boot();
    await store().save({ identity, bonds: tableWithOne(), guard: EMPTY_GUARD }, ["bonds"]);
    const doc = await read();
    await writeFile(join(dir, "device.json"), JSON.stringify({ ...doc, identity: {} }));
    const b = await store("other").boot();
    expect(b.identity.deviceId).not.toEqual(identity.deviceId);
    expect(b.bonds).toBeUndefined();
    expect(b.notices[0]!.message).toMatch(/1 bond could no longer verify and is kept \(not deleted\)/);
  });

  it("migrates the older layout, and a newer file in it stops the boot with nothing touched", async () => {
    const identity = generateAccessoryIdentity(seededRandom("legacy"));
    await writeFile(join(dir, "identity.json"), JSON.stringify({ version: 1, ...identityToJson(identity) }));
    await writeFile(join(dir, "bonds.json"), JSON.stringify({ version: 2, table: {} }));
    await expect(store().boot()).rejects.toMatchObject({ code: "STATE_TOO_NEW" });
    expect((await readdir(dir)).sort()).toEqual(["bonds.json", "identity.json"]);

    await writeFile(join(dir, "bonds.json"), JSON.stringify({ version: 1, table: tableWithOne().toJSON() }));
    const b = await store().boot();
    expect(b.identity).toEqual(identity);
    expect(b.bonds?.used).toBe(1);
    expect(await readdir(dir)).toEqual(["device.json"]);
    expect(b.notices.map((n) => n.message).join("\n")).toMatch(/into device\.json/);
  });

  it("a factory reset is one write that also removes leftover temp files", async () => {
    const { identity } = await store().boot();
    await store().save({ identity, bonds: tableWithOne(), guard: EMPTY_GUARD }, ["bonds"]);
    await writeFile(join(dir, "device.json.991"), '{"staticPrivateKey":"old"');
    const fresh = generateAccessoryIdentity(seededRandom("fresh"));
    await store().reset(fresh);
    expect(await readdir(dir)).toEqual(["device.json"]);
    const doc = await read();
    expect(doc["identity"]).toEqual(identityToJson(fresh));
    expect((doc["bonds"] as { entries: unknown[] }).entries.every((e) => e === null)).toBe(true);
    expect(doc["guard"]).toEqual(EMPTY_GUARD);
  });

  it("more bonds than --slots refuses to boot (INVALID_ARGUMENT naming --slots) and keeps them", async () => {
    const { identity } = await store().boot();
    const big = new BondTable({ slots: 8, provisionalTtlMs: 60_000 });
    for (let i = 1; i <= 5; i++)
      big.addProvisional(
        {
          controllerId: new Uint8Array(16).fill(i),
          controllerStaticPublicKey: new Uint8Array(32).fill(i),
          role: "user",
          name: `l${i}`,
        },
        0,
      );
    await store().save({ identity, bonds: big, guard: EMPTY_GUARD }, ["bonds"]);
    await expect(store().boot()).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringMatching(/--slots 4/),
    });
    expect(((await read())["bonds"] as { entries: unknown[] }).entries.filter(Boolean)).toHaveLength(5);
  });
});
