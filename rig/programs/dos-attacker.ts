/**
 * A hostile central for the denial-of-service test and bench: the daemon core's controller link over the
 * real noble (rig/controller-driver.ts), run as a child on the air. Once told to `attack` a device by
 * name it takes the device's one connection and makes no progress:
 *
 * - `hold`: connects and sends nothing;
 * - `stall`: reads the info, sends a PairSetupStart (with a guessed code: the device cannot tell) and,
 *   once the device has answered with its challenge, never sends the Finish.
 *
 * `persistent`: as soon as the device drops it, it connects again (a pending LE Create Connection, so
 * it is there at the device's very first advert), for as long as the program runs.
 *
 * Events: ready {address}, connected {n}, stalled {n} (the device answered Start),
 * dropped {n, heldMs, reason}, attack-error {n, code, message} (a round that failed before holding).
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Controller } from "../../src/protocol/controller/index.js";
import { isOpenClawError } from "../../src/protocol/errors.js";
import { ControllerDriver } from "../controller-driver.js";
import { emit, optNum, serve, str } from "./lines.js";

type Mode = "hold" | "stall";

const driver = await ControllerDriver.open({ name: "attacker" });
emit({ type: "ready", address: driver.central.address });

let running = false;
let stop = false;

/** A six-digit guess: the device learns nothing from Start about the code, so any well-formed one does. */
function guess(): string {
  return String(100_000 + Math.floor(Math.random() * 900_000));
}

async function round(n: number, id: string, mode: Mode): Promise<void> {
  const dropped = new Promise<string>((resolve) => {
    const off = driver.onDisconnect((reason) => {
      off();
      resolve(reason);
    });
  });
  // Long enough for the device to drop whoever holds it now (the stall bound is 30 s).
  await driver.connect(id, { timeoutMs: 60_000 });
  const at = performance.now();
  emit({ type: "connected", n });
  if (mode === "stall") {
    const info = await driver.info();
    const ps = new Controller({
      controllerId: driver.controller.controllerId,
      name: "attacker",
      random: (k) => new Uint8Array(randomBytes(k)),
    }).pairSetup(info, guess());
    await driver.sendMessage(ps.firstMessage);
    const answer = await driver.receiveMessage(10_000);
    emit({ type: "stalled", n, answer: answer[1] ?? null });
  }
  const reason = await dropped;
  emit({ type: "dropped", n, heldMs: Math.round(performance.now() - at), reason });
}

function failed(n: number, err: unknown): void {
  const code = isOpenClawError(err) ? err.code : "INTERNAL";
  emit({ type: "attack-error", n, code, message: err instanceof Error ? err.message : String(err) });
}

async function attack(name: string, mode: Mode, persistent: boolean, findMs: number): Promise<void> {
  try {
    const found = await driver.find((r) => r.name === name, findMs, `finding ${name}`);
    for (let n = 1; !stop; n++) {
      try {
        await round(n, found.id, mode);
      } catch (err) {
        failed(n, err);
        await driver.disconnect().catch(() => {});
      }
      if (!persistent) break;
    }
  } catch (err) {
    failed(0, err);
  } finally {
    running = false;
  }
}

serve(
  {
    attack: (a) => {
      if (running) throw new Error("already attacking");
      const mode = str(a, "mode");
      if (mode !== "hold" && mode !== "stall") throw new Error(`mode must be hold or stall, not ${mode}`);
      running = true;
      stop = false;
      void attack(str(a, "device"), mode, a.persistent === true, optNum(a, "findMs") ?? 10_000);
      return null;
    },
    /** Ends the attack after the current round (the link it holds is dropped now). */
    stop: async () => {
      stop = true;
      await driver.disconnect();
    },
  },
  () => {
    void driver.close();
  },
);
