/**
 * A hostile peripheral as a child program: a raw H4 host (firmware-sim/air/test-client.ts, no Bluetooth
 * stack) that advertises exactly like an OpenClaw device in pairing mode (service UUID, manufacturer
 * data from src/protocol/advert.ts) and answers every ATT request a central sends with a malformed PDU:
 * truncated responses, responses with the wrong opcode, PDUs longer than any MTU, stray notifications.
 * It advertises again after each link ends, so retries meet it too.
 *
 * Arguments: <air socket path> <label> <advertised name>. Events: advertising, connected {handle},
 * att {request, answer}, disconnected {handle}.
 */
import { randomBytes } from "node:crypto";
import { EVT, LE_EVT, OP } from "../../firmware-sim/air/hci.js";
import { H4TestClient, isEvent, isLeMeta, params, RawAttLink } from "../../firmware-sim/air/test-client.js";
import { buildAdvertising } from "../../src/protocol/advert.js";
import { emit, serve } from "./lines.js";

const [path, label, name] = process.argv.slice(2) as [string, string, string];

/** The answers, in turn: each is wrong in another way. */
const MALFORMED: ReadonlyArray<(req: Buffer) => Buffer> = [
  () => Buffer.from("03", "hex"), // Exchange MTU Response without the MTU
  (req) => Buffer.from([0x0b, req[0] ?? 0]), // a Read Response to whatever was asked
  () => Buffer.from("11", "hex"), // Read By Group Type Response without its length byte
  () => Buffer.concat([Buffer.from("1106", "hex"), Buffer.alloc(600, 0xee)]), // far beyond the MTU
  () => Buffer.from("0901", "hex"), // Read By Type Response with a 1-byte length
  () => Buffer.from("01", "hex"), // Error Response without its fields
  () => Buffer.from("1b", "hex"), // a notification without a handle instead of an answer
  () => Buffer.from("05", "hex"), // Find Information Response without its format
  () => Buffer.from([0x7f, 0xff, 0xff]), // an opcode that does not exist
];

const client = await H4TestClient.connect(path);
await client.init(label);
const adv = buildAdvertising({
  name,
  version: 1,
  windowOpen: true,
  hasBonds: false,
  nonce: new Uint8Array(randomBytes(16)),
});

async function advertise(): Promise<void> {
  await client.command(OP.leSetAdvertisingParameters, params.advertising(20));
  await client.command(OP.leSetAdvertisingData, params.data(Buffer.from(adv.advertisement)));
  await client.command(OP.leSetScanResponseData, params.data(Buffer.from(adv.scanResponse)));
  await client.command(OP.leSetAdvertiseEnable, Buffer.from([1]));
}

let turn = 0;
function serveLink(link: RawAttLink): void {
  const loop = async (): Promise<void> => {
    for (;;) {
      let req: Buffer;
      try {
        req = await link.next(60_000, "a request");
      } catch {
        return; // the link ended
      }
      // Commands (bit 6) and confirmations get no answer from a real server either; answer them anyway.
      const answer = MALFORMED[turn++ % MALFORMED.length]!(req);
      link.send(answer);
      emit({
        type: "att",
        request: req.toString("hex").slice(0, 16),
        answer: answer.toString("hex").slice(0, 16),
      });
    }
  };
  void loop();
}

client.tap((p) => {
  if (p.length === 0) return;
  if (isLeMeta(p, LE_EVT.connectionComplete) && p[4] === 0) {
    const handle = p.readUInt16LE(5) & 0x0fff;
    emit({ type: "connected", handle });
    serveLink(new RawAttLink(client, handle));
  } else if (isEvent(p, EVT.disconnectionComplete)) {
    emit({ type: "disconnected", handle: p.readUInt16LE(4) & 0x0fff });
    void advertise().catch(() => {});
  }
});

await advertise();
emit({ type: "advertising", name });

serve({
  exit: () => {
    setImmediate(() => process.exit(0));
  },
});
