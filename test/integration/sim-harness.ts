/**
 * Shared by the sim-*.test.ts files: the compiled CLI's `openclaw sim --json-events` as a child on the
 * virtual air (it picks its HCI from --hci itself, as a user runs it), with typed events and commands.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Violation } from "../../firmware-sim/air/index.js";
import type { SimEvent } from "../../firmware-sim/device/events.js";
import { type Child, type ChildEvent, ROOT, spawnProgram } from "../../rig/proc.js";
import type { TestAir } from "../../rig/radio.js";
import { useAirSuite } from "../helpers/air-suite.js";
import { DriverError, type DriverProcess } from "../helpers/driver.js";

export type SimChildEvent = SimEvent & ChildEvent & { t: number };
export type Display = Extract<SimChildEvent, { type: "display" }>;

const tempDirs = new Set<string>();

/** A fresh state directory, removed by cleanupStateDirs(). */
export function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "ocp-sim-"));
  tempDirs.add(dir);
  return join(dir, "state");
}

export function cleanupStateDirs(): void {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

/**
 * The file-wide hooks of a sim-*.test.ts: one air (handed to `started`), every child killed after each
 * test, and after all the air closed, the state dirs removed and no child left.
 */
export function useSimAir(started: (t: TestAir) => void, violations?: Violation[]): void {
  useAirSuite({
    started,
    killAfterEach: true,
    waitEmpty: false,
    cleanup: cleanupStateDirs,
    ...(violations ? { violations } : {}),
  });
}

/** Resolves with the DriverError `p` rejects with; fails when it fulfils or rejects with anything else. */
export async function driverFailure(p: Promise<unknown>): Promise<DriverError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof DriverError) return err;
    throw err;
  }
  throw new Error("expected the call to fail");
}

export interface SimHandle {
  child: Child<SimChildEvent>;
  label: string;
  dir: string;
  ready: Extract<SimChildEvent, { type: "ready" }>;
  /** The code on screen from the first-boot window, when there was one. */
  firstDisplay?: Display;
  /** Waits for the next event of this type (optionally matching). */
  next<K extends SimEvent["type"]>(
    type: K,
    timeoutMs?: number,
    test?: (e: Extract<SimChildEvent, { type: K }>) => boolean,
  ): Promise<Extract<SimChildEvent, { type: K }>>;
  /** Presses the button; resolves with the new code. */
  press(): Promise<Display>;
  command(cmd: "button" | "factory-reset" | "status" | "quit"): Promise<unknown>;
}

export interface StartSimOptions {
  args?: string[];
  dir?: string;
  /** Wait for the first-boot display event (default true when the state dir is new). */
  expectWindow?: boolean;
  timeoutMs?: number;
  env?: Record<string, string | undefined>;
}

/** A well-formed passkey that is not the one on screen (each digit shifted by one). */
export function wrong(code: string): string {
  return code.replace(/\d/g, (d) => String((Number(d) + 1) % 10));
}

/** device.json as the device wrote it (its "flash"): identity, bond table and attempt guard in one document. */
export interface StoredState {
  version: number;
  identity: { deviceId: string; staticPrivateKey: string; staticPublicKey: string; tagKey: string };
  bonds: {
    slots: number;
    provisionalTtlMs: number;
    entries: Array<{
      controllerId: string;
      controllerStaticPublicKey: string;
      name: string;
      role: string;
      state: { kind: "provisional" | "permanent" };
      createdAt: number;
      replaces?: { controllerStaticPublicKey: string; role: string; name: string; createdAt: number };
    } | null>;
  };
  guard: { failuresInLastHour: number; lockouts: number; lockedForMs: number; unsettled?: number };
}

export function readState(dir: string): StoredState {
  return JSON.parse(readFileSync(join(dir, "device.json"), "utf8")) as StoredState;
}

/** The bonds on "flash" (no file yet: none). */
export function storedBonds(dir: string): Array<NonNullable<StoredState["bonds"]["entries"][number]>> {
  try {
    return readState(dir).bonds.entries.filter((e) => e !== null);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

/** Pulls the battery: SIGKILL to the sim's process group, no chance to save anything; resolves once it is gone. */
export async function killHard(dev: SimHandle): Promise<void> {
  try {
    process.kill(-dev.child.pid, "SIGKILL");
  } catch {
    // already gone
  }
  await dev.child.exited;
}

/** Events the device reported as errors (a save that failed, a bug): a healthy run has none. */
export function errorEvents(dev: SimHandle): Array<Extract<SimChildEvent, { type: "error" }>> {
  return dev.child.events.filter((e): e is Extract<SimChildEvent, { type: "error" }> => e.type === "error");
}

/**
 * One wrong-code attempt on a fresh connection (the device drops a link after a failed exchange):
 * resolves with the device's error.
 */
export async function failOnce(laptop: DriverProcess, dev: SimHandle, code: string): Promise<DriverError> {
  await laptop.disconnect().catch(() => null);
  await connected(laptop, dev);
  return driverFailure(laptop.pair(code));
}

/** The laptop finds the device by name and connects. */
export async function connected(laptop: DriverProcess, dev: SimHandle): Promise<void> {
  await laptop.ready();
  const found = await laptop.find(dev.ready.name);
  await laptop.connect(found.id);
}

/** How a sim that was expected to refuse to start ended: exit code, its JSON events, its stderr. */
export interface SimExit {
  code: number | null;
  events: SimChildEvent[];
  stderr: string;
  /** stdout lines that are not JSON events (the screen, in human mode). */
  text: string[];
}

/**
 * Runs `openclaw sim` to its end (it must exit by itself within `timeoutMs`): for start-up refusals.
 * `json: false` runs it as a person would (the screen on stdout) instead of with --json-events.
 */
export async function runSimToExit(
  t: TestAir,
  label: string,
  args: string[],
  o: {
    json?: boolean;
    timeoutMs?: number;
    env?: Record<string, string | undefined>;
    /** Send `quit` at once: a sim that boots reads it after booting and stops (its boot output is all in). */
    quit?: boolean;
  } = {},
): Promise<SimExit> {
  const child = spawnProgram<SimChildEvent>(`${ROOT}bin/openclaw.js`, {
    name: label,
    args: ["sim", ...(o.json === false ? [] : ["--json-events"]), "--hci", t.spec(label), ...args],
    ...(o.env ? { env: o.env } : {}),
  });
  if (o.quit) child.send({ cmd: "quit" });
  const timer = setTimeout(() => void child.kill(), o.timeoutMs ?? 15_000);
  const exit = await child.exited;
  clearTimeout(timer);
  return { code: exit.code, events: child.events, stderr: child.stderrTail(1000), text: child.text };
}

export async function startSim(t: TestAir, label: string, o: StartSimOptions = {}): Promise<SimHandle> {
  const dir = o.dir ?? stateDir();
  const child = spawnProgram<SimChildEvent>(`${ROOT}bin/openclaw.js`, {
    name: label,
    args: ["sim", "--json-events", "--hci", t.spec(label), "--state-dir", dir, ...(o.args ?? [])],
    ...(o.env ? { env: o.env } : {}),
  });
  const timeoutMs = o.timeoutMs ?? 10_000;
  const next: SimHandle["next"] = (type, ms = 10_000, test) =>
    child.waitFor(
      (e): e is Extract<SimChildEvent, { type: typeof type }> =>
        e.type === type && (test ? test(e as Extract<SimChildEvent, { type: typeof type }>) : true),
      ms,
      `${label}: "${type}" event`,
    );
  const ready = await next("ready", timeoutMs);
  let firstDisplay: Display | undefined;
  if (o.expectWindow ?? o.dir === undefined) firstDisplay = await next("display", timeoutMs);
  await next("advertising", timeoutMs);
  return {
    child,
    label,
    dir,
    ready,
    ...(firstDisplay ? { firstDisplay } : {}),
    next,
    async press() {
      const mark = child.mark();
      await child.call("button", {}, 5000);
      return child.waitFor(
        (e): e is Display => e.type === "display",
        5000,
        `${label}: the code after the button`,
        { since: mark },
      );
    },
    command: (cmd) => child.call(cmd, {}, 10_000),
  };
}
