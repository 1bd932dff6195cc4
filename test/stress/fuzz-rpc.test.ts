/**
 * The daemon's control API under random and mutated JSON-RPC lines (issue 10). The real daemon
 * (src/daemon/process startDaemon: its socket, ControlServer, handlers, core, bond store and audit
 * log in a temp dir) runs in this process over the core's in-memory air (MemoryAir, one real
 * accessory, bonded to this laptop through the API first) on a ManualClock, so 10^5 cases are cheap:
 * nothing waits in real time, the clock moves whenever the daemon waits on it.
 *
 * Each case is one connection: valid requests of every method mutated (wrong types, missing and extra
 * fields, unknown and near-miss methods, every kind of id, batches, deep nesting, long strings), then
 * serialised and possibly damaged as bytes (truncated lines, invalid UTF-8, stray newlines and CRs).
 * The oracle, per line the server's splitter yields: bad JSON → one parse error; not a request → one
 * invalid-request error; a request with a string or number id → one response with that id; never more
 * responses than lines; every response a JSON-RPC 2.0 result or error whose `data` is a catalogue
 * error other than INTERNAL. After the case a `daemon.hello` on the same connection is answered.
 * After all cases: the daemon logged no error (an exception that escaped a handler is logged so), the
 * bond store and audit log are byte for byte as before (no case names the bonded device, so even a
 * valid request cannot touch its bond), and a verify with the bond still works.
 *
 * Short form (npm test): 2000 cases; long form (OPENCLAW_STRESS=long): 100 000 + the oversize lines.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClawApp } from "../../firmware-sim/device/app.js";
import { ManualClock } from "../../src/clock/index.js";
import { createDaemonCore } from "../../src/daemon/core/core.js";
import { MemoryAir, type MemoryDevice } from "../../src/daemon/core/testing/memory-air.js";
import { type RunningDaemon, startDaemon } from "../../src/daemon/process/daemon.js";
import { METHOD_NAMES, RPC_ERROR } from "../../src/daemon/rpc/api.js";
import { MAX_LINE_BYTES } from "../../src/daemon/rpc/framing.js";
import { ERROR_CODES } from "../../src/protocol/errors.js";
import { seededRandom } from "../../src/protocol/random.js";
import { fcParams, limitMs, runs } from "./cases.js";

const CATALOGUE = new Set<string>(ERROR_CODES);
const turn = () => new Promise<void>((r) => setImmediate(r));

let root: string;
let clock: ManualClock;
let air: MemoryAir;
let dev: MemoryDevice;
let daemon: RunningDaemon;
let socketPath: string;
let stateDir: string;
let ioPending = 0;

/** Every file of the laptop's state a request could change, by content. */
function snapshot(): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const n of readdirSync(dir).sort()) {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (!/daemon\.log|daemon\.lock/.test(n))
        out[p.slice(stateDir.length)] = createHash("sha256").update(readFileSync(p)).digest("hex");
    }
  };
  walk(stateDir);
  return out;
}

// ---- a client that drives the clock while it waits -------------------------------------------------

interface Conn {
  sock: Socket;
  /** Parsed response lines (notifications left out), in arrival order. */
  got: unknown[];
  /** Lines that were not JSON objects: the server must never send one. */
  bad: string[];
  closed: boolean;
}

function open(): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    const c: Conn = { sock, got: [], bad: [], closed: false };
    let partial = "";
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      const lines = (partial + d).split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) {
        let m: unknown;
        try {
          m = JSON.parse(l);
        } catch {
          c.bad.push(l);
          continue;
        }
        const n = m as { method?: unknown; id?: unknown };
        if (typeof m === "object" && m !== null && typeof n.method === "string" && !("id" in n)) continue;
        c.got.push(m);
      }
    });
    sock.on("close", () => {
      c.closed = true;
    });
    sock.once("error", reject);
    sock.once("connect", () => {
      sock.removeListener("error", reject);
      sock.on("error", () => {});
      resolve(c);
    });
  });
}

/**
 * Waits (bounded in real time) until `done`. When nothing arrives for a few loop turns the daemon is
 * waiting on its clock (a device search, a scan): the next timer runs.
 */
async function until(what: string, done: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (let idle = 0; !done(); ) {
    if (Date.now() > deadline) throw new Error(`fuzz-rpc: timed out waiting for ${what}`);
    await turn();
    if (++idle > 4 && ioPending === 0) {
      idle = 0;
      // Never the idle-out (armed whenever no client is connected): only what a request waits for.
      const next = clock.pending()[0];
      if (next && next.dueInMs <= 10 * 60_000) clock.runNext();
    }
  }
}

let sentinelId = 0;
/** A hello on `c`, answered (returns the answer). */
async function hello(c: Conn): Promise<Record<string, unknown>> {
  const id = `sentinel-${++sentinelId}`;
  c.sock.write(
    `${JSON.stringify({ jsonrpc: "2.0", id, method: "daemon.hello", params: { apiVersion: 1 } })}\n`,
  );
  let answer: Record<string, unknown> | undefined;
  await until("the sentinel hello", () => {
    const i = c.got.findIndex((m) => (m as { id?: unknown }).id === id);
    if (i >= 0) answer = c.got.splice(i, 1)[0] as Record<string, unknown>;
    return answer !== undefined || c.closed;
  });
  if (!answer)
    throw new Error(
      `fuzz-rpc: the connection closed before the sentinel hello was answered: ${JSON.stringify(c.got).slice(0, 500)}`,
    );
  return answer;
}

// ---- the oracle ------------------------------------------------------------------------------------

type Id = string | number;
interface Expect {
  /** How many response lines the lines must produce (a batch's answer is one array). */
  count: number;
  /** Ids that must each be answered (a batch's entries included). */
  ids: Id[];
  /** A line over the 64 KiB bound: answered with an error, then the connection is dropped. */
  overflow: boolean;
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is Id => typeof v === "string" || typeof v === "number";

/** A JSON-RPC 2.0 request object (docs/control-api.md; the spec's id types). */
function isRequest(m: Record<string, unknown>): boolean {
  const id = m["id"];
  return (
    m["jsonrpc"] === "2.0" &&
    typeof m["method"] === "string" &&
    (id === undefined || id === null || isId(id)) &&
    m["result"] === undefined &&
    m["error"] === undefined
  );
}

/**
 * The lines as the server's LineSplitter yields them, and what each must be answered with: one error
 * for anything that is not a request (or a batch with one bad entry), one answer for a request with an
 * id (null included), none for a notification, one array for a batch with any request in it.
 */
function expectFor(bytes: Buffer): Expect {
  const e: Expect = { count: 0, ids: [], overflow: false };
  const parts = bytes.toString("binary").split("\n");
  parts.pop(); // after the last newline: held by the splitter, never answered
  for (const p of parts) {
    if (p.length > MAX_LINE_BYTES) {
      e.count++;
      e.overflow = true;
      break;
    }
    const text = Buffer.from(p, "binary").toString("utf8").replace(/\r$/, "");
    if (text.trim() === "") continue;
    let m: unknown;
    try {
      m = JSON.parse(text);
    } catch {
      e.count++;
      continue;
    }
    if (Array.isArray(m)) {
      if (m.length === 0 || m.length > 16 || !m.every(isObj) || !m.every(isRequest)) {
        e.count++;
        continue;
      }
      const answered = m.filter((r) => r["id"] !== undefined);
      for (const r of answered) if (isId(r["id"])) e.ids.push(r["id"]);
      if (answered.length > 0) e.count++;
      continue;
    }
    if (!isObj(m) || !isRequest(m) || m["id"] !== undefined) e.count++;
    if (isObj(m) && isRequest(m) && isId(m["id"])) e.ids.push(m["id"]);
  }
  return e;
}

/** One JSON-RPC 2.0 response as the API documents it. */
function checkResponse(r: unknown): string | undefined {
  if (!isObj(r)) return "a response that is not an object";
  if (r["jsonrpc"] !== "2.0") return "a response without jsonrpc 2.0";
  if (!("id" in r) || !(r["id"] === null || isId(r["id"]))) return "a response without a valid id";
  const hasResult = "result" in r;
  const err = r["error"];
  if (hasResult === (err !== undefined)) return "a response with neither or both of result and error";
  if (hasResult) return undefined;
  if (!isObj(err) || !Number.isInteger(err["code"]) || typeof err["message"] !== "string")
    return "an error without an integer code and a message";
  const data = err["data"];
  if (!isObj(data) || typeof data["code"] !== "string" || !CATALOGUE.has(data["code"]))
    return `an error without a catalogue error in data: ${JSON.stringify(err).slice(0, 200)}`;
  if (data["code"] === "INTERNAL") return `an INTERNAL error (an exception escaped): ${JSON.stringify(err)}`;
  return undefined;
}

/** Answers to a batch are arrays; every other answer is one object. */
function flatten(got: unknown[]): unknown[] {
  return got.flatMap((g) => (Array.isArray(g) ? g : [g]));
}

// ---- generation -------------------------------------------------------------------------------------

/** Strings that name no device the daemon knows: so no request reaches the bonded device's bond. */
function namesNothing(s: string): boolean {
  const q = s.trim().toLowerCase();
  const known = [dev.deviceId, dev.name.toLowerCase(), dev.address.toLowerCase().replace(/[:-]/g, "")];
  if (known.includes(q) || known.includes(q.replace(/[:-]/g, ""))) return false;
  return !(/^[0-9a-f]+$/.test(q) && dev.deviceId.startsWith(q));
}

/** Replaces, anywhere in a value, a string that would name the bonded device. */
function scrub(v: unknown, depth = 0): unknown {
  if (typeof v === "string") return namesNothing(v) ? v : `${v}~`;
  if (depth > 50 || typeof v !== "object" || v === null) return v;
  if (Array.isArray(v)) return v.map((x) => scrub(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = scrub(x, depth + 1);
  return out;
}

const deviceRef = fc.oneof(
  fc.constantFrom("OpenClaw-0000", "kitchen claw", "nosuch", "zz:zz:zz:zz:zz:zz", "r-404", " ", ""),
  fc.string({ maxLength: 40 }),
  fc.stringMatching(/^[0-9a-f]{1,16}$/),
);
const anyJson = fc.jsonValue({ maxDepth: 3 });
const idArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.string({ maxLength: 20 }),
  fc.constantFrom(null, true, 0, -1, 1.5, 2 ** 53, "", "sentinel-0"),
  fc.constant(undefined),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
);

/** Plausible params for each method (valid in shape, naming no known device). */
const paramsFor: Record<string, fc.Arbitrary<unknown>> = {
  "daemon.hello": fc.record(
    {
      apiVersion: fc.oneof(fc.constant(1), fc.integer({ min: -2, max: 5 })),
      client: fc.string({ maxLength: 30 }),
    },
    { requiredKeys: ["apiVersion"] },
  ),
  "discovery.scan": fc.record({ durationMs: fc.integer({ min: 0, max: 60_000 }) }, { requiredKeys: [] }),
  "device.probe": fc.record({ device: deviceRef }),
  "pair.prepare": fc.record({ device: deviceRef }, { requiredKeys: [] }),
  "pair.attempt": fc.record({
    pairingId: fc.string({ minLength: 1, maxLength: 12 }),
    code: fc.stringMatching(/^[0-9]{6}$/),
  }),
  "pair.refresh": fc.record({ pairingId: fc.string({ minLength: 1, maxLength: 12 }) }),
  "pair.cancel": fc.record({ pairingId: fc.string({ minLength: 1, maxLength: 12 }) }),
  "device.status": fc.record({ device: deviceRef }),
  "device.pairings": fc.record({ device: deviceRef }),
  "device.forget": fc.oneof(
    fc.record({ device: deviceRef, localOnly: fc.boolean() }, { requiredKeys: ["device"] }),
    fc.record({ all: fc.constant(true), device: deviceRef }),
  ),
  "device.claw": fc.record({ device: deviceRef, op: fc.constantFrom("open", "close", "status", "explode") }),
  "device.battery": fc.record({ device: deviceRef }),
  "device.app": fc.record({
    device: deviceRef,
    channel: fc.integer({ min: -1, max: 256 }),
    payload: fc.oneof(fc.stringMatching(/^([0-9a-f]{2}){0,8}$/), fc.string({ maxLength: 9 })),
  }),
};
// daemon.shutdown is left out on purpose: a valid one stops the daemon, which is what it is for.
const FUZZED = METHOD_NAMES.filter((m) => m !== "daemon.shutdown" && m !== "bonds.list");
const noParams = fc.constantFrom(undefined, {}, null, [], { extra: 1 });

const request = fc
  .record({
    method: fc.constantFrom(...FUZZED, "bonds.list"),
    id: fc.oneof(fc.integer({ min: 1, max: 1e6 }), fc.string({ minLength: 1, maxLength: 8 })),
  })
  .chain(({ method, id }) =>
    (paramsFor[method] ?? noParams).map(
      (params) => ({ jsonrpc: "2.0", id, method, params }) as Record<string, unknown>,
    ),
  );

const deep = fc.integer({ min: 10, max: 4000 }).map((n) => {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = i % 2 ? [v] : { a: v };
  return v;
});

/** A request changed in one or more ways. */
const mutated: fc.Arbitrary<unknown> = fc
  .tuple(
    request,
    fc.array(
      fc.oneof(
        fc.record({
          kind: fc.constant("set" as const),
          key: fc.constantFrom("jsonrpc", "id", "method", "params"),
          value: anyJson,
        }),
        fc.record({ kind: fc.constant("id" as const), value: idArb }),
        fc.record({
          kind: fc.constant("drop" as const),
          key: fc.constantFrom("jsonrpc", "id", "method", "params"),
        }),
        fc.record({ kind: fc.constant("extra" as const), key: fc.string({ maxLength: 8 }), value: anyJson }),
        fc.record({
          kind: fc.constant("method" as const),
          value: fc.oneof(
            fc.string({ maxLength: 30 }),
            fc.constantFrom(
              "DAEMON.HELLO",
              "daemon.hello ",
              "rpc.discover",
              "__proto__",
              "constructor",
              "toString",
              "device.",
              "pair",
            ),
          ),
        }),
        fc.record({
          kind: fc.constant("param" as const),
          key: fc.constantFrom(
            "device",
            "pairingId",
            "code",
            "durationMs",
            "channel",
            "payload",
            "apiVersion",
            "all",
            "localOnly",
            "op",
          ),
          value: anyJson,
        }),
        fc.record({ kind: fc.constant("deep" as const), value: deep }),
        fc.record({ kind: fc.constant("long" as const), n: fc.integer({ min: 100, max: 60_000 }) }),
      ),
      { minLength: 0, maxLength: 3 },
    ),
  )
  .map(([r, muts]) => {
    const out: Record<string, unknown> = { ...r };
    for (const m of muts) {
      if (m.kind === "set") out[m.key] = m.value;
      else if (m.kind === "id") {
        if (m.value === undefined) delete out["id"];
        else out["id"] = m.value;
      } else if (m.kind === "drop") delete out[m.key];
      else if (m.kind === "extra") out[m.key] = m.value;
      else if (m.kind === "method") out["method"] = m.value;
      else if (m.kind === "param")
        out["params"] = { ...(isObj(out["params"]) ? out["params"] : {}), [m.key]: m.value };
      else if (m.kind === "deep") out["params"] = m.value;
      else out["params"] = { ...(isObj(out["params"]) ? out["params"] : {}), device: "x".repeat(m.n) };
    }
    return out;
  });

const message: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: mutated },
  { weight: 2, arbitrary: request },
  { weight: 1, arbitrary: fc.array(fc.oneof(mutated, request, anyJson), { minLength: 0, maxLength: 20 }) },
  { weight: 2, arbitrary: fc.array(fc.oneof(request, mutated), { minLength: 1, maxLength: 16 }) },
  { weight: 1, arbitrary: anyJson },
);

type Damage =
  | { kind: "none" }
  | { kind: "truncate" | "split"; at: number }
  | { kind: "insert"; at: number; bytes: readonly number[] }
  | { kind: "garbage"; bytes: Uint8Array };

/** Damage done to the serialised line, as bytes. */
const damage: fc.Arbitrary<Damage> = fc.oneof(
  { weight: 8, arbitrary: fc.constant({ kind: "none" as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("truncate" as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("insert" as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      bytes: fc.oneof(
        fc.constantFrom(
          [0xff],
          [0xc0, 0xaf],
          [0xed, 0xa0, 0x80],
          [0x80],
          [0xf4, 0x90, 0x80, 0x80],
          [0x0d],
          [0x0a],
          [0x00],
          [0xe2, 0x82],
        ),
        fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 4 }),
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("garbage" as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("split" as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  },
);

/** The bytes to send (always ending in a newline) and, for "split", where to cut the write in two. */
function render(msg: unknown, d: Damage): { bytes: Buffer; cut?: number } {
  const text = JSON.stringify(scrub(msg)) ?? "null";
  let b = Buffer.from(text, "utf8");
  if (d.kind === "truncate") b = b.subarray(0, Math.floor(d.at * b.length));
  if (d.kind === "insert") {
    const at = Math.floor(d.at * b.length);
    b = Buffer.concat([b.subarray(0, at), Buffer.from(d.bytes), b.subarray(at)]);
  }
  if (d.kind === "garbage") b = Buffer.from(d.bytes);
  const bytes = Buffer.concat([b, Buffer.from("\n")]);
  return d.kind === "split" ? { bytes, cut: Math.floor(d.at * bytes.length) } : { bytes };
}

// ---- the daemon -------------------------------------------------------------------------------------

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "ocp-fuzz-rpc-"));
  stateDir = join(root, "state");
  clock = new ManualClock(1_000);
  air = new MemoryAir({ clock });
  dev = air.addDevice({ seed: "fuzz-rpc", app: new ClawApp(() => {}) });
  daemon = await startDaemon(
    {
      stateDir,
      onDemand: true,
      idleTimeoutMs: 1e12,
      logLevel: "warn",
      env: { XDG_RUNTIME_DIR: join(root, "run"), XDG_CONFIG_HOME: join(root, "config") },
    },
    {
      clock,
      random: seededRandom("fuzz-rpc-laptop"),
      openRadio: async () => air.central(),
      createCore: (deps) =>
        createDaemonCore({
          ...deps,
          // Disk writes are real I/O: the clock only moves once they are done.
          store: trackIo(deps.store),
        }),
    },
  );
  socketPath = daemon.paths.socketPath;
  // The bond the fuzz must leave alone, made through the API as the CLI makes it.
  const c = await open();
  const send = (id: number, method: string, params: unknown) =>
    c.sock.write(`${JSON.stringify({ jsonrpc: "2.0", id, method, params })}\n`);
  const answer = async (id: number) => {
    let r: Record<string, unknown> | undefined;
    await until(`answer ${id}`, () => {
      r = c.got.find((m) => (m as { id?: unknown }).id === id) as Record<string, unknown> | undefined;
      return r !== undefined;
    });
    return r!;
  };
  send(1, "pair.prepare", { device: dev.name });
  const target = (await answer(1))["result"] as { pairingId: string };
  expect(target.pairingId).toBeTypeOf("string");
  send(2, "pair.attempt", { pairingId: target.pairingId, code: dev.code });
  expect(await answer(2)).toMatchObject({ result: { bond: { deviceId: dev.deviceId } } });
  c.sock.destroy();
}, 30_000);

afterAll(async () => {
  await daemon?.stop("test over");
  air?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

function trackIo<T extends object>(store: T): T {
  return new Proxy(store, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver) as unknown;
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        const r = (v as (...a: unknown[]) => unknown).apply(target, args);
        if (r instanceof Promise) {
          ioPending++;
          r.then(
            () => ioPending--,
            () => ioPending--,
          );
        }
        return r;
      };
    },
  });
}

function errorLines(): string[] {
  return readFileSync(daemon.paths.logFile, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .filter((l) => (JSON.parse(l) as { level: number }).level >= 50);
}

// ---- the properties ---------------------------------------------------------------------------------

describe("control API fuzz: random and mutated JSON-RPC lines into the real daemon", () => {
  it(`${runs(2000, 100_000)} cases: each answered as JSON-RPC says, the daemon keeps serving, no state touched`, {
    timeout: limitMs(60_000),
  }, async () => {
    const before = snapshot();
    expect(Object.keys(before).some((p) => p.startsWith("/bonds/"))).toBe(true);
    const stats = { lines: 0, responses: 0, errors: 0, results: 0, batches: 0, overflows: 0 };
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(message, damage, async (msg, d) => {
        const { bytes, cut } = render(msg, d);
        const want = expectFor(bytes);
        const c = await open();
        let fresh: Conn | undefined;
        try {
          if (cut === undefined) c.sock.write(bytes);
          else {
            c.sock.write(bytes.subarray(0, cut));
            await turn();
            c.sock.write(bytes.subarray(cut));
          }
          await until("the answers", () => c.got.length >= want.count || c.closed);
          if (want.overflow) {
            await until("the drop after a line over the bound", () => c.closed);
            expect(c.got.at(-1)).toMatchObject({ id: null, error: { data: { code: "PROTOCOL_ERROR" } } });
            stats.overflows++;
          }
          // Everything already written precedes the hello's answer on this connection.
          // After a drop, on a new connection (closed below: leaked, 64 of them filled the server).
          if (want.overflow) fresh = await open();
          const h = await hello(fresh ?? c);
          expect(h).toMatchObject({ result: { apiVersion: 1, controllerId: expect.any(String) } });
          expect(c.bad).toEqual([]);
          expect(c.got.length, "one answer per line that needs one").toBe(want.count);
          const all = flatten(c.got);
          for (const r of all) expect(checkResponse(r)).toBeUndefined();
          for (const id of want.ids)
            expect(
              all.some((r) => (r as { id?: unknown }).id === id),
              `an answer to id ${String(id)}`,
            ).toBe(true);
          stats.lines += bytes.toString("binary").split("\n").length - 1;
          stats.responses += all.length;
          stats.batches += c.got.filter(Array.isArray).length;
          for (const r of all) {
            if ((r as { error?: unknown }).error !== undefined) stats.errors++;
            else stats.results++;
          }
        } finally {
          c.sock.destroy();
          fresh?.sock.destroy();
        }
      }),
      fcParams(2000, 100_000),
    );
    const seconds = (Date.now() - started) / 1000;
    console.log(`fuzz-rpc: ${JSON.stringify({ cases: runs(2000, 100_000), ...stats, seconds })}`);
    expect(stats.errors).toBeGreaterThan(stats.results);
    expect(stats.results).toBeGreaterThan(0);
    expect(errorLines()).toEqual([]);
    // Nothing a request did reached the store or the audit log...
    expect(snapshot()).toEqual(before);
    // ...and the bond still works: a verify with the device, through the same API.
    const c = await open();
    c.sock.write(
      `${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "device.status", params: { device: dev.deviceId } })}\n`,
    );
    await until("the status answer", () => c.got.length > 0);
    expect(c.got[0]).toMatchObject({ result: { deviceId: dev.deviceId, role: "admin" } });
    c.sock.destroy();
  });

  it(`${runs(20, 500)} lines over the 64 KiB bound: each answered with an error and dropped, the daemon keeps serving`, {
    timeout: limitMs(30_000),
  }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 65_537, max: 400_000 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 8 }),
        async (n, newline, chunks) => {
          const c = await open();
          const line = Buffer.alloc(n, newline ? 0x7b : 0x78);
          const size = Math.ceil(n / chunks);
          for (let i = 0; i < n; i += size) c.sock.write(line.subarray(i, i + size));
          if (newline) c.sock.write("\n");
          await until("the oversize answer and the drop", () => c.closed);
          expect(c.got).toHaveLength(1);
          expect(checkResponse(c.got[0])).toBeUndefined();
          expect(c.got[0]).toMatchObject({
            id: null,
            error: { code: RPC_ERROR.invalidRequest, data: { code: "PROTOCOL_ERROR" } },
          });
          const again = await open();
          expect(await hello(again)).toMatchObject({ result: { apiVersion: 1 } });
          again.sock.destroy();
        },
      ),
      fcParams(20, 500),
    );
    expect(errorLines()).toEqual([]);
  });
});
