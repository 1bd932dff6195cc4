import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock/index.js";
import type { OpenClawError } from "../../src/protocol/errors.js";
import { seededRandom } from "../../src/protocol/random.js";
import { loadOrCreateIdentity } from "../../src/store/identity.js";
import { type OpenClawPaths, resolvePaths } from "../../src/store/paths.js";
import { sampleBond } from "../../src/store/testing.js";
import { rejection } from "../helpers/errors.js";

let root: string;
let paths: OpenClawPaths;
const clock = new ManualClock(0, Date.UTC(2026, 2, 1));
const opts = () => ({ random: seededRandom("identity"), clock, defaultName: "alice's laptop" });

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "store-identity-"));
  paths = resolvePaths({ stateDir: join(root, "state"), env: {} });
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const bondWith = (controllerId: Uint8Array, name: string) =>
  sampleBond(name, name, { controllerId, controllerName: name });

describe("this laptop's identity", () => {
  it("is made once (0600 in a 0700 dir) and then loaded unchanged", async () => {
    const first = await loadOrCreateIdentity(paths, opts());
    expect(first.created).toBe(true);
    expect(first.identity.controllerId).toHaveLength(16);
    expect(first.identity.name).toBe("alice's laptop");
    expect(first.identity.createdAt).toBe(Date.UTC(2026, 2, 1));
    expect((await stat(paths.stateDir)).mode & 0o777).toBe(0o700);
    expect((await stat(paths.identityFile)).mode & 0o777).toBe(0o600);
    const onDisk = JSON.parse(await readFile(paths.identityFile, "utf8"));
    expect(onDisk).toEqual({
      version: 1,
      controllerId: Buffer.from(first.identity.controllerId).toString("hex"),
      name: "alice's laptop",
      createdAt: Date.UTC(2026, 2, 1),
    });
    clock.advance(60_000);
    const again = await loadOrCreateIdentity(paths, {
      ...opts(),
      random: seededRandom("other"),
      defaultName: "x",
    });
    expect(again.created).toBe(false);
    expect(again.identity).toEqual(first.identity);
    expect(again.quarantined).toBeUndefined();
  });

  it("cuts a long default name to 64 bytes without splitting a character", async () => {
    const r = await loadOrCreateIdentity(paths, { ...opts(), defaultName: "é".repeat(40) });
    expect(Buffer.byteLength(r.identity.name)).toBe(64);
    expect(r.identity.name).toBe("é".repeat(32));
  });

  it("a corrupt file is quarantined and reported; a new id is minted and the result says so", async () => {
    const first = await loadOrCreateIdentity(paths, opts());
    await writeFile(paths.identityFile, "{ torn");
    const corrupt: OpenClawError<"STORE_CORRUPT">[] = [];
    const r = await loadOrCreateIdentity(paths, {
      ...opts(),
      random: seededRandom("fresh"),
      onCorrupt: (e) => corrupt.push(e),
    });
    expect(r.created).toBe(true);
    expect(r.quarantined?.file).toBe(paths.identityFile);
    expect(r.identity.controllerId).not.toEqual(first.identity.controllerId);
    expect(corrupt).toHaveLength(1);
    expect(corrupt[0]?.code).toBe("STORE_CORRUPT");
    expect(corrupt[0]?.details.quarantinedAs).toBe(r.quarantined?.quarantinedAs);
    const names = await readdir(paths.stateDir);
    expect(names.filter((n) => n.startsWith("identity.json.corrupt-"))).toHaveLength(1);
    expect(await readFile(r.quarantined!.quarantinedAs, "utf8")).toBe("{ torn");
  });

  it("a corrupt or missing file with bonds present recovers the controller id the bonds hold", async () => {
    const first = await loadOrCreateIdentity(paths, opts());
    const bonds = [
      bondWith(first.identity.controllerId, "bob's laptop"),
      bondWith(first.identity.controllerId, "bob's laptop"),
    ];
    await writeFile(paths.identityFile, JSON.stringify({ version: 1, controllerId: "zz" }));
    const r = await loadOrCreateIdentity(paths, { ...opts(), random: seededRandom("fresh"), bonds });
    expect(r.created).toBe(false);
    expect(r.recoveredFromBonds).toBe(true);
    expect(r.quarantined).toBeDefined();
    expect(r.identity.controllerId).toEqual(first.identity.controllerId);
    expect(r.identity.name).toBe("bob's laptop");
    // …and it is persisted.
    expect((await loadOrCreateIdentity(paths, opts())).identity.controllerId).toEqual(
      first.identity.controllerId,
    );

    // Bonds that disagree (mixed state dirs) recover nothing.
    await rm(paths.identityFile);
    const mixed = [bonds[0]!, bondWith(seededRandom("another")(16), "x")];
    const m = await loadOrCreateIdentity(paths, { ...opts(), random: seededRandom("fresh2"), bonds: mixed });
    expect(m.created).toBe(true);
    expect(m.recoveredFromBonds).toBeUndefined();
  });

  it("a file from a newer version is refused and left untouched", async () => {
    await loadOrCreateIdentity(paths, opts());
    const newer = JSON.stringify({
      version: 2,
      controllerId: "00".repeat(16),
      name: "n",
      createdAt: 0,
      extra: 1,
    });
    await writeFile(paths.identityFile, newer);
    const err = await rejection(loadOrCreateIdentity(paths, opts()));
    expect(err.code).toBe("STATE_TOO_NEW");
    expect(await readFile(paths.identityFile, "utf8")).toBe(newer);
  });

  it("a state dir other users can reach is refused, not chmodded", async () => {
    await mkdir(paths.stateDir, { mode: 0o755 });
    await chmod(paths.stateDir, 0o755);
    const err = await rejection(loadOrCreateIdentity(paths, opts()));
    expect(err.code).toBe("STORAGE");
    expect((await stat(paths.stateDir)).mode & 0o777).toBe(0o755);
  });
});
