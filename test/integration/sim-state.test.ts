/**
 * The device's state on disk, as a tester and a careless user treat it: files go missing, get damaged or
 * come from a newer version, the process is killed with SIGKILL in the middle of a write. Identity,
 * bonds and guard live in one document (device.json) written atomically, so every crash leaves the old
 * state or the new one; temp files a crash left (private keys, laptop names) are gone at the next boot.
 * Nothing is deleted behind anyone's back: what cannot be used is moved aside and reported (an event
 * and a line on the screen); a newer file stops the device with STATE_TOO_NEW and is left untouched.
 * Real noble and bleno on the virtual air.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { TestAir } from "../../rig/radio.js";
import { startDriver } from "../helpers/driver.js";
import {
  connected,
  killHard,
  readState,
  runSimToExit,
  type SimHandle,
  type StoredState,
  startSim,
  storedBonds,
  useSimAir,
  wrong,
} from "./sim-harness.js";

let t: TestAir;
useSimAir((air) => {
  t = air;
});

const CONTROLLER = "5a".repeat(16);
const LAPTOP_NAME = "crash-test laptop";

/** A device with one (provisional) bond on disk, killed with SIGKILL. */
async function bondedThenKilled(label: string): Promise<SimHandle> {
  const laptop = startDriver(t.spec(`laptop-${label}`), {
    controllerId: CONTROLLER,
    laptopName: LAPTOP_NAME,
  });
  const dev = await startSim(t, label);
  await connected(laptop, dev);
  await laptop.pair(dev.firstDisplay!.code);
  await dev.next("bonded");
  await killHard(dev);
  await laptop.end();
  return dev;
}

/** Every file in the state dir whose content mentions `text` (bonds are found by their controller id). */
function filesMentioning(dir: string, text: string): string[] {
  return readdirSync(dir).filter((n) => {
    try {
      return readFileSync(join(dir, n), "utf8").includes(text);
    } catch {
      return false;
    }
  });
}

/** The state dir's files, without the lock (a SIGKILLed holder leaves it; the next start takes it over). */
const stateFiles = (dir: string) =>
  readdirSync(dir)
    .filter((n) => n !== "lock")
    .sort();

/** Temp files of an interrupted write (they may hold a private key or laptop names). */
const temps = (dir: string) => readdirSync(dir).filter((n) => /\.json\.\d+$/.test(n));

/** Rewrites a device.json directory into the older three-file layout (what earlier versions wrote). */
function toLegacyLayout(dir: string): StoredState {
  const s = readState(dir);
  writeFileSync(join(dir, "identity.json"), JSON.stringify({ version: 1, ...s.identity }), { mode: 0o600 });
  writeFileSync(join(dir, "bonds.json"), JSON.stringify({ version: 1, table: s.bonds }), { mode: 0o600 });
  rmSync(join(dir, "device.json"));
  return s;
}

describe("openclaw sim: an older state directory (identity.json, bonds.json, guard.json)", () => {
  it("is migrated into device.json: the same device, its bonds kept, the old files gone", async () => {
    const dev = await bondedThenKilled("dev-mig");
    toLegacyLayout(dev.dir);
    const again = await startSim(t, "dev-mig2", { dir: dev.dir, expectWindow: false });
    expect(again.ready.id).toBe(dev.ready.id);
    expect(again.ready.bonds).toBe(1);
    expect(again.child.events.some((e) => e.type === "warning" && /into device\.json/.test(e.message))).toBe(
      true,
    );
    expect(readdirSync(dev.dir).filter((n) => /^(identity|bonds|guard)\.json$/.test(n))).toEqual([]);
    expect(storedBonds(dev.dir).map((b) => b.controllerId)).toEqual([CONTROLLER]);
  }, 60_000);

  for (const damage of ["corrupt", "missing"] as const) {
    it(`a ${damage} identity.json moves the bonds aside (never deletes them) and says so`, async () => {
      const dev = await bondedThenKilled(`dev-id-${damage}`);
      toLegacyLayout(dev.dir);
      if (damage === "corrupt") writeFileSync(join(dev.dir, "identity.json"), "{ not json");
      else rmSync(join(dev.dir, "identity.json"));

      // A person at the screen is told (a line under the screen)...
      const screen = await runSimToExit(t, `dev-id-${damage}-screen`, ["--state-dir", dev.dir], {
        json: false,
        quit: true,
      });
      expect(screen.code, screen.stderr).toBe(0);
      const said = screen.text.join("\n");
      expect(said).toMatch(/bond/i);
      expect(said).toMatch(/kept, not deleted/);
      // ...the bonds are still on disk, moved aside, and the device booted as a new one with none.
      expect(filesMentioning(dev.dir, CONTROLLER).length).toBeGreaterThan(0);
      expect(storedBonds(dev.dir)).toEqual([]);
      const again = await startSim(t, `dev-id-${damage}-2`, { dir: dev.dir, expectWindow: true });
      expect(again.ready.bonds).toBe(0);
      expect(again.ready.id).not.toBe(dev.ready.id);
      expect(filesMentioning(dev.dir, CONTROLLER).length).toBeGreaterThan(0);
    }, 60_000);
  }

  it("an identity.json written by a newer version refuses to start (STATE_TOO_NEW) and touches nothing", async () => {
    const dev = await bondedThenKilled("dev-id-new");
    toLegacyLayout(dev.dir);
    const path = join(dev.dir, "identity.json");
    const newer = { ...JSON.parse(readFileSync(path, "utf8")), version: 99 };
    writeFileSync(path, JSON.stringify(newer));
    const before = stateFiles(dev.dir);
    const run = await runSimToExit(t, "dev-id-new2", ["--state-dir", dev.dir]);
    expect(run.code).not.toBe(0);
    expect(run.events.find((e) => e.type === "error")).toMatchObject({ code: "STATE_TOO_NEW" });
    expect(run.stderr).toMatch(/newer/);
    expect(run.events.some((e) => e.type === "ready")).toBe(false);
    expect(stateFiles(dev.dir)).toEqual(before);
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual(newer);
    expect(existsSync(join(dev.dir, "bonds.json"))).toBe(true);
  }, 60_000);
});

describe("openclaw sim: device.json damaged or newer", () => {
  it("a damaged identity section: a new device, the old bonds kept in a copy that the warning names", async () => {
    const dev = await bondedThenKilled("dev-sec");
    const state = readState(dev.dir);
    writeFileSync(join(dev.dir, "device.json"), JSON.stringify({ ...state, identity: { deviceId: "zz" } }));
    const again = await startSim(t, "dev-sec2", { dir: dev.dir, expectWindow: true });
    expect(again.ready.id).not.toBe(dev.ready.id);
    expect(again.ready.bonds).toBe(0);
    const warning = again.child.events.find(
      (e): e is Extract<typeof e, { type: "warning" }> => e.type === "warning" && /bond/.test(e.message),
    );
    expect(warning?.error).toMatchObject({ code: "STORE_CORRUPT" });
    const copies = filesMentioning(dev.dir, CONTROLLER);
    expect(copies.length).toBe(1);
    expect(warning?.message).toContain(copies[0]);
    expect(readState(dev.dir).identity.deviceId).toBe(again.ready.id.toLowerCase());
  }, 60_000);

  it("a device.json that is not JSON is moved aside: a new device, locked out (its guard was in it)", async () => {
    const dev = await bondedThenKilled("dev-junk");
    writeFileSync(join(dev.dir, "device.json"), "\u0000\u0000garbage");
    const again = await startSim(t, "dev-junk2", { dir: dev.dir, expectWindow: false });
    expect(again.ready.id).not.toBe(dev.ready.id);
    await again.next("locked-out");
    expect(readdirSync(dev.dir).some((n) => n.startsWith("device.json.corrupt-"))).toBe(true);
  }, 60_000);

  it("a device.json of a newer version stops the device (STATE_TOO_NEW) and is left untouched", async () => {
    const dev = await bondedThenKilled("dev-newer");
    const newer = { ...readState(dev.dir), version: 7 };
    writeFileSync(join(dev.dir, "device.json"), JSON.stringify(newer));
    const before = stateFiles(dev.dir);
    const run = await runSimToExit(t, "dev-newer2", ["--state-dir", dev.dir]);
    expect(run.code).not.toBe(0);
    expect(run.events.find((e) => e.type === "error")).toMatchObject({ code: "STATE_TOO_NEW" });
    expect(stateFiles(dev.dir)).toEqual(before);
    expect(readState(dev.dir)).toEqual(newer);
  }, 60_000);
});

describe("openclaw sim: temp files of an interrupted write", () => {
  it("are removed at boot, whichever layout wrote them (they hold private keys and laptop names)", async () => {
    const dev = await bondedThenKilled("dev-tmp");
    const left = {
      "identity.json.4242": `{"version":1,"staticPrivateKey":"${"ab".repeat(32)}`,
      "bonds.json.77": `{"version":1,"table":{"entries":[{"name":"${LAPTOP_NAME}"`,
      "guard.json.9": "{",
      "device.json.123456": `{"version":1,"identity":{"staticPrivateKey":"${"cd".repeat(32)}`,
    };
    for (const [name, text] of Object.entries(left))
      writeFileSync(join(dev.dir, name), text, { mode: 0o600 });
    const again = await startSim(t, "dev-tmp2", { dir: dev.dir, expectWindow: false });
    expect(again.ready.id).toBe(dev.ready.id);
    expect(again.ready.bonds).toBe(1);
    const names = readdirSync(dev.dir);
    for (const name of Object.keys(left)) expect(names).not.toContain(name);
  }, 60_000);
});

/**
 * kill -9 at each step of a write, for each kind of write: OPENCLAW_SIM_CRASH_AT=<cause>:<point> makes
 * the sim SIGKILL itself there. Afterwards the files are read back (one whole document: bonds whole or
 * absent, identity and bonds of the same device), and a restart removes the temp file and boots it.
 */
describe("openclaw sim: kill -9 around every state write", () => {
  type Point = "temp-written" | "renamed";
  const POINTS: Point[] = ["temp-written", "renamed"];

  /** Runs the action under the crash hook; returns the dir, the device id before, and the state read back. */
  async function crashDuring(
    label: string,
    spec: string,
    action: (dev: SimHandle) => Promise<unknown>,
  ): Promise<{ dir: string; idBefore: string; after: StoredState; tempsLeft: string[] }> {
    const dev = await startSim(t, label, { env: { OPENCLAW_SIM_CRASH_AT: spec } });
    await action(dev).catch(() => null); // the device dies under it
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([
      dev.child.exited,
      new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), 15_000);
      }),
    ]);
    clearTimeout(timer);
    expect(exit?.signal, `${spec}: the hook killed the device`).toBe("SIGKILL");
    const after = readState(dev.dir);
    // One document, whole: every bond has all its fields; identity and bonds belong together.
    for (const b of after.bonds.entries) {
      if (b === null) continue;
      expect(b.controllerId).toMatch(/^[0-9a-f]{32}$/);
      expect(b.controllerStaticPublicKey).toMatch(/^[0-9a-f]{64}$/);
    }
    return { dir: dev.dir, idBefore: dev.ready.id.toLowerCase(), after, tempsLeft: temps(dev.dir) };
  }

  /** Boots the crashed state dir again: no temp file left, the device is what the file says. */
  async function restart(label: string, dir: string): Promise<SimHandle> {
    const again = await startSim(t, label, { dir, expectWindow: false });
    expect(temps(dir)).toEqual([]);
    expect(again.ready.id.toLowerCase()).toBe(readState(dir).identity.deviceId);
    return again;
  }

  async function pairOnce(dev: SimHandle, label: string): Promise<void> {
    const laptop = startDriver(t.spec(`laptop-${label}`), {
      controllerId: CONTROLLER,
      laptopName: LAPTOP_NAME,
    });
    await connected(laptop, dev);
    await laptop.pair(dev.firstDisplay!.code);
  }

  for (const point of POINTS) {
    it(`the bond write (new pairing), killed at ${point}`, async () => {
      const label = `crash-b-${point}`;
      const { dir, idBefore, after, tempsLeft } = await crashDuring(label, `bonds:${point}`, (dev) =>
        pairOnce(dev, label),
      );
      expect(after.identity.deviceId).toBe(idBefore);
      const bonds = after.bonds.entries.filter((e) => e !== null);
      if (point === "temp-written") {
        expect(bonds).toEqual([]); // the old document: no bond
        // The temp file holds the laptop's name: the reason it must not be left lying around.
        expect(tempsLeft).toHaveLength(1);
        expect(readFileSync(join(dir, tempsLeft[0]!), "utf8")).toContain(LAPTOP_NAME);
      } else {
        expect(bonds.map((b) => [b.controllerId, b.name])).toEqual([[CONTROLLER, LAPTOP_NAME]]);
      }
      const again = await restart(`${label}-2`, dir);
      expect(again.ready.bonds).toBe(point === "temp-written" ? 0 : 1);
    }, 60_000);

    it(`the guard write (an attempt counted), killed at ${point}`, async () => {
      const label = `crash-g-${point}`;
      const { dir, idBefore, after } = await crashDuring(label, `guard:${point}`, async (dev) => {
        const laptop = startDriver(t.spec(`laptop-${label}`));
        await connected(laptop, dev);
        await laptop.pair(wrong(dev.firstDisplay!.code));
      });
      expect(after.identity.deviceId).toBe(idBefore);
      // Counted before confirmV leaves: renamed means the attempt is on disk and becomes a failure at boot.
      expect(after.guard.unsettled ?? 0).toBe(point === "renamed" ? 1 : 0);
      await restart(`${label}-2`, dir);
      expect(readState(dir).guard.failuresInLastHour).toBe(point === "renamed" ? 1 : 0);
    }, 60_000);

    it(`the factory reset (one write: identity, bonds and guard), killed at ${point}`, async () => {
      const label = `crash-r-${point}`;
      let oldKey = "";
      const { dir, idBefore, after, tempsLeft } = await crashDuring(label, `reset:${point}`, async (dev) => {
        await pairOnce(dev, label);
        await dev.next("bonded");
        oldKey = readState(dev.dir).identity.staticPrivateKey;
        await dev.command("factory-reset");
      });
      const bonds = after.bonds.entries.filter((e) => e !== null);
      if (point === "temp-written") {
        // The old device, whole: its identity with its bond.
        expect(after.identity.deviceId).toBe(idBefore);
        expect(after.identity.staticPrivateKey).toBe(oldKey);
        expect(bonds.map((b) => b.controllerId)).toEqual([CONTROLLER]);
        // The temp file holds the NEW private key.
        expect(tempsLeft).toHaveLength(1);
        expect(readFileSync(join(dir, tempsLeft[0]!), "utf8")).toContain("staticPrivateKey");
      } else {
        // The new device, whole: a new identity and no bonds, no guard.
        expect(after.identity.deviceId).not.toBe(idBefore);
        expect(after.identity.staticPrivateKey).not.toBe(oldKey);
        expect(bonds).toEqual([]);
        expect(after.guard).toMatchObject({ failuresInLastHour: 0, lockouts: 0, lockedForMs: 0 });
      }
      const again = await restart(`${label}-2`, dir);
      expect(again.ready.bonds).toBe(point === "temp-written" ? 1 : 0);
      expect(filesMentioning(dir, oldKey).length).toBe(point === "temp-written" ? 1 : 0);
    }, 60_000);
  }
});
