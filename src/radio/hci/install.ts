/**
 * Points noble and bleno at an HCI stream without patching node_modules: both `require`
 * "@abandonware/bluetooth-hci-socket", so a `require.cache` entry at the file they resolve it to is what
 * they get. It must be in place before either is first loaded (noble constructs its socket at require
 * time, bleno its management socket too, and the native binding fails there with EAFNOSUPPORT when the
 * kernel has no Bluetooth).
 *
 * Worker threads have their own module cache: they inherit the parent's execArgv (so a `--require` /
 * `--import` preload) and environment by default; a Worker started with its own `execArgv` must include
 * the preload, or call useHci() itself before loading noble or bleno.
 */

import Module, { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { OpenClawError } from "../../protocol/errors.js";
import { adapterSocketClassFor, type NativeHciSocketClass } from "./adapter.js";
import { type HciStreamSocketOptions, hciSocketClassFor } from "./socket.js";
import { formatHciSpec, type HciSpec, parseHciSpec } from "./spec.js";

/** The CommonJS module cache (the same object as every `require.cache`). */
const cache = createRequire(import.meta.url).cache;

const STACKS = ["@abandonware/noble", "@abandonware/bleno"] as const;
const SOCKET_PACKAGE = "@abandonware/bluetooth-hci-socket";
/** Marks the constructors we plant, with the spec they are bound to. */
const PLANTED = Symbol.for("openclaw-pair.hci-socket.spec");
/** The planted spec of the guarded kernel adapter (the adapter index reaches the stacks by env var). */
const ADAPTER = "adapter";

interface Target {
  /** The file noble/bleno/the caller resolve the socket package to: the require.cache key. */
  socketPath: string;
  /** Files whose presence in the cache means a stack already captured the socket class. */
  stackFiles: string[];
}

function tryResolve(req: NodeJS.Require, id: string): string | undefined {
  try {
    return req.resolve(id);
  } catch {
    return undefined;
  }
}

/**
 * Every place the stacks could be loaded from: this package's own dependencies, the current directory's
 * and the main script's (a tester's own noble program may have its own node_modules).
 */
function findTargets(): Target[] {
  const bases = [import.meta.url, pathToFileURL(join(process.cwd(), "noop.js")).href];
  const main = process.argv[1];
  if (main) bases.push(pathToFileURL(main).href);
  const targets = new Map<string, Target>();
  const add = (socketPath: string, stackFile?: string): void => {
    const t = targets.get(socketPath) ?? { socketPath, stackFiles: [] };
    if (stackFile && !t.stackFiles.includes(stackFile)) t.stackFiles.push(stackFile);
    targets.set(socketPath, t);
  };
  for (const base of bases) {
    const req = createRequire(base);
    for (const stack of STACKS) {
      const pkgJson = tryResolve(req, `${stack}/package.json`);
      if (!pkgJson) continue;
      const socketPath = tryResolve(createRequire(pkgJson), SOCKET_PACKAGE);
      if (socketPath) add(socketPath, join(dirname(pkgJson), "lib", "hci-socket", "hci.js"));
    }
    const direct = tryResolve(req, SOCKET_PACKAGE);
    if (direct) add(direct);
  }
  return [...targets.values()];
}

function plantedSpec(exports: unknown): string | undefined {
  if (typeof exports !== "function") return undefined;
  const spec = (exports as unknown as Record<symbol, unknown>)[PLANTED];
  return typeof spec === "string" ? spec : undefined;
}

function alreadyLoaded(targets: Target[]): string | undefined {
  for (const t of targets) {
    for (const f of t.stackFiles) if (cache[f]) return f;
  }
  return undefined;
}

/**
 * Makes noble and bleno loaded later in this process (and thread) use `spec`: an H4 stream
 * (`unix:/path?label=x`, `tcp:host:port`) or the real adapter (`hci0`, `hci1`, undefined). Either way the
 * stacks get a socket with the host guard in front (guard.ts: malformed PDUs from peers never reach them,
 * what they throw is contained) and failures reported typed (reports.ts).
 * Call it before the first `require`/`import` of @abandonware/noble or bleno; afterwards it throws
 * ADAPTER_UNAVAILABLE (the stacks hold their socket class from load time). Calling it again with the same
 * spec is harmless. Returns the parsed spec.
 */
export function useHci(spec: string | HciSpec | undefined, options: HciStreamSocketOptions = {}): HciSpec {
  const parsed = typeof spec === "object" ? spec : parseHciSpec(spec);
  const text = formatHciSpec(parsed);
  const targets = findTargets();
  const planted = targets.map((t) => plantedSpec(cache[t.socketPath]?.exports));
  const loaded = alreadyLoaded(targets);
  const tooLate = (): OpenClawError<"ADAPTER_UNAVAILABLE"> =>
    new OpenClawError("ADAPTER_UNAVAILABLE", {
      detail: `noble or bleno was loaded before the HCI transport was chosen (${text}); call useHci() or preload openclaw-pair/hci-register before the first import of @abandonware/noble or @abandonware/bleno`,
    });

  if (parsed.kind === "adapter") {
    // No choice made (no --hci, no OPENCLAW_HCI): keep whatever a preload already chose.
    if (parsed.devId === undefined && planted.some((p) => p !== undefined)) return parsed;
    const streamChosen = planted.some((p) => p !== undefined && p !== ADAPTER);
    if (loaded && streamChosen) throw tooLate();
    if (parsed.devId !== undefined) {
      process.env.NOBLE_HCI_DEVICE_ID = String(parsed.devId);
      process.env.BLENO_HCI_DEVICE_ID = String(parsed.devId);
    }
    if (loaded) return parsed; // on the kernel adapter already: the stacks read the index at init
    plantAdapter(targets, planted, options);
    return parsed;
  }

  if (targets.length === 0) {
    throw new OpenClawError("ADAPTER_UNAVAILABLE", {
      detail: `cannot find ${SOCKET_PACKAGE} (a dependency of noble and bleno) to replace with ${text}`,
    });
  }
  if (planted.every((p) => p === text)) return parsed; // the same choice again
  // The native binding already loaded (by the stacks or anyone else) cannot be swapped under them.
  if (loaded || targets.some((t, i) => cache[t.socketPath] !== undefined && planted[i] === undefined))
    throw tooLate();
  plant(targets, hciSocketClassFor(parsed, options), text);
  return parsed;
}

/**
 * The guarded kernel adapter, where nothing was loaded yet: the real binding is loaded first (each
 * target its own copy) and kept behind the guard.
 */
function plantAdapter(
  targets: Target[],
  planted: Array<string | undefined>,
  options: HciStreamSocketOptions,
): void {
  targets.forEach((t, i) => {
    if (planted[i] === ADAPTER) return;
    if (planted[i] !== undefined) delete cache[t.socketPath]; // undo an earlier stream choice
    if (cache[t.socketPath] !== undefined) return; // someone loaded the binding itself: leave it
    let native: NativeHciSocketClass | undefined;
    let failure: unknown;
    try {
      native = createRequire(t.socketPath)(t.socketPath) as NativeHciSocketClass;
    } catch (err) {
      failure = err;
    }
    const load = (): NativeHciSocketClass => {
      if (!native) throw failure;
      return native;
    };
    plant([t], adapterSocketClassFor(load, options.report), ADAPTER);
  });
}

function plant(targets: Target[], Socket: new () => unknown, text: string): void {
  Object.defineProperty(Socket, PLANTED, { value: text });
  const nodeModulePaths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths;
  for (const t of targets) {
    const m = new Module(t.socketPath);
    m.filename = t.socketPath;
    m.loaded = true;
    m.exports = Socket;
    m.paths = nodeModulePaths(dirname(t.socketPath));
    cache[t.socketPath] = m;
  }
}

/** Where the socket class was planted (for tests and `openclaw doctor`). */
export function hciTargets(): { socketPath: string; spec: string | undefined }[] {
  return findTargets().map((t) => ({
    socketPath: t.socketPath,
    spec: plantedSpec(cache[t.socketPath]?.exports),
  }));
}
