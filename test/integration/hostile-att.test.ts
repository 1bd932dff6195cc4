/**
 * Hostile ATT from anyone in range, before any pairing (issue 7 defect 1): a raw H4 central sends
 * truncated ATT PDUs into the real simulated device (`openclaw sim`, bleno), and a raw H4 peripheral
 * sends malformed notifications and responses to the real noble. Neither process may end; malformed
 * requests get the Core spec's answer (Error Response, Invalid PDU, handle 0), commands and
 * notifications are dropped, and both still do their job afterwards.
 */
import { describe, expect, it } from "vitest";
import { addressFromString } from "../../firmware-sim/air/hci.js";
import { H4TestClient, l2capFrame, type RawAttLink } from "../../firmware-sim/air/test-client.js";
import { discovered, startCentral, type TestAir } from "../../rig/radio.js";
import { startDriver } from "../helpers/driver.js";
import { connected, startSim, useSimAir } from "./sim-harness.js";

let t: TestAir;
useSimAir((air) => {
  t = air;
});

/** Truncated PDUs: `answer` is what the device must send back ("none" for commands). */
const TRUNCATED: ReadonlyArray<{ pdu: string; what: string; answer: string }> = [
  { pdu: "02", what: "Exchange MTU without the MTU", answer: "0102000004" },
  { pdu: "0217", what: "Exchange MTU with a 1-byte MTU", answer: "0102000004" },
  { pdu: "04", what: "Find Information without handles", answer: "0104000004" },
  { pdu: "040100", what: "Find Information without the end handle", answer: "0104000004" },
  { pdu: "040100ff", what: "Find Information with a 1-byte end handle", answer: "0104000004" },
  { pdu: "06", what: "Find By Type Value without handles", answer: "0106000004" },
  { pdu: "060100ffff", what: "Find By Type Value without the type", answer: "0106000004" },
  { pdu: "060100ffff00", what: "Find By Type Value with a 1-byte type", answer: "0106000004" },
  { pdu: "08", what: "Read By Type without handles", answer: "0108000004" },
  { pdu: "080100ffff", what: "Read By Type without the type", answer: "0108000004" },
  { pdu: "080100ffff03", what: "Read By Type with a 1-byte type", answer: "0108000004" },
  { pdu: "0a", what: "Read without a handle", answer: "010a000004" },
  { pdu: "0a01", what: "Read with a 1-byte handle", answer: "010a000004" },
  { pdu: "0c", what: "Read Blob without a handle", answer: "010c000004" },
  { pdu: "0c0100", what: "Read Blob without the offset", answer: "010c000004" },
  { pdu: "0c010000", what: "Read Blob with a 1-byte offset", answer: "010c000004" },
  { pdu: "0e0100", what: "Read Multiple with one handle", answer: "010e000004" },
  { pdu: "10", what: "Read By Group Type without handles", answer: "0110000004" },
  { pdu: "100100ffff", what: "Read By Group Type without the type", answer: "0110000004" },
  { pdu: "100100ffff00", what: "Read By Group Type with a 1-byte type", answer: "0110000004" },
  { pdu: "12", what: "Write without a handle", answer: "0112000004" },
  { pdu: "1201", what: "Write with a 1-byte handle", answer: "0112000004" },
  { pdu: "16", what: "Prepare Write without a handle", answer: "0116000004" },
  { pdu: "160100", what: "Prepare Write without the offset", answer: "0116000004" },
  { pdu: "18", what: "Execute Write without the flags", answer: "0118000004" },
  { pdu: "52", what: "Write Command without a handle", answer: "none" },
  { pdu: "5201", what: "Write Command with a 1-byte handle", answer: "none" },
];

/** A valid Read Request of handle 1 (the GAP service declaration): proves the GATT server still works. */
const PROBE = Buffer.from("0a0100", "hex");

async function probe(link: RawAttLink): Promise<string> {
  const answer = await link.request(PROBE, 3000);
  return answer[0] === 0x0b ? "alive" : `probe answered ${answer.toString("hex")}`;
}

/** "died" once the process has exited (within 3 s of losing its answers), "no answer" if it lives on. */
async function deadOrMute(child: { exited: Promise<unknown> }): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const mute = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve("no answer to the probe"), 3000);
  });
  const verdict = await Promise.race([child.exited.then(() => "died"), mute]);
  clearTimeout(timer);
  return verdict;
}

/** Sends one hostile frame and reports what came back, whether the device still answers, or that it died. */
async function attack(
  link: RawAttLink,
  child: { exited: Promise<unknown> },
  send: () => void,
  expectAnswer: boolean,
): Promise<{ answer: string; after: string }> {
  send();
  let answer = "none";
  if (expectAnswer) {
    answer = await link.next(3000, "the answer").then(
      (b) => b.toString("hex"),
      () => "no answer",
    );
  }
  const after = await probe(link).catch(() => deadOrMute(child));
  // A command must be dropped: anything the device sent before the probe's answer would show up here.
  if (!expectAnswer) {
    const extra = link.pending();
    if (extra.length > 0) answer = extra.map((b) => b.toString("hex")).join(",");
  }
  return { answer, after };
}

describe("hostile ATT into the simulated device", () => {
  it("answers all 27 truncated ATT PDUs with Invalid PDU (or drops commands), keeps running and still pairs", async () => {
    const dev = await startSim(t, "dev1");
    const raw = await H4TestClient.connect(t.path);
    try {
      await raw.init("attacker");
      const address = t.air.controllers().find((c) => c.label === "dev1")?.address;
      expect(address).toBeDefined();
      const link = await raw.connectTo(addressFromString(address!));
      await dev.next("connected", 5000);
      expect(await probe(link)).toBe("alive");

      const seen: Array<{ pdu: string; answer: string; after: string }> = [];
      for (const c of TRUNCATED) {
        const r = await attack(
          link,
          dev.child,
          () => link.send(Buffer.from(c.pdu, "hex")),
          c.answer !== "none",
        );
        seen.push({ pdu: c.pdu, ...r });
        if (r.after === "died") break; // the rest cannot be asked
      }
      expect(seen).toEqual(TRUNCATED.map((c) => ({ pdu: c.pdu, answer: c.answer, after: "alive" })));
      await link.disconnect();
    } finally {
      await raw.close();
    }
    await dev.next("disconnected", 5000);

    // The device still does its job: a laptop pairs with the code on its display.
    const laptop = startDriver(t.spec("laptop"), { laptopName: "after the attack" });
    await connected(laptop, dev);
    const bond = await laptop.pair(dev.firstDisplay!.code);
    expect(bond).toMatchObject({ deviceId: dev.ready.id.toLowerCase(), role: "admin" });
    expect(dev.child.running).toBe(true);
  }, 60_000);

  it("drops malformed L2CAP frames (short header, empty ATT and SMP frames, a length that lies) and keeps running", async () => {
    const dev = await startSim(t, "dev2");
    const raw = await H4TestClient.connect(t.path);
    try {
      await raw.init("attacker2");
      const address = t.air.controllers().find((c) => c.label === "dev2")?.address;
      const link = await raw.connectTo(addressFromString(address!));
      await dev.next("connected", 5000);
      const frames: ReadonlyArray<{ what: string; payload: Buffer }> = [
        { what: "an ACL start shorter than the L2CAP header", payload: Buffer.from("0100", "hex") },
        { what: "an empty ATT frame", payload: l2capFrame(4, Buffer.alloc(0)) },
        { what: "an empty SMP frame", payload: l2capFrame(6, Buffer.alloc(0)) },
        { what: "a truncated SMP Pairing Request", payload: l2capFrame(6, Buffer.from("01", "hex")) },
        {
          what: "an L2CAP length longer than the frame (never completed)",
          payload: Buffer.from("0900040012", "hex"),
        },
      ];
      const seen: Array<{ what: string; answer: string; after: string }> = [];
      for (const f of frames) {
        const r = await attack(link, dev.child, () => link.sendAclPayload(f.payload), false);
        seen.push({ what: f.what, ...r });
        if (r.after === "died") break;
      }
      expect(seen).toEqual(frames.map((f) => ({ what: f.what, answer: "none", after: "alive" })));
      await link.disconnect();
    } finally {
      await raw.close();
    }
  }, 30_000);
});

describe("a hostile device against the laptop's noble", () => {
  /** Malformed PDUs a fake device sends once noble has connected (noble asks for the MTU first). */
  const CASES: ReadonlyArray<{ what: string; mtuAnswer?: string; send?: string }> = [
    { what: "an Exchange MTU Response without the MTU", mtuAnswer: "03" },
    { what: "a notification without a handle", send: "1b" },
    { what: "a notification with a 1-byte handle", send: "1b01" },
    { what: "an indication without a handle", send: "1d" },
  ];

  it.each(CASES)("survives $what and still confirms a valid indication", async (c) => {
    const fake = await H4TestClient.connect(t.path);
    try {
      await fake.init(`fake-${c.send ?? c.mtuAnswer}`);
      const name = `Fake-${c.send ?? c.mtuAnswer}`;
      await fake.advertise(name);
      const central = await startCentral(t, `laptop-${c.send ?? c.mtuAnswer}`);
      await central.call("scan", {});
      const found = await discovered(central, name);
      await central.call("stopScan");
      const accepted = fake.accepted(5000);
      await central.call("connect", { id: found.id });
      const link = await accepted;

      const mtuRequest = await link.next(3000, "noble's Exchange MTU Request");
      expect(mtuRequest[0]).toBe(0x02);
      link.send(Buffer.from(c.mtuAnswer ?? "031700", "hex"));
      if (c.send) link.send(Buffer.from(c.send, "hex"));

      // noble must still be there and its ATT layer must still work: it confirms a valid indication.
      link.send(Buffer.from("1d0300aa", "hex"));
      const confirmation = await link.next(3000, "noble's Handle Value Confirmation").then(
        (b) => b.toString("hex"),
        () => "none",
      );
      const state = await central.call<{ state: string }>("state").then(
        (s) => s.state,
        async () => deadOrMute(central),
      );
      expect({ state, confirmation }).toEqual({ state: "poweredOn", confirmation: "1e" });
      await central.call("disconnect", { id: found.id });
      await central.end();
    } finally {
      await fake.close();
    }
  });
});
