/**
 * The daemon process's life: started on demand by a command and idling out; in the foreground until a
 * signal, then stopping cleanly (socket and lock gone, the next start is clean); a bad config file
 * named with its field; the log at debug level holding no secret (checked by the suite's afterAll).
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { TestAir } from "../../rig/radio.js";
import { alive, Laptop, until, useE2E } from "./harness.js";

let t: TestAir;
useE2E((air) => {
  t = air;
});

describe("the daemon process", { timeout: 60_000 }, () => {
  it("is started on demand for the command's state directory and idles out without clients", async () => {
    const laptop = new Laptop(t, "d1-laptop");
    laptop.env["OPENCLAW_DAEMON_IDLE_MS"] = "1500";
    const r = await laptop.json<{ onDemand: boolean; stateDir: string; pid: number; idleTimeoutMs: number }>([
      "daemon",
      "status",
    ]);
    // `daemon status` never starts one: nothing runs yet.
    expect(r.code).toBe(1);
    expect((r.doc as unknown as { error: { code: string } }).error.code).toBe("DAEMON_UNAVAILABLE");
    expect((await laptop.json(["devices"])).code).toBe(0);
    const pid = laptop.daemonPid()!;
    expect(pid).toBeDefined();
    const s = await laptop.json<{ onDemand: boolean; stateDir: string; pid: number; idleTimeoutMs: number }>([
      "daemon",
      "status",
    ]);
    expect(s.doc).toMatchObject({ onDemand: true, stateDir: laptop.stateDir, pid, idleTimeoutMs: 1500 });
    await until("the idle daemon to exit", 20_000, () => (alive(pid) ? undefined : true));
    expect(existsSync(laptop.paths.socketPath)).toBe(false);
    expect(existsSync(join(laptop.stateDir, "daemon.lock"))).toBe(false);
  });

  it("runs in the foreground until SIGTERM, then stops cleanly; the next start is clean", async () => {
    const laptop = new Laptop(t, "d2-laptop");
    const d = laptop.foregroundDaemon();
    await laptop.waitSocket();
    const s = await laptop.json<{ onDemand: boolean; idleTimeoutMs: number | null }>(["daemon", "status"]);
    expect(s.doc).toMatchObject({ onDemand: false, idleTimeoutMs: null });
    process.kill(d.pid, "SIGTERM");
    const exit = await d.exited;
    expect(exit.code).toBe(0);
    expect(existsSync(laptop.paths.socketPath)).toBe(false);
    expect(existsSync(join(laptop.stateDir, "daemon.lock"))).toBe(false);
    expect(d.stderrTail()).toMatch(/"msg":"daemon stopped"/);
    // The foreground daemon logs to stderr too (the journal under systemd).
    expect(d.stderrTail()).toMatch(/control socket/);
    expect((await laptop.json(["devices"])).code).toBe(0);
  });

  it("stops on `daemon stop` and on SIGINT the same way", async () => {
    const laptop = new Laptop(t, "d3-laptop");
    expect((await laptop.json(["devices"])).code).toBe(0);
    const stop = await laptop.json<{ stopped: boolean }>(["daemon", "stop"]);
    expect(stop.doc).toMatchObject({ stopped: true });
    await laptop.daemonGone();
    const d = laptop.foregroundDaemon();
    await laptop.waitSocket();
    process.kill(d.pid, "SIGINT");
    expect((await d.exited).code).toBe(0);
    expect(existsSync(laptop.paths.socketPath)).toBe(false);
  });

  it("refuses a config file that does not validate, naming the file and the field", async () => {
    const laptop = new Laptop(t, "d4-laptop");
    const dir = join(laptop.env["XDG_CONFIG_HOME"]!, "openclaw");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "config.json"), JSON.stringify({ idleTimeoutSeconds: 5, hci: "hci0" }));
    const r = await laptop.run(["devices"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/config file .*config\.json: idleTimeoutSeconds/);
    expect(laptop.daemonPid()).toBeUndefined();
  });
});
