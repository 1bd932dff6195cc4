import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { controlRequest, handleControl, serveControl } from "../../firmware-sim/air/control.js";
import { EVT, LE_EVT, OP } from "../../firmware-sim/air/hci.js";
import { Air, type Violation } from "../../firmware-sim/air/index.js";
import { H4TestClient, isLeMeta, params } from "../../firmware-sim/air/test-client.js";
import { ManualClock, SystemClock } from "../../src/clock/index.js";
import { OpenClawError } from "../../src/protocol/errors.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
let dir: string;
const cleanup: Array<() => Promise<void> | void> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "air-"));
});

afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  rmSync(dir, { recursive: true, force: true });
});

async function connect(path: string, label?: string): Promise<H4TestClient> {
  const c = await H4TestClient.connect(path);
  cleanup.push(() => c.close());
  await c.init(label);
  return c;
}

describe("air: control socket", () => {
  it("lists controllers, moves them, sets faults and configures them; bad requests get errors", async () => {
    const timers = new ManualClock();
    const air = new Air({ clock: timers });
    const path = join(dir, "air.sock");
    await air.listen({ path });
    cleanup.push(() => air.close());
    const ctl = await serveControl(air, `${path}.ctl`);
    cleanup.push(() => ctl.close());
    await connect(path, "dev1");

    const list = await controlRequest(`${path}.ctl`, { op: "list" });
    expect((list["controllers"] as Array<{ label?: string }>).map((c) => c.label)).toEqual(["dev1"]);

    expect(await controlRequest(`${path}.ctl`, { op: "move", who: "dev1", x: 3, y: 4 })).toEqual({});
    expect(air.controllers()[0]?.position).toEqual({ x: 3, y: 4 });
    expect(await controlRequest(`${path}.ctl`, { op: "fault", who: "dev1", latencyMs: 20 })).toEqual({});
    expect(
      await controlRequest(`${path}.ctl`, { op: "configure", who: "dev1", config: { txPowerDbm: -10 } }),
    ).toEqual({});
    expect(air.rssiBetween("dev1", "dev1")).toBeCloseTo(-10 - 59 + 22, 5); // same point: 10 cm floor

    // Errors cross the socket as the catalogue's: code, details and remedy rebuilt on this side.
    const missing = await controlRequest(`${path}.ctl`, { op: "move", who: "nope", x: 0, y: 0 }).catch(
      (e: unknown) => e,
    );
    expect(missing).toBeInstanceOf(OpenClawError);
    expect(missing).toMatchObject({
      code: "INVALID_ARGUMENT",
      details: { detail: 'no controller "nope" on the air' },
    });
    expect((missing as OpenClawError).remedy).toMatch(/--help/);
    const bad = await controlRequest(`${path}.ctl`, { op: "explode" } as never).catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: "INVALID_ARGUMENT", details: { command: "air ctl" } });
    await ctl.close();
    expect(existsSync(`${path}.ctl`)).toBe(false);
  });
});

describe("air: control errors", () => {
  it("answers a request that throws a non-catalogue error with INTERNAL, never a string code", async () => {
    const air = new Air({ clock: new ManualClock() });
    cleanup.push(() => air.close());
    air.move = () => {
      throw new TypeError("boom");
    };
    const res = await handleControl(air, { op: "move", who: "x", x: 0, y: 0 });
    expect(res.ok).toBe(false);
    const err = res.ok ? undefined : OpenClawError.fromJSON(res.error);
    expect(err).toMatchObject({ code: "INTERNAL", details: { detail: 'the air failed on "move": boom' } });
  });
});

describe("air: serving", () => {
  it("serves TCP as well as unix sockets", async () => {
    const air = new Air({ clock: new ManualClock() });
    await air.listen({ port: 0 });
    cleanup.push(() => air.close());
    const port = air.tcpPort();
    expect(port).toBeGreaterThan(0);
    const s = createConnection({ port: port!, host: "127.0.0.1" });
    cleanup.push(() => {
      s.destroy();
    });
    const answer = await new Promise<Buffer>((resolve, reject) => {
      s.once("data", resolve);
      s.once("error", reject);
      s.write(Buffer.from([0x01, 0x03, 0x0c, 0x00])); // Reset
    });
    expect(answer).toEqual(Buffer.from([0x04, 0x0e, 0x04, 0x01, 0x03, 0x0c, 0x00]));
  });

  it("replaces a stale socket file but refuses one a live air is serving", async () => {
    const path = join(dir, "air.sock");
    const first = new Air({ clock: new ManualClock() });
    await first.listen({ path });
    cleanup.push(() => first.close());
    const second = new Air({ clock: new ManualClock() });
    await expect(second.listen({ path })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await second.close();

    // a socket file left by a killed air: its process dies without unlinking it
    const stale = join(dir, "stale.sock");
    const holder = spawn(
      process.execPath,
      ["-e", `require("net").createServer().listen(${JSON.stringify(stale)}, () => console.log("up"))`],
      { stdio: ["ignore", "pipe", "ignore"] },
    );
    await new Promise<void>((resolve) => holder.stdout!.once("data", () => resolve()));
    const dead = new Promise<void>((resolve) => holder.once("exit", () => resolve()));
    holder.kill("SIGKILL");
    await dead;
    expect(existsSync(stale)).toBe(true);
    const third = new Air({ clock: new ManualClock() });
    await third.listen({ path: stale });
    cleanup.push(() => third.close());
    const c = await H4TestClient.connect(stale);
    cleanup.push(() => c.close());
    await c.sync();

    writeFileSync(join(dir, "file"), "not a socket");
    const fourth = new Air({ clock: new ManualClock() });
    await expect(fourth.listen({ path: join(dir, "file") })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    await fourth.close();
  });

  it("explains why it cannot listen (port in use, socket path too long) instead of throwing raw errors", async () => {
    const a = new Air({ clock: new ManualClock() });
    await a.listen({ port: 0 });
    cleanup.push(() => a.close());
    const b = new Air({ clock: new ManualClock() });
    cleanup.push(() => b.close());
    await expect(b.listen({ port: a.tcpPort()! })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringContaining("address in use"),
    });
    const long = join(dir, "x".repeat(120));
    await expect(b.listen({ path: long })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringContaining("longer than 107 bytes"),
    });
    expect(existsSync(long)).toBe(false);
  });

  it("closes a client whose stream is not H4, and flags it", async () => {
    const path = join(dir, "air.sock");
    const air = new Air({ clock: new ManualClock() });
    const violations: Violation[] = [];
    air.on("violation", (v: Violation) => violations.push(v));
    await air.listen({ path });
    cleanup.push(() => air.close());
    const c = await H4TestClient.connect(path);
    cleanup.push(() => c.close());
    const closed = new Promise<void>((resolve) => air.once("gone", () => resolve()));
    c.write(Buffer.from("GET / HTTP/1.1\r\n"));
    await closed;
    expect(violations.map((v) => v.kind)).toEqual(["h4-framing"]);
  });

  it("honours the host's event masks (no LE events until LE meta is enabled)", async () => {
    const path = join(dir, "air.sock");
    const timers = new ManualClock();
    const air = new Air({ clock: timers });
    await air.listen({ path });
    cleanup.push(() => air.close());
    const dev = await connect(path, "dev1");
    await dev.command(OP.leSetAdvertisingParameters, params.advertising(100));
    await dev.command(OP.leSetAdvertiseEnable, Buffer.from([1]));
    const scanner = await H4TestClient.connect(path);
    cleanup.push(() => scanner.close());
    await scanner.command(OP.reset); // default event mask: no LE meta events
    await scanner.command(OP.leSetScanParameters, params.scan(false));
    await scanner.command(OP.leSetScanEnable, Buffer.from([1, 0]));
    timers.advance(300);
    await scanner.sync();
    expect(scanner.take().filter((p) => isLeMeta(p, LE_EVT.advertisingReport))).toEqual([]);
    await scanner.command(OP.setEventMask, Buffer.from("fffffbff07f8bf3d", "hex"));
    timers.advance(300);
    await scanner.sync();
    expect(scanner.take().filter((p) => isLeMeta(p, LE_EVT.advertisingReport)).length).toBeGreaterThan(0);
  });

  it("leaves no timers behind with real timers either", async () => {
    const timers = new SystemClock();
    const path = join(dir, "air.sock");
    const air = new Air({ clock: timers });
    await air.listen({ path });
    const dev = await connect(path, "dev1");
    await dev.command(OP.leSetAdvertisingParameters, params.advertising(20));
    await dev.command(OP.leSetAdvertiseEnable, Buffer.from([1]));
    const laptop = await connect(path, "laptop");
    const addr = Buffer.from((await dev.command(OP.readBdAddr)).subarray(7, 13));
    const done = laptop.next((p) => isLeMeta(p, LE_EVT.connectionComplete));
    await laptop.command(OP.leCreateConnection, params.createConnection(addr, 6));
    await done;
    air.setFault("laptop", { latencyMs: 50 });
    const power = air.powerCycle("dev1", 10_000);
    expect(timers.pending().length).toBeGreaterThan(0);
    await air.close();
    await power; // resolved by close, not left hanging
    expect(timers.pending().length).toBe(0);
    expect(existsSync(path)).toBe(false);
    await expect(air.waitForController("ghost", 10)).rejects.toBeDefined();
    void EVT;
  });
});

describe("openclaw air (command line)", () => {
  function run(args: string[]): ChildProcess {
    // main.ts pulls in every command; this runs just `air` the same way main does.
    const script = `
      import { Command } from "commander";
      const { registerAir } = await import(${JSON.stringify(join(root, "dist/src/cli/commands/air.js"))});
      const program = new Command("openclaw").exitOverride();
      registerAir(program);
      try { await program.parseAsync(process.argv.slice(1), { from: "user" }); }
      catch (e) { process.stderr.write(String(e && e.message) + "\\n"); process.exitCode = 2; }
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script, "--", ...args], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    cleanup.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    return child;
  }

  function firstLine(child: ChildProcess): Promise<string> {
    return new Promise((resolve, reject) => {
      let buf = "";
      const t = setTimeout(() => reject(new Error(`no output; stderr so far: ${buf}`)), 10_000);
      child.stdout!.on("data", (d: Buffer) => {
        buf += d.toString();
        const i = buf.indexOf("\n");
        if (i >= 0) {
          clearTimeout(t);
          resolve(buf.slice(0, i));
        }
      });
      child.once("exit", () => {
        clearTimeout(t);
        reject(new Error("exited before listening"));
      });
    });
  }

  function exited(child: ChildProcess): Promise<number | null> {
    return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  }

  it.each(["SIGINT", "SIGTERM"] as const)(
    "prints one line, exits cleanly on %s and removes its sockets",
    async (sig) => {
      const path = join(dir, "air.sock");
      const child = run(["air", "--socket", path, "--quiet"]);
      const line = await firstLine(child);
      expect(line).toBe(`air listening on unix:${path} (control ${path}.ctl)`);
      const c = await H4TestClient.connect(path);
      cleanup.push(() => c.close());
      await c.init("dev1");
      const ctl = run(["air", "ctl", "--control", `${path}.ctl`, "list"]);
      let out = "";
      ctl.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
      });
      expect(await exited(ctl)).toBe(0);
      expect(JSON.parse(out.trim())).toMatchObject({ label: "dev1", powered: true });
      const end = exited(child);
      child.kill(sig);
      expect(await end).toBe(0);
      expect(existsSync(path)).toBe(false);
      expect(existsSync(`${path}.ctl`)).toBe(false);
    },
  );
});
