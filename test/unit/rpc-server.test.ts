import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock/index.js";
import { API_VERSION, METHOD_NAMES, RPC_ERROR } from "../../src/daemon/rpc/api.js";
import { RpcClient } from "../../src/daemon/rpc/client.js";
import {
  ControlServer,
  type RpcContext,
  type RpcHandlers,
  type RpcLog,
} from "../../src/daemon/rpc/server.js";
import { OpenClawError } from "../../src/protocol/errors.js";

const quiet: RpcLog = { debug() {}, info() {}, warn() {}, error() {} };

function handlers(over: Partial<RpcHandlers> = {}): RpcHandlers {
  const all = {} as Record<string, unknown>;
  for (const m of METHOD_NAMES)
    all[m] = () => {
      throw new OpenClawError("INTERNAL", { detail: `${m} not stubbed` });
    };
  return { ...(all as RpcHandlers), ...over };
}

let dir: string;
let socketPath: string;
const servers: ControlServer[] = [];
const clients: RpcClient[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ocp-rpc-"));
  socketPath = join(dir, "run", "control.sock");
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

async function serve(
  h: Partial<RpcHandlers> = {},
  extra: { maxLineBytes?: number } = {},
): Promise<ControlServer> {
  const s = new ControlServer({
    socketPath,
    handlers: handlers(h),
    log: quiet,
    clock: systemClock,
    ...extra,
  });
  await s.listen();
  servers.push(s);
  return s;
}

async function client(): Promise<RpcClient> {
  const c = await RpcClient.connect(socketPath, systemClock);
  clients.push(c);
  return c;
}

/** A raw connection: send lines, read the answers line by line. */
function raw(): Promise<{
  sock: Socket;
  lines: () => Promise<unknown[]>;
  next: () => Promise<unknown>;
  ended: Promise<void>;
}> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    const got: unknown[] = [];
    const waiters: Array<(v: unknown) => void> = [];
    let partial = "";
    let endResolve: () => void = () => {};
    const ended = new Promise<void>((r) => {
      endResolve = r;
    });
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      const parts = (partial + d).split("\n");
      partial = parts.pop() ?? "";
      for (const p of parts) {
        const v = JSON.parse(p);
        const w = waiters.shift();
        if (w) w(v);
        else got.push(v);
      }
    });
    sock.on("close", () => endResolve());
    sock.on("error", () => {});
    sock.once("connect", () =>
      resolve({
        sock,
        ended,
        lines: async () => got.splice(0),
        next: () => (got.length > 0 ? Promise.resolve(got.shift()) : new Promise((r) => waiters.push(r))),
      }),
    );
    sock.once("error", reject);
  });
}

function rejection(p: Promise<unknown>): Promise<OpenClawError> {
  return p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => {
      if (!(e instanceof OpenClawError)) throw e;
      return e;
    },
  );
}

describe("control API server and client", () => {
  it("answers a typed call over a 0600 socket in a 0700 directory", async () => {
    await serve({
      "daemon.hello": (p) => ({
        apiVersion: API_VERSION,
        version: `seen ${p.apiVersion}`,
        pid: 1,
        stateDir: "/s",
        hci: "unix:/x",
        onDemand: false,
        controllerId: "00",
        name: "laptop",
      }),
    });
    expect(statSync(socketPath).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "run")).mode & 0o777).toBe(0o700);
    const c = await client();
    const r = await c.call("daemon.hello", { apiVersion: 1 });
    expect(r.version).toBe("seen 1");
  });

  it("carries a catalogue error across with its code, details and remedy", async () => {
    await serve({
      "pair.attempt": () => {
        throw new OpenClawError("WRONG_CODE", { attemptsLeft: 3 });
      },
    });
    const c = await client();
    const e = await rejection(c.call("pair.attempt", { pairingId: "p1", code: "123456" }));
    expect(e.code).toBe("WRONG_CODE");
    expect(e.details).toEqual({ attemptsLeft: 3 });
    expect(e.message).toBe(new OpenClawError("WRONG_CODE", { attemptsLeft: 3 }).message);
    expect(e.remedy).toMatch(/Check the code/);
  });

  it("refuses params that fail the method's schema as INVALID_ARGUMENT naming the field", async () => {
    let ran = false;
    await serve({
      "device.claw": () => {
        ran = true;
        return { deviceId: "x", claw: "open" };
      },
    });
    const c = await client();
    // @ts-expect-error: a wrong op on purpose
    const e = await rejection(c.call("device.claw", { device: "d", op: "explode" }));
    expect(e.code).toBe("INVALID_ARGUMENT");
    expect(e.message).toMatch(/device\.claw: op/);
    const e2 = await rejection(c.call("device.status", {} as never));
    expect(e2.message).toMatch(/device\.status: device/);
    expect(ran).toBe(false);
  });

  it("turns an unexpected exception into INTERNAL without its text", async () => {
    await serve({
      "bonds.list": () => {
        throw new Error("secret 0123456789abcdef in a stack");
      },
    });
    const c = await client();
    const e = await rejection(c.call("bonds.list"));
    expect(e.code).toBe("INTERNAL");
    expect(e.message).not.toMatch(/0123456789abcdef/);
  });

  it("answers bad JSON, non-requests and unknown methods with errors and keeps the connection", async () => {
    await serve({ "daemon.status": () => ({ ok: true }) as never });
    const r = await raw();
    r.sock.write("{not json\n");
    expect(await r.next()).toMatchObject({
      id: null,
      error: { code: RPC_ERROR.parse, data: { code: "PROTOCOL_ERROR" } },
    });
    r.sock.write("null\n42\n[]\n[1,2]\n");
    for (let i = 0; i < 4; i++)
      expect(await r.next()).toMatchObject({
        error: { code: RPC_ERROR.invalidRequest, data: { code: "PROTOCOL_ERROR" } },
      });
    r.sock.write(`${JSON.stringify({ jsonrpc: "2.0", id: 7, method: "nope" })}\n`);
    expect(await r.next()).toMatchObject({
      id: 7,
      error: { code: RPC_ERROR.methodNotFound, data: { code: "INVALID_ARGUMENT" } },
    });
    r.sock.write(`${JSON.stringify({ jsonrpc: "2.0", id: 8, method: "daemon.status", params: { x: 1 } })}\n`);
    expect(await r.next()).toMatchObject({ id: 8, error: { code: RPC_ERROR.invalidParams } });
    r.sock.write(`${JSON.stringify({ jsonrpc: "2.0", id: 9, method: "daemon.status" })}\n`);
    expect(await r.next()).toEqual({ jsonrpc: "2.0", id: 9, result: { ok: true } });
    r.sock.destroy();
  });

  // Found by test/stress/fuzz-rpc.test.ts: json-rpc-2.0 answered these itself, without a catalogue
  // error in data, echoing an id of any type, and a batch with one answer as a bare object.
  it("refuses ids of other types and bad batch entries with PROTOCOL_ERROR; a batch is answered with an array", async () => {
    await serve({ "daemon.status": () => ({ ok: true }) as never });
    const r = await raw();
    const invalid = { id: null, error: { code: RPC_ERROR.invalidRequest, data: { code: "PROTOCOL_ERROR" } } };
    r.sock.write(`${JSON.stringify({ jsonrpc: "2.0", id: [1], method: "daemon.status" })}\n`);
    expect(await r.next()).toMatchObject(invalid);
    r.sock.write(`${JSON.stringify({ jsonrpc: "2.0", id: 2, method: "daemon.status", result: 1 })}\n`);
    expect(await r.next()).toMatchObject({ ...invalid, id: 2 });
    r.sock.write(`${JSON.stringify([{ x: 1 }, { jsonrpc: "2.0", id: 3, method: "daemon.status" }])}\n`);
    expect(await r.next()).toMatchObject(invalid);
    r.sock.write(
      `${JSON.stringify([
        { jsonrpc: "2.0", method: "daemon.status" },
        { jsonrpc: "2.0", id: 4, method: "daemon.status" },
      ])}\n`,
    );
    expect(await r.next()).toEqual([{ jsonrpc: "2.0", id: 4, result: { ok: true } }]);
    r.sock.destroy();
  });

  it("drops a connection that sends an overlong line, after telling it why, and serves others", async () => {
    await serve({ "daemon.shutdown": () => ({ stopping: true }) }, { maxLineBytes: 1024 });
    const r = await raw();
    r.sock.write("x".repeat(5000));
    const answer = await r.next();
    expect(answer).toMatchObject({
      error: { code: RPC_ERROR.invalidRequest, data: { code: "PROTOCOL_ERROR" } },
    });
    expect(JSON.stringify(answer)).toMatch(/longer than 1024 bytes/);
    await r.ended;
    const c = await client();
    expect(await c.call("daemon.shutdown")).toEqual({ stopping: true });
  });

  it("sends progress to the caller only and events to subscribers", async () => {
    let server!: ControlServer;
    server = await serve({
      "events.subscribe": (_p, ctx) => {
        ctx.subscribe();
        return { subscribed: true };
      },
      "pair.attempt": (_p, ctx) => {
        ctx.notify("pair.step", { pairingId: "p1", step: "confirming" });
        server.broadcast("bond.removed", {
          deviceId: "ab",
          name: "n",
          device: "removed",
          local: "removed",
          staleBondRemedy: null,
          error: null,
        });
        return { bond: {} as never, replaced: false };
      },
    });
    const caller = await client();
    const watcher = await client();
    const bystander = await client();
    await watcher.call("events.subscribe");
    const steps: string[] = [];
    const removed: string[] = [];
    caller.on("pair.step", (p) => steps.push(p.step));
    watcher.on("bond.removed", (p) => removed.push(p.deviceId));
    bystander.on("pair.step", () => steps.push("leaked"));
    bystander.on("bond.removed", () => removed.push("leaked"));
    const done = new Promise<void>((r) => watcher.on("bond.removed", () => r()));
    await caller.call("pair.attempt", { pairingId: "p1", code: "1" });
    await done;
    await bystander.call("events.subscribe").catch(() => {});
    expect(steps).toEqual(["confirming"]);
    expect(removed).toEqual(["ab"]);
  });

  it("aborts a running request's signal when its client goes away", async () => {
    let ctxSeen: ((ctx: RpcContext) => void) | undefined;
    const running = new Promise<RpcContext>((r) => {
      ctxSeen = r;
    });
    await serve({
      "pair.attempt": (_p, ctx) => {
        ctxSeen?.(ctx);
        return new Promise(() => {});
      },
    });
    const c = await client();
    void c.call("pair.attempt", { pairingId: "p1", code: "1" }).catch(() => {});
    const ctx = await running;
    const aborted = new Promise<unknown>((r) =>
      ctx.signal.addEventListener("abort", () => r(ctx.signal.reason)),
    );
    c.close();
    const reason = await aborted;
    expect(reason).toBeInstanceOf(OpenClawError);
    expect((reason as OpenClawError).code).toBe("CANCELLED");
  });

  it("rejects pending calls with DAEMON_UNAVAILABLE when the daemon goes away", async () => {
    const s = await serve({ "pair.attempt": () => new Promise(() => {}) });
    const c = await client();
    const p = rejection(c.call("pair.attempt", { pairingId: "p1", code: "1" }));
    await new Promise((r) => setTimeout(r, 20));
    await s.close();
    const e = await p;
    expect(e.code).toBe("DAEMON_UNAVAILABLE");
  });

  it("replaces a socket file a dead daemon left, and refuses to start beside a live one", async () => {
    mkdirSync(join(dir, "run"), { mode: 0o700 });
    // A daemon killed with -9 leaves its socket file behind, with nothing listening.
    spawnSync(process.execPath, [
      "-e",
      `require("net").createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, "SIGKILL"))`,
    ]);
    expect(statSync(socketPath).isSocket()).toBe(true);
    await serve({ "daemon.shutdown": () => ({ stopping: true }) });
    const c = await client();
    expect(await c.call("daemon.shutdown")).toEqual({ stopping: true });

    const second = new ControlServer({ socketPath, handlers: handlers(), log: quiet, clock: systemClock });
    const e = await rejection(second.listen());
    expect(e.code).toBe("STATE_LOCKED");
  });

  it("reports a missing daemon as DAEMON_UNAVAILABLE naming the socket", async () => {
    const e = await rejection(RpcClient.connect(join(dir, "none.sock"), systemClock));
    expect(e.code).toBe("DAEMON_UNAVAILABLE");
    expect(e.details).toMatchObject({ socket: join(dir, "none.sock") });
    expect(e.message).toMatch(/no daemon is running/);
  });
});
