/**
 * `openclaw start` (what `npm start` runs): a guided first session on a fresh machine, no hardware
 * needed. It brings up the virtual radio, a simulated device in its own process (its screen is echoed
 * beside the prompts, lines marked "device │"), and a daemon for a private temporary state directory
 * — the person's real bonds are never touched — then walks through scan, pair (type the code the
 * device shows), status, claw open and forget. Everything it started is stopped and the temporary
 * directory removed at the end, on Ctrl-C too.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ExitPromptError } from "@inquirer/core";
import input from "@inquirer/input";
import type { Command } from "commander";
import { type Clock, sleep, systemClock, withDeadline } from "../../clock/index.js";
import type { PairResult } from "../../daemon/rpc/api.js";
import type { RpcClient } from "../../daemon/rpc/client.js";
import { OpenClawError } from "../../protocol/errors.js";
import { packageRoot } from "../../version.js";
import { connectDaemon } from "../client.js";
import { usageExit } from "../daemon-command.js";
import { formatDuration, Output } from "../output.js";
import { printForget } from "./forget.js";
import { pairWithCodes } from "./pair.js";
import { probeWindows, type ScanRow, scanDevices, scanTable } from "./scan.js";

interface SimEventLine {
  type: string;
  [k: string]: unknown;
}

/** The simulated device as a child process, its JSON events echoed as its "screen". */
class DemoDevice {
  readonly proc: ChildProcess;
  private readonly waiters = new Set<{
    test: (e: SimEventLine) => boolean;
    resolve: (e: SimEventLine) => void;
  }>();
  readonly events: SimEventLine[] = [];

  constructor(
    hci: string,
    stateDir: string,
    private readonly show: (e: SimEventLine) => void,
  ) {
    this.proc = spawn(
      process.execPath,
      [
        join(packageRoot(), "bin", "openclaw.js"),
        "sim",
        "--json-events",
        "--hci",
        hci,
        "--state-dir",
        stateDir,
      ],
      { stdio: ["pipe", "pipe", "ignore"], detached: true },
    );
    this.proc.stdin!.on("error", () => {});
    const rl = createInterface({ input: this.proc.stdout! });
    rl.on("line", (line) => {
      let e: SimEventLine;
      try {
        e = JSON.parse(line) as SimEventLine;
      } catch {
        return;
      }
      if (typeof e.type !== "string") return;
      this.events.push(e);
      this.show(e);
      for (const w of [...this.waiters])
        if (w.test(e)) {
          this.waiters.delete(w);
          w.resolve(e);
        }
    });
  }

  /** The first event (seen or to come) that matches, within `ms`. */
  wait(clock: Clock, test: (e: SimEventLine) => boolean, ms: number, what: string): Promise<SimEventLine> {
    const seen = this.events.find(test);
    if (seen) return Promise.resolve(seen);
    const p = new Promise<SimEventLine>((resolve) => this.waiters.add({ test, resolve }));
    return withDeadline(
      clock,
      p,
      ms,
      "demo.device",
      () => new OpenClawError("TIMEOUT", { what, afterMs: ms }),
    );
  }

  stop(): void {
    try {
      this.proc.stdin!.end("quit\n");
    } catch {
      // gone
    }
    try {
      if (this.proc.pid !== undefined) process.kill(-this.proc.pid, "SIGTERM");
    } catch {
      // gone
    }
  }
}

function deviceLine(out: Output, e: SimEventLine): string | undefined {
  switch (e.type) {
    case "display":
      return `the screen shows the pairing code ${out.c.bold(String(e.code))} (${formatDuration(Number(e.expiresInMs))}, ${e.attemptsLeft} attempts)`;
    case "wrong-code":
      return `wrong code received: ${e.attemptsLeft} attempts left`;
    case "locked-out":
      return `too many failures: pairing refused for ${formatDuration(Number(e.retryAfterMs))}`;
    case "window-closed":
      return `pairing window closed (${String(e.reason)})`;
    case "bonded":
      return `paired with "${String(e.name)}" (${String(e.role)})`;
    case "verified":
      return "this laptop verified its pairing";
    case "app":
      return e.op === "claw-open" ? "the claw opens" : e.op === "claw-close" ? "the claw closes" : undefined;
    case "removed":
      return "pairing removed: the device forgot this laptop";
    default:
      return undefined;
  }
}

async function pause(out: Output, message: string): Promise<void> {
  if (!out.interactive) return;
  await input({ message: `${message} (Enter)` }, { output: process.stderr });
}

async function pairStep(out: Output, clock: Clock, c: RpcClient, deviceName: string): Promise<PairResult> {
  const target = await c.call("pair.prepare", { device: deviceName });
  return pairWithCodes({ out, clock }, c, target, { kind: "prompt" });
}

export async function runDemo(out: Output, clock: Clock = systemClock): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "openclaw-demo-"));
  const stateDir = join(root, "laptop");
  const airPath = join(root, "air.sock");
  const say = (text = "") => out.line(text);
  const step = (n: number, text: string) => say(`\n${out.c.bold(out.c.cyan(`${n}/5`))} ${out.c.bold(text)}`);
  let device: DemoDevice | undefined;
  let client: RpcClient | undefined;
  const { Air } = await import("../../../firmware-sim/air/index.js");
  const air = new Air();
  const cleanup = async () => {
    device?.stop();
    if (client && !client.closed) {
      const closed = new Promise<void>((r) => client!.onClose(() => r()));
      await client.call("daemon.shutdown").catch(() => {});
      await withDeadline(clock, closed, 5000, "demo.stop", () => new Error("daemon stop")).catch(() => {});
    }
    await air.close().catch(() => {});
    rmSync(root, { recursive: true, force: true });
  };
  // Ctrl-C, a kill, or the terminal closing (SIGHUP: its default would end us with the sim and the
  // daemon left running): each stops what this session started. Exit status 128 + the signal's number.
  const signals = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
  // `on`, not `once`: the prompt library's signal-exit re-raises a signal when it sees no other listener
  // left, and a `once` listener has removed itself by then, so the process died mid-cleanup.
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    void cleanup().then(() => process.exit(signals[signal as keyof typeof signals] ?? 130));
  };
  for (const s of Object.keys(signals)) process.on(s, onSignal);
  try {
    say(out.c.bold("OpenClaw Pair — a guided first session, no hardware needed"));
    say(`This runs a virtual radio and a simulated OpenClaw device on this machine. Your own pairings are`);
    say(`not touched: this session keeps its state in ${root} and removes it at the end.`);
    await air.listen({ path: airPath });
    device = new DemoDevice(`unix:${airPath}?label=demo-device`, join(root, "device"), (e) => {
      const line = deviceLine(out, e);
      if (line) say(`${out.c.magenta("device │")} ${line}`);
    });
    const ready = await device.wait(
      clock,
      (e) => e.type === "ready",
      20_000,
      "the simulated device starting",
    );
    const name = String(ready.name);
    say(`${out.c.magenta("device │")} ${name} is on (a simulated device, in its own process)`);
    await device.wait(clock, (e) => e.type === "advertising", 20_000, "the simulated device advertising");

    const conn = await connectDaemon({ stateDir, hci: `unix:${airPath}?label=laptop`, clock });
    client = conn.client;
    const c = client;

    step(1, "Scan: which OpenClaw devices are near?");
    await pause(out, "Press Enter to scan");
    const progress = out.progress(clock);
    progress.step("listening for OpenClaw devices…");
    let devices = await scanDevices(c, 2500);
    for (let i = 0; i < 3 && !devices.some((d) => d.name === name); i++) devices = await scanDevices(c, 2000);
    // As `openclaw scan` does: the advert only says "open"; time and attempts left come from the device.
    progress.step("reading the pairing window…");
    const read = await probeWindows(c, devices, () => clock.now());
    progress.stop();
    const rows: ScanRow[] = devices.map((d) => read.get(d.radioId) ?? { d, at: clock.now() });
    say(scanTable(out, rows, clock.now()));
    say(`${name} is in pairing mode: its screen shows a code (the "device │" line above).`);

    step(2, `Pair: type the code ${name} shows`);
    const paired = await pairStep(out, clock, c, name);
    say(
      `${out.c.green("✓")} Paired with ${paired.bond.name} as ${paired.bond.role}: keys exchanged, bond stored on both sides.`,
    );

    step(3, "Status: verify the pairing (an encrypted session) and ask the device");
    await pause(out, "Press Enter to ask for its status");
    const s = await c.call("device.status", { device: name });
    say(
      `${out.c.green("✓")} verified: role ${s.role}, firmware ${s.firmware}, ${s.bondSlots.used} of ${s.bondSlots.total} bond slots used`,
    );

    step(4, "Use it: open the claw over the encrypted session");
    await pause(out, "Press Enter to open the claw");
    const claw = await c.call("device.claw", { device: name, op: "open" });
    await device
      .wait(clock, (e) => e.type === "app" && e.op === "claw-open", 5000, "the claw opening")
      .catch(() => undefined);
    say(`${out.c.green("✓")} the claw is ${claw.claw}`);

    step(5, "Forget: remove the pairing on the device, then here");
    await pause(out, "Press Enter to forget the device");
    const forgot = await c.call("device.forget", { device: name });
    for (const r of forgot.results) printForget(out, r);
    await sleep(clock, "demo.settle", 200);

    say(`\n${out.c.green("Done.")} On a real adapter the same commands work: openclaw scan, openclaw pair,`);
    say(
      "openclaw status <device>, openclaw claw <device> open, openclaw forget <device>. Try `openclaw --help`.",
    );
  } catch (err) {
    if (err instanceof ExitPromptError) throw new OpenClawError("CANCELLED", { what: "the guided session" });
    throw err;
  } finally {
    for (const s of Object.keys(signals)) process.off(s, onSignal);
    await cleanup();
  }
}

export function registerStart(program: Command): void {
  usageExit(
    program
      .command("start")
      .description(
        "A guided first session on a virtual radio and a simulated device (what `npm start` runs)",
      ),
  ).action(async () => {
    const out = new Output({});
    try {
      if (!out.interactive)
        throw new OpenClawError("INVALID_ARGUMENT", {
          detail: "the guided session needs a terminal (it asks you to type the device's code)",
          command: "start",
        });
      await runDemo(out);
    } catch (err) {
      process.exitCode = out.fail(err);
    }
    // noble-free here, but the air's sockets and a child's pipes may linger a moment: end now.
    process.exit(typeof process.exitCode === "number" ? process.exitCode : 0);
  });
}
