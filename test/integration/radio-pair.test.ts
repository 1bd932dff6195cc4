/**
 * The real noble (one process) and the real bleno (another) on the virtual air: everything a GATT
 * client and server do to each other.
 */
import { describe, expect, it } from "vitest";
import type { Violation } from "../../firmware-sim/air/index.js";
import { FIXTURE_NOTIFY, FIXTURE_READ, FIXTURE_SERVICE, FIXTURE_WRITE } from "../../rig/programs/uuids.js";
import { discovered, startCentral, startPeripheral, type TestAir } from "../../rig/radio.js";
import { useAirSuite } from "../helpers/air-suite.js";

let t: TestAir;
const violations: Violation[] = [];
useAirSuite({
  started: (air) => {
    t = air;
  },
  violations,
  killAfterEach: true,
});

describe("noble and bleno on the virtual air", () => {
  it("discover, connect, exchange MTU, discover services, read, write, notify, disconnect and reconnect", async () => {
    const [central, dev] = await Promise.all([
      startCentral(t, "laptop"),
      startPeripheral(t, "dev1", "Claw-1"),
    ]);
    await central.call("scan", { services: [FIXTURE_SERVICE] });
    const found = await discovered(central, "Claw-1");
    expect(found.rssi).toBeLessThan(0);
    expect(found.rssi).toBeGreaterThan(-90);
    expect(found.serviceUuids).toContain(FIXTURE_SERVICE);
    expect(found.connectable).toBe(true);
    await central.call("stopScan");

    await central.call("connect", { id: found.id });
    await dev.next("accept", 3000, "dev1 accepting the connection");
    const layout = await central.call<{
      mtu: number;
      services: { uuid: string; characteristics: { uuid: string; properties: string[] }[] }[];
    }>("discover", { id: found.id });
    expect(layout.mtu).toBeGreaterThan(23);
    const mtuEvent = await dev.next("mtuChange", 3000);
    expect(mtuEvent.mtu).toBe(layout.mtu);
    const service = layout.services.find((s) => s.uuid === FIXTURE_SERVICE);
    expect(service?.characteristics.map((c) => c.uuid).sort()).toEqual(
      [FIXTURE_READ, FIXTURE_WRITE, FIXTURE_NOTIFY].sort(),
    );

    // Read, and a value longer than one ATT MTU (read blob).
    expect(
      Buffer.from(await central.call<string>("read", { id: found.id, char: FIXTURE_READ }), "hex").toString(),
    ).toBe("hello from Claw-1");
    const long = Buffer.from(Array.from({ length: 400 }, (_, i) => i & 0xff));
    await dev.call("setRead", { data: long.toString("hex") });
    expect(await central.call("read", { id: found.id, char: FIXTURE_READ })).toBe(long.toString("hex"));

    // Write with response, short and longer than one packet (prepare/execute), and without response.
    for (const [data, withoutResponse] of [
      ["01020304", false],
      [Buffer.alloc(180, 0xab).toString("hex"), false], // several ACL fragments, one ATT PDU
      [Buffer.alloc(600, 0xcd).toString("hex"), false], // longer than the MTU: a long write
      ["a5a5", true],
      [Buffer.alloc(layout.mtu - 3, 0x5a).toString("hex"), true], // the largest write command that fits
    ] as const) {
      await central.call("write", { id: found.id, char: FIXTURE_WRITE, data, withoutResponse });
      const w = await dev.next("write", 3000, `the ${data.length / 2}-byte write`);
      expect({ data: w.data, withoutResponse: w.withoutResponse }).toEqual({ data, withoutResponse });
    }

    // Notify.
    await central.call("subscribe", { id: found.id, char: FIXTURE_NOTIFY });
    await dev.next("subscribe", 3000);
    await dev.call("notify", { data: "c0ffee" });
    const n = await central.next("notify", 3000);
    expect(n).toMatchObject({ char: FIXTURE_NOTIFY, data: "c0ffee", isNotification: true });

    // RSSI of the connection.
    const rssi = await central.call<number>("rssi", { id: found.id });
    expect(rssi).toBeLessThan(0);

    // Disconnect and reconnect.
    await central.call("disconnect", { id: found.id });
    await central.next("disconnect", 3000);
    await dev.next("disconnect", 3000, "dev1 seeing the disconnect");
    const mark = central.mark();
    await central.call("scan", { services: [FIXTURE_SERVICE] });
    const again = await discovered(central, "Claw-1", 5000, mark);
    await central.call("stopScan");
    await central.call("connect", { id: again.id });
    await dev.next("accept", 3000, "dev1 accepting the second connection");
    await central.call("discover", { id: found.id });
    expect(await central.call("read", { id: found.id, char: FIXTURE_READ })).toBe(long.toString("hex"));

    expect(violations).toEqual([]);
  });
});
