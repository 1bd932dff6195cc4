/**
 * A crowd on the virtual air: advertisers that are not OpenClaw devices and change their address all the
 * time, as phones, watches and earbuds do (resolvable private addresses, new every few minutes on a
 * real phone; here as fast as the air lets them). A scanning laptop hears each new address as a new
 * peripheral, so this is what shows whether a long-running daemon keeps something per address forever.
 *
 * Each member is a raw H4 client (firmware-sim/air/test-client.ts) sending non-connectable adverts with
 * a random own address; every `dwellMs` it stops, takes a new random address and starts again.
 */
import { randomBytes } from "node:crypto";
import { addressToString, OP } from "../firmware-sim/air/hci.js";
import { H4TestClient, params } from "../firmware-sim/air/test-client.js";

export interface CrowdOptions {
  /** Members advertising at once. */
  members: number;
  /** How long each address is kept (≥ 2 advertising intervals, so the scanner hears it). */
  dwellMs?: number;
  /** Advertising interval (the air's floor is 20 ms). */
  intervalMs?: number;
}

const ADV_NONCONN_IND = 0x03;
const OWN_ADDRESS_RANDOM = 0x01;

/** A resolvable-private-style address (top bits 01), little-endian as HCI carries it. */
function privateAddress(): Buffer {
  const a = randomBytes(6);
  a[5] = (a[5]! & 0x3f) | 0x40;
  return a;
}

/** Flags + manufacturer data of an unrelated vendor (company id 0x004C): what a phone's advert holds. */
const FOREIGN_DATA = Buffer.from("020106" + "0aff4c0010050b1c" + "abcdef", "hex");

export class Crowd {
  /** Addresses used so far (lower-case, colon-separated, as noble reports them). */
  readonly addresses: string[] = [];
  #running = true;
  readonly #done: Promise<void>;

  private constructor(
    private readonly clients: H4TestClient[],
    private readonly o: Required<CrowdOptions>,
  ) {
    this.#done = Promise.all(clients.map((c) => this.#run(c))).then(() => {});
  }

  static async start(airPath: string, o: CrowdOptions): Promise<Crowd> {
    const clients = await Promise.all(Array.from({ length: o.members }, () => H4TestClient.connect(airPath)));
    return new Crowd(clients, {
      dwellMs: o.dwellMs ?? 60,
      intervalMs: o.intervalMs ?? 20,
      members: o.members,
    });
  }

  async #run(c: H4TestClient): Promise<void> {
    const adv = params.advertising(this.o.intervalMs, ADV_NONCONN_IND);
    adv.writeUInt8(OWN_ADDRESS_RANDOM, 5);
    c.sendCommand(OP.leSetAdvertisingParameters, adv);
    c.sendCommand(OP.leSetAdvertisingData, params.data(FOREIGN_DATA));
    while (this.#running && !c.closed) {
      const address = privateAddress();
      c.sendCommand(OP.leSetAdvertiseEnable, Buffer.from([0]));
      c.sendCommand(OP.leSetRandomAddress, address);
      c.sendCommand(OP.leSetAdvertiseEnable, Buffer.from([1]));
      this.addresses.push(addressToString(address).toLowerCase());
      // The client keeps every packet it receives; the crowd never reads them.
      c.received.length = 0;
      await new Promise((r) => setTimeout(r, this.o.dwellMs));
    }
    c.sendCommand(OP.leSetAdvertiseEnable, Buffer.from([0]));
  }

  /** Resolves once at least `n` addresses have been used. */
  async until(n: number): Promise<void> {
    while (this.addresses.length < n && this.#running) await new Promise((r) => setTimeout(r, 50));
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
    await Promise.all(this.clients.map((c) => c.close()));
  }
}
