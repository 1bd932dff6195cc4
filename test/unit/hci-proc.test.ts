/** rig/proc.ts, the child-process harness every integration test relies on. */
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { killAll, liveChildren, spawnProgram } from "../../rig/proc.js";

type EchoEvent = { type: "hello"; pid: number } | { type: "tick"; n: number | null };

const start = () => spawnProgram<EchoEvent>("test/fixtures/echo.js", { name: "echo" });

/** Running (a zombie waiting for its reaper counts as dead). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

afterEach(async () => {
  await killAll(500);
  expect(liveChildren()).toHaveLength(0);
});

describe("proc: child programs speaking JSON lines", () => {
  it("turns stdout lines into events and keeps other text aside", async () => {
    const c = start();
    const hello = await c.next("hello", 5000);
    expect(hello.pid).toBe(c.pid);
    expect(await c.call("echo", { value: { a: [1, 2] } })).toEqual({ a: [1, 2] });
    expect(c.text).toContain("a line that is not JSON");
  });

  it("rejects a call with the child's error", async () => {
    const c = start();
    await expect(c.call("fail")).rejects.toThrow(/echo: fail failed: asked to fail/);
  });

  it("hands each event to one waiter, in order, including events that came before the wait", async () => {
    const c = start();
    await c.call("emit", { event: "tick", n: 1 });
    await c.call("emit", { event: "tick", n: 2 });
    expect((await c.next("tick", 1000)).n).toBe(1);
    expect((await c.next("tick", 1000)).n).toBe(2);
    const mark = c.mark();
    const third = c.next("tick", 2000);
    await c.call("emit", { event: "tick", n: 3 });
    expect((await third).n).toBe(3);
    await expect(c.waitFor((e) => e.type === "tick", 100, "an old tick", { since: mark })).rejects.toThrow(
      /timed out/,
    );
  });

  it("names what it waited for and shows the child's stderr on timeout", async () => {
    const c = start();
    await c.call("stderr", { text: "radio says: no controller" });
    await expect(c.waitFor((e) => e.type === "tick", 150, "the tick that never comes")).rejects.toThrow(
      /timed out after 150 ms waiting for the tick that never comes from echo[\s\S]*radio says: no controller/,
    );
  });

  it("fails a wait at once when the child exits", async () => {
    const c = start();
    await c.next("hello", 5000);
    const waiting = c.next("tick", 10_000, "a tick");
    void c.call("crash").catch(() => {});
    await expect(waiting).rejects.toThrow(/echo exited \(code 3\) while waiting for a tick/);
    expect(c.running).toBe(false);
  });

  it("kills the whole process group, SIGKILL after the grace time if SIGTERM is ignored", async () => {
    const c = start();
    const grandchild = await c.call<number>("grandchild");
    await c.call("ignoreTerm");
    expect(alive(grandchild)).toBe(true);
    const exit = await c.kill(200);
    expect(exit.signal).toBe("SIGKILL");
    // The grandchild is reaped by init once killed; give the kernel a moment to deliver the signal.
    for (let i = 0; i < 50 && alive(grandchild); i++) await new Promise((r) => setTimeout(r, 10));
    expect(alive(grandchild)).toBe(false);
  });

  it("ends a child by closing its stdin", async () => {
    const c = start();
    await c.next("hello", 5000);
    expect((await c.end()).code).toBe(0);
  });
});
