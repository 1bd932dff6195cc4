/**
 * The guided session's terminal goes away mid-session (window closed, ssh dropped: SIGHUP) or the
 * session is killed (SIGTERM): whatever it started — the simulated device and the daemon, each in its
 * own process — stops with it, and its temporary state directory is removed. Before, a hang-up ended
 * `openclaw start` at once and left both running.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { stripVTControlCharacters } from "node:util";
import { spawn as ptySpawn } from "@lydell/node-pty";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../rig/proc.js";
import { alive, BIN } from "./harness.js";

const strip = (s: string) => stripVTControlCharacters(s).replace(/\r/g, "");

/** Pids of processes whose command line names `dir` (the session's sim and daemon do). */
function processesUsing(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(dir)) pids.push(Number(entry));
    } catch {
      // ended while we looked
    }
  }
  return pids;
}

async function waitFor(test: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

describe("npm start: a hang-up or kill mid-session", () => {
  for (const signal of ["SIGHUP", "SIGTERM"] as const) {
    it(`stops the sim and the daemon it started on ${signal}`, async () => {
      const term = ptySpawn(process.execPath, [BIN, "start"], {
        name: "xterm-256color",
        cols: 120,
        rows: 40,
        cwd: ROOT,
        env: Object.fromEntries(
          Object.entries({ ...process.env, NO_COLOR: "1" }).filter(
            (e): e is [string, string] => e[0] !== "FORCE_COLOR" && e[1] !== undefined,
          ),
        ),
      });
      let screen = "";
      let children: number[] = [];
      const exited = new Promise<number>((resolve) => term.onExit((e) => resolve(e.exitCode)));
      term.onData((d) => {
        screen += d;
      });
      const until = async (re: RegExp, ms = 30_000): Promise<RegExpMatchArray> => {
        const deadline = Date.now() + ms;
        for (;;) {
          const m = strip(screen).match(re);
          if (m) return m;
          if (Date.now() > deadline)
            throw new Error(`timed out waiting for ${re} on the terminal:\n${strip(screen).slice(-3000)}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      try {
        const tempDir = (await until(/keeps its state in (\S+) and removes it/))[1]!;
        await until(/Press Enter to scan/);
        term.write("\r");
        await until(/Code shown on/); // the scan ran: the daemon is up, the device shows its code
        children = processesUsing(tempDir);
        expect(children.length, "the sim and the daemon run").toBeGreaterThanOrEqual(2);

        process.kill(term.pid, signal);
        const code = await Promise.race([
          exited,
          new Promise<number>((_, rej) => setTimeout(() => rej(new Error("no exit")), 15_000)),
        ]);
        expect(code).toBe(signal === "SIGHUP" ? 129 : 143);
        expect(await waitFor(() => children.every((pid) => !alive(pid)), 10_000), "children gone").toBe(true);
        expect(processesUsing(tempDir)).toEqual([]);
        expect(existsSync(tempDir)).toBe(false);
      } finally {
        if (alive(term.pid)) term.kill("SIGKILL");
        for (const pid of children.filter(alive)) process.kill(pid, "SIGKILL"); // a failed run leaves none
      }
    }, 90_000);
  }
});
