/** The controller under the stacks going away: a power cycle on the air, and the air itself stopping. */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { killAll, liveChildren } from "../../rig/proc.js";
import { FIXTURE_READ, FIXTURE_SERVICE } from "../../rig/programs/uuids.js";
import { discovered, startAir, startCentral, startPeripheral, type TestAir } from "../../rig/radio.js";

const airs: TestAir[] = [];
async function air(): Promise<TestAir> {
  const t = await startAir();
  airs.push(t);
  return t;
}

afterEach(async () => {
  await killAll();
  for (const t of airs.splice(0)) await t.close();
});
afterAll(() => {
  expect(liveChildren()).toHaveLength(0);
});

describe("a virtual controller losing power", () => {
  it("shows bleno poweredOff then poweredOn, drops noble's link, and works again after re-advertising", async () => {
    const t = await air();
    const [central, dev] = await Promise.all([
      startCentral(t, "laptop"),
      startPeripheral(t, "dev1", "Claw-P"),
    ]);
    await central.call("scan", { services: [FIXTURE_SERVICE] });
    const found = await discovered(central, "Claw-P");
    await central.call("stopScan");
    await central.call("connect", { id: found.id, supervisionMs: 500 });
    await dev.next("accept", 3000);

    await t.air.powerCycle("dev1", 200); // shorter than the stacks' 1 s isDevUp poll
    await dev.waitFor((e) => e.type === "state" && e.state === "poweredOff", 3000, "bleno poweredOff");
    await dev.waitFor((e) => e.type === "state" && e.state === "poweredOn", 3000, "bleno poweredOn again");
    expect((await central.next("disconnect", 3000, "noble losing the link")).reason).toBe(0x08);

    await dev.call("advertise");
    const mark = central.mark();
    await central.call("scan", { services: [FIXTURE_SERVICE] });
    await discovered(central, "Claw-P", 5000, mark);
    await central.call("stopScan");
    await central.call("connect", { id: found.id });
    await central.call("discover", { id: found.id });
    expect(
      Buffer.from(await central.call<string>("read", { id: found.id, char: FIXTURE_READ }), "hex").toString(),
    ).toBe("hello from Claw-P");
  });

  it("reports poweredOff and an ADAPTER_UNAVAILABLE warning when the air goes away", async () => {
    const t = await air();
    const central = await startCentral(t, "laptop");
    await t.close();
    await central.waitFor((e) => e.type === "state" && e.state === "poweredOff", 3000, "noble poweredOff");
    expect(central.stderrTail()).toMatch(
      /no usable Bluetooth adapter: the virtual radio at unix:.* closed the stream/,
    );
    expect(central.running).toBe(true); // the stack decides what to do; the socket never crashes it
  });
});
