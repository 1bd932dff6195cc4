/**
 * An unmodified noble program on the virtual air through the package's own preload:
 *   OPENCLAW_HCI=unix:/…/air.sock?label=x node --require openclaw-pair/hci-register plain-scan.js NAME
 * (the package name resolves through its own "exports": Node lets a package import itself by name).
 */
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killAll, liveChildren, spawnProgram } from "../../rig/proc.js";
import { airEmpty, startAir, startPeripheral, type TestAir } from "../../rig/radio.js";

let t: TestAir;
let port: number;

beforeAll(async () => {
  t = await startAir();
  await t.air.listen({ port: 0, host: "127.0.0.1" });
  port = t.air.tcpPort()!;
  await startPeripheral(t, "dev1", "Claw-R");
});
afterAll(async () => {
  await killAll();
  await airEmpty(t); // every stream closed: no socket left behind
  await t.close();
  expect(liveChildren()).toHaveLength(0);
  expect(existsSync(t.path)).toBe(false);
});

type ScanEvent =
  | { type: "state"; state: string }
  | { type: "found"; name: string; address: string; rssi: number };

async function runPlain(
  nodeArgs: string[],
  spec: string,
  program = "test/fixtures/plain-scan.js",
): Promise<void> {
  const c = spawnProgram<ScanEvent>(program, {
    name: `plain noble (${nodeArgs.join(" ")})`,
    nodeArgs,
    args: ["Claw-R"],
    env: { OPENCLAW_HCI: spec },
  });
  const found = await c.next("found", 8000, "the plain noble program finding Claw-R");
  expect(found.rssi).toBeLessThan(0);
  expect((await c.exited).code).toBe(0);
}

describe("openclaw-pair/hci-register with an unmodified noble program", () => {
  it("works with --require over a unix socket", async () => {
    await runPlain(["--require", "openclaw-pair/hci-register"], t.spec("plain-require"));
  });

  it("works with --import over TCP", async () => {
    await runPlain(["--import", "openclaw-pair/hci-register"], `tcp:127.0.0.1:${port}?label=plain-tcp`);
  });

  it("reaches noble in a worker thread through the inherited execArgv", async () => {
    await runPlain(
      ["--require", "openclaw-pair/hci-register"],
      t.spec("plain-worker"),
      "test/fixtures/worker-scan.js",
    );
  });
});
