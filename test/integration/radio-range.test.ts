/** Moving a device out of range and back: supervision timeout, the disconnect noble reports, rediscovery. */
import { describe, expect, it } from "vitest";
import { FIXTURE_SERVICE } from "../../rig/programs/uuids.js";
import { discovered, startCentral, startPeripheral, type TestAir } from "../../rig/radio.js";
import { useAirSuite } from "../helpers/air-suite.js";

let t: TestAir;
useAirSuite({
  started: (air) => {
    t = air;
  },
});

const SUPERVISION_MS = 1000;
/** HCI reason for a supervision timeout. */
const CONNECTION_TIMEOUT = 0x08;

describe("a device moved out of range", () => {
  it("drops its link after the supervision timeout, noble reports it, and it is found again when back", async () => {
    const [central, dev] = await Promise.all([
      startCentral(t, "laptop"),
      startPeripheral(t, "dev1", "Claw-1"),
    ]);
    await central.call("scan", { services: [FIXTURE_SERVICE] });
    const found = await discovered(central, "Claw-1");
    await central.call("stopScan");
    await central.call("connect", { id: found.id, supervisionMs: SUPERVISION_MS });
    await dev.next("accept", 3000);

    const home = t.air.controllers().find((c) => c.label === "dev1")!.position;
    const movedAt = performance.now();
    t.air.move("dev1", { x: home.x + 2000, y: home.y });
    const lost = await central.next("disconnect", SUPERVISION_MS + 3000, "noble reporting the lost link");
    const after = performance.now() - movedAt;
    expect(lost.reason).toBe(CONNECTION_TIMEOUT);
    expect(after).toBeGreaterThanOrEqual(SUPERVISION_MS * 0.9);
    expect(after).toBeLessThan(SUPERVISION_MS + 1500);
    await dev.next("disconnect", SUPERVISION_MS + 3000, "bleno seeing the lost link");

    // Out of range it is not heard, though it advertises again.
    const mark = central.mark();
    await central.call("scan", { services: [FIXTURE_SERVICE], duplicates: true });
    await expect(discovered(central, "Claw-1", 600, mark)).rejects.toThrow(/timed out.*Claw-1/);

    t.air.move("dev1", home);
    const back = await discovered(central, "Claw-1", 5000, mark);
    expect(back.address).toBe(found.address);
    expect(back.rssi).toBeGreaterThan(-90);
    await central.call("stopScan");
  });
});
