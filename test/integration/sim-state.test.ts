/**
 * The device's state on disk, as a tester and a careless user treat it: files go missing, get damaged or
 * come from a newer version, the process is killed with SIGKILL. Bonds are never deleted behind
 * anyone's back: what cannot be used is moved aside and reported (an event and a line on the screen); a
 * newer file stops the device with STATE_TOO_NEW and is left untouched. Real noble and bleno on the air.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { TestAir } from "../fixtures/radio.js";
import { startDriver } from "../helpers/driver.js";
import { connected, killHard, runSimToExit, type SimHandle, startSim, useSimAir } from "./sim-harness.js";

let t: TestAir;
useSimAir((air) => {
  t = air;
});

/** A device with one (provisional) bond on disk, killed with SIGKILL. Returns its state dir and the bond's controller id. */
async function bondedThenKilled(label: string): Promise<{ dev: SimHandle; controllerId: string }> {
  const controllerId = "5a".repeat(16);
  const laptop = startDriver(t.spec(`laptop-${label}`), { controllerId });
  const dev = await startSim(t, label);
  await connected(laptop, dev);
  await laptop.pair(dev.firstDisplay!.code);
  await dev.next("bonded");
  await killHard(dev);
  await laptop.end();
  return { dev, controllerId };
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

describe("openclaw sim: the identity file", () => {
  for (const damage of ["corrupt", "missing"] as const) {
    it(`a ${damage} identity moves the bonds aside (never deletes them) and says so`, async () => {
      const { dev, controllerId } = await bondedThenKilled(`dev-id-${damage}`);
      if (damage === "corrupt") writeFileSync(join(dev.dir, "identity.json"), "{ not json");
      else rmSync(join(dev.dir, "identity.json"));

      // A person at the screen is told (a line under the screen)...
      const screen = await runSimToExit(t, `dev-id-${damage}-screen`, ["--state-dir", dev.dir], {
        json: false,
        quit: true,
      });
      expect(screen.code, screen.stderr).toBe(0);
      expect(screen.text.join("\n")).toMatch(/bond/i);
      expect(screen.text.join("\n")).toMatch(/moved|kept/i);
      // ...the bonds are still on disk, moved aside, and the device booted as a new one with none.
      expect(filesMentioning(dev.dir, controllerId).length).toBeGreaterThan(0);
      const again = await startSim(t, `dev-id-${damage}-2`, { dir: dev.dir, expectWindow: true });
      expect(again.ready.bonds).toBe(0);
      expect(again.ready.id).not.toBe(dev.ready.id);
      expect(filesMentioning(dev.dir, controllerId).length).toBeGreaterThan(0);
    }, 60_000);
  }

  it("a warning event names the file the bonds were moved to", async () => {
    const { dev, controllerId } = await bondedThenKilled("dev-id-ev");
    writeFileSync(join(dev.dir, "identity.json"), JSON.stringify({ version: 1, deviceId: "zz" }));
    const again = await startSim(t, "dev-id-ev2", { dir: dev.dir, expectWindow: true });
    const warnings = again.child.events.filter((e) => e.type === "warning").map((e) => e.message);
    const aboutBonds = warnings.find((m) => /bond/i.test(m));
    expect(aboutBonds, warnings.join("\n")).toBeDefined();
    const moved = filesMentioning(dev.dir, controllerId);
    expect(
      moved.some((f) => aboutBonds!.includes(f)),
      `${aboutBonds} / ${moved.join(",")}`,
    ).toBe(true);
  }, 60_000);

  it("an identity written by a newer version refuses to start (STATE_TOO_NEW) and touches nothing", async () => {
    const { dev, controllerId } = await bondedThenKilled("dev-id-new");
    const path = join(dev.dir, "identity.json");
    const newer = { ...JSON.parse(readFileSync(path, "utf8")), version: 99 };
    writeFileSync(path, JSON.stringify(newer));
    const before = readdirSync(dev.dir).sort();
    const run = await runSimToExit(t, "dev-id-new2", ["--state-dir", dev.dir]);
    expect(run.code).not.toBe(0);
    const error = run.events.find((e) => e.type === "error");
    expect(error).toMatchObject({ code: "STATE_TOO_NEW" });
    expect(run.stderr).toMatch(/newer/);
    expect(run.events.some((e) => e.type === "ready")).toBe(false);
    expect(readdirSync(dev.dir).sort()).toEqual(before);
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual(newer);
    expect(filesMentioning(dev.dir, controllerId).length).toBeGreaterThan(0);
    expect(existsSync(path)).toBe(true);
  }, 60_000);
});
