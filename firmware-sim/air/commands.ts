/**
 * The HCI commands a virtual controller answers, as a table: opcode → what it needs and what it does.
 * A command with fewer parameter bytes than it declares is a host bug: it is flagged (violation
 * `malformed-command`) and answered Invalid HCI Command Parameters, as Command Complete or Command Status
 * depending on the command's kind. Anything not in the table gets Unknown HCI Command: a real controller
 * answers every command.
 */
import type { Controller } from "./controller.js";
import { EVT, eventPacket, LE_EVT, OP, STATUS } from "./hci.js";
import { addressFromLabel } from "./radio.js";

/** What a command handler may do to its controller. */
export interface CommandContext {
  readonly c: Controller;
  readonly op: number;
  readonly params: Buffer;
  /** Command Complete with a status and return parameters. */
  complete(status: number, ret?: Buffer): void;
  /** Command Status (for commands that finish with their own event). */
  status(status: number): void;
}

interface CommandSpec {
  /** Parameter bytes it needs at least. */
  minParams?: number;
  /** Answered with Command Status (it finishes with its own event) rather than Command Complete. */
  async?: boolean;
  run(x: CommandContext): void;
}

const ok = (x: CommandContext, ret?: Buffer): void => x.complete(STATUS.success, ret);

/** A fixed answer: Command Complete, success, these return parameters. */
const fixed =
  (ret?: () => Buffer) =>
  (x: CommandContext): void =>
    ok(x, ret?.());

function readLocalVersion(): Buffer {
  const r = Buffer.alloc(8);
  r.writeUInt8(0x09, 0); // HCI version 5.0 (stacks refuse < 0x06)
  r.writeUInt16LE(0x0001, 1);
  r.writeUInt8(0x09, 3); // LMP/LL version 5.0
  r.writeUInt16LE(0xffff, 4); // manufacturer: none (test/unassigned)
  r.writeUInt16LE(0x0001, 6);
  return r;
}

function readLocalSupportedCommands(): Buffer {
  // Octet 25-28 flag the LE commands we answer; no extended advertising/scanning (octet 37 stays 0).
  const r = Buffer.alloc(64);
  r[0] = 0x20; // Disconnect
  r[5] = 0xc0; // Set Event Mask, Reset
  r[14] = 0x28; // Read Local Version, Read Local Supported Features
  r[15] = 0x22; // Read Buffer Size, Read BD_ADDR
  r[24] = 0x60; // Read/Write LE Host Supported
  r[25] = 0xf7;
  r[26] = 0xff;
  r[27] = 0x3f;
  r[28] = 0x0f;
  return r;
}

/**
 * LE connection parameter ranges (Core Vol 4 Part E 7.8.12): intervals 7.5 ms-4 s, latency < 500,
 * supervision timeout 100 ms-32 s and longer than two (latency-stretched) maximum intervals.
 */
export function validConnParams(min: number, max: number, latency: number, timeout: number): boolean {
  if (min < 0x0006 || max > 0x0c80 || min > max) return false;
  if (latency > 0x01f3 || timeout < 0x000a || timeout > 0x0c80) return false;
  return timeout * 10 > (1 + latency) * max * 1.25 * 2;
}

export const COMMANDS: ReadonlyMap<number, CommandSpec> = new Map<number, CommandSpec>([
  [
    OP.reset,
    {
      run: (x) => {
        x.c.resetState();
        ok(x);
      },
    },
  ],
  [
    OP.setEventMask,
    {
      minParams: 8,
      run: (x) => {
        x.c.eventMask = x.params.readBigUInt64LE(0);
        ok(x);
      },
    },
  ],
  [
    OP.leSetEventMask,
    {
      minParams: 8,
      run: (x) => {
        x.c.leEventMask = x.params.readBigUInt64LE(0);
        ok(x);
      },
    },
  ],
  [OP.readLocalVersion, { run: fixed(readLocalVersion) }],
  [OP.readLocalSupportedCommands, { run: fixed(readLocalSupportedCommands) }],
  [
    OP.readLocalSupportedFeatures,
    {
      run: fixed(() => {
        const r = Buffer.alloc(8);
        r[4] = 0x60; // LE supported (controller), BR/EDR not supported
        return r;
      }),
    },
  ],
  [OP.readBdAddr, { run: (x) => ok(x, Buffer.from(x.c.address)) }],
  [
    OP.readBufferSize,
    {
      run: (x) => {
        const r = Buffer.alloc(7);
        r.writeUInt16LE(x.c.config.aclBuffers.length, 0);
        r.writeUInt8(0, 2);
        r.writeUInt16LE(x.c.config.aclBuffers.count, 3);
        r.writeUInt16LE(0, 5);
        ok(x, r);
      },
    },
  ],
  [
    OP.leReadBufferSize,
    {
      run: (x) => {
        const r = Buffer.alloc(3);
        r.writeUInt16LE(x.c.config.aclBuffers.length, 0);
        r.writeUInt8(Math.min(255, x.c.config.aclBuffers.count), 2);
        ok(x, r);
      },
    },
  ],
  [OP.writeLeHostSupported, { minParams: 2, run: fixed() }],
  [OP.readLeHostSupported, { run: fixed(() => Buffer.from([0x01, 0x00])) }],
  [
    OP.leReadLocalSupportedFeatures,
    {
      run: fixed(() => {
        const r = Buffer.alloc(8);
        r[0] = 0x01 | 0x02; // LE encryption bit is set by most controllers; we also do param request
        return r;
      }),
    },
  ],
  [OP.leReadSupportedStates, { run: fixed(() => Buffer.from([0xff, 0xff, 0xff, 0x1f, 0, 0, 0, 0])) }],
  [OP.leReadWhiteListSize, { run: fixed(() => Buffer.from([8])) }],
  [OP.leClearWhiteList, { run: fixed() }],
  [OP.leReadAdvertisingTxPower, { run: (x) => ok(x, Buffer.from([x.c.config.txPowerDbm & 0xff])) }],
  [
    OP.leRand,
    {
      run: (x) => {
        const r = Buffer.alloc(8);
        for (let i = 0; i < 8; i++) r[i] = Math.floor(x.c.host.random() * 256);
        ok(x, r);
      },
    },
  ],
  [
    OP.leSetRandomAddress,
    {
      minParams: 6,
      run: (x) => {
        x.c.randomAddress = Buffer.from(x.params.subarray(0, 6));
        ok(x);
      },
    },
  ],
  [
    OP.leSetAdvertisingParameters,
    {
      minParams: 15,
      run: (x) => {
        if (x.c.adv.kind === "on") return x.complete(STATUS.commandDisallowed);
        const min = x.params.readUInt16LE(0);
        const max = x.params.readUInt16LE(2);
        const type = x.params.readUInt8(4);
        if (min > max || type > 0x04) return x.complete(STATUS.invalidParameters);
        x.c.advParams = { intervalUnits: min, type, ownAddressType: x.params.readUInt8(5) };
        ok(x);
      },
    },
  ],
  [OP.leSetAdvertisingData, { minParams: 1, run: (x) => setData(x, "advData") }],
  [OP.leSetScanResponseData, { minParams: 1, run: (x) => setData(x, "scanRspData") }],
  [
    OP.leSetAdvertiseEnable,
    {
      minParams: 1,
      run: (x) => {
        const on = x.params.readUInt8(0) === 0x01;
        const wasOn = x.c.adv.kind === "on";
        if (on && !wasOn) x.c.adv = { kind: "on", nextAt: 0 };
        if (!on && wasOn) x.c.adv = { kind: "off" };
        ok(x);
        if (on !== wasOn) x.c.host.advertisingChanged(x.c);
      },
    },
  ],
  [
    OP.leSetScanParameters,
    {
      minParams: 7,
      run: (x) => {
        if (x.c.scan.kind === "on") return x.complete(STATUS.commandDisallowed);
        x.c.scanParams = { active: x.params.readUInt8(0) === 0x01, ownAddressType: x.params.readUInt8(5) };
        ok(x);
      },
    },
  ],
  [
    OP.leSetScanEnable,
    {
      minParams: 2,
      run: (x) => {
        const on = x.params.readUInt8(0) === 0x01;
        const filterDuplicates = x.params.readUInt8(1) === 0x01;
        const wasOn = x.c.scan.kind === "on";
        // Every enable starts a fresh duplicate filter (a host re-enables to rediscover devices).
        x.c.scan = on ? { kind: "on", filterDuplicates, seen: new Set() } : { kind: "off" };
        ok(x);
        if (on !== wasOn) x.c.host.scanningChanged(x.c);
      },
    },
  ],
  [
    OP.leCreateConnection,
    {
      minParams: 25,
      async: true,
      run: (x) => {
        const p = x.params;
        if (x.c.init.kind === "initiating") return x.status(STATUS.commandDisallowed);
        const [min, max, latency, timeout] = [13, 15, 17, 19].map((o) => p.readUInt16LE(o)) as [
          number,
          number,
          number,
          number,
        ];
        if (!validConnParams(min, max, latency, timeout)) return x.status(STATUS.invalidParameters);
        x.c.init = {
          kind: "initiating",
          ownAddressType: p.readUInt8(12),
          peerAddressType: p.readUInt8(5),
          peerAddress: Buffer.from(p.subarray(6, 12)),
          minInterval: min,
          maxInterval: max,
          latency,
          timeout,
        };
        x.status(STATUS.success);
        x.c.host.initiatingChanged(x.c);
      },
    },
  ],
  [
    OP.leCreateConnectionCancel,
    {
      run: (x) => {
        if (x.c.init.kind !== "initiating") return x.complete(STATUS.commandDisallowed);
        const peer = x.c.init;
        x.c.init = { kind: "idle" };
        x.c.host.initiatingChanged(x.c);
        ok(x);
        // The spec answers a cancelled initiation with LE Connection Complete, status Unknown Connection ID.
        const ev = Buffer.alloc(18);
        ev.writeUInt8(STATUS.unknownConnection, 0);
        ev.writeUInt8(peer.peerAddressType, 4);
        peer.peerAddress.copy(ev, 5);
        x.c.sendEvent(eventPacket(EVT.leMeta, Buffer.concat([Buffer.from([LE_EVT.connectionComplete]), ev])));
      },
    },
  ],
  [
    OP.disconnect,
    {
      minParams: 3,
      async: true,
      run: (x) => {
        const done = x.c.host.disconnect(x.c, x.params.readUInt16LE(0) & 0x0fff, x.params.readUInt8(2));
        x.status(done ? STATUS.success : STATUS.unknownConnection);
      },
    },
  ],
  [
    OP.leConnectionUpdate,
    {
      minParams: 14,
      async: true,
      run: (x) => {
        const [min, max, latency, timeout] = [2, 4, 6, 8].map((o) => x.params.readUInt16LE(o)) as [
          number,
          number,
          number,
          number,
        ];
        if (!validConnParams(min, max, latency, timeout)) return x.status(STATUS.invalidParameters);
        const handle = x.params.readUInt16LE(0) & 0x0fff;
        const done = x.c.host.connectionUpdate(x.c, handle, min, max, latency, timeout);
        x.status(done ? STATUS.success : STATUS.unknownConnection);
      },
    },
  ],
  [
    OP.readRssi,
    {
      minParams: 2,
      run: (x) => {
        const handle = x.params.readUInt16LE(0) & 0x0fff;
        const rssi = x.c.host.rssiOf(x.c, handle);
        const r = Buffer.alloc(3);
        r.writeUInt16LE(handle, 0);
        r.writeInt8(rssi === undefined ? 127 : Math.max(-127, Math.min(20, Math.round(rssi))), 2);
        x.complete(rssi === undefined ? STATUS.unknownConnection : STATUS.success, r);
      },
    },
  ],
  [
    OP.leLtkNegativeReply,
    {
      minParams: 2,
      run: (x) => {
        const handle = x.params.readUInt16LE(0) & 0x0fff;
        const r = Buffer.alloc(2);
        r.writeUInt16LE(handle, 0);
        x.complete(x.c.links.has(handle) ? STATUS.success : STATUS.unknownConnection, r);
      },
    },
  ],
  [
    OP.vendorSetLabel,
    {
      run: (x) => {
        const label = x.params.toString("utf8");
        if (x.params.length === 0 || x.params.length > 32) return x.complete(STATUS.invalidParameters);
        if (label !== x.c.label && x.c.host.labelTaken(x.c, label)) {
          // One label, one device: a second client would get the same address and confuse `air ctl`.
          return x.complete(STATUS.commandDisallowed);
        }
        x.c.label = label;
        x.c.address = addressFromLabel(label);
        ok(x);
        x.c.host.labelled(x.c);
      },
    },
  ],
]);

function setData(x: CommandContext, field: "advData" | "scanRspData"): void {
  const len = Math.min(31, x.params.readUInt8(0));
  x.c[field] = Buffer.from(x.params.subarray(1, 1 + len));
  ok(x);
}

/** Commands answered with Command Status rather than Command Complete (they finish with their own event). */
export function isAsyncCommand(op: number): boolean {
  const known = COMMANDS.get(op);
  if (known) return known.async === true;
  const ogf = op >> 10;
  const ocf = op & 0x3ff;
  if (ogf === 0x01) return true; // link control: connect, disconnect, read remote name, ...
  if (ogf === 0x08) {
    // LE: Read Remote Features, Start Encryption, Read Local P-256 Key, Generate DHKey, Set PHY,
    // Extended/Periodic Create Connection and friends.
    return [0x0016, 0x0019, 0x0025, 0x0026, 0x0032, 0x0043, 0x0044, 0x005e].includes(ocf);
  }
  return false;
}

/** Runs one command from the host against its controller, through the table. */
export function runCommand(c: Controller, op: number, params: Buffer): void {
  const spec = COMMANDS.get(op);
  const async = isAsyncCommand(op);
  const x: CommandContext = {
    c,
    op,
    params,
    complete: (status, ret) => c.answerComplete(op, status, ret),
    status: (status) => c.answerStatus(op, status),
  };
  if (!spec) {
    // Never silence: a real controller answers every command it does not know.
    if (async) x.status(STATUS.unknownCommand);
    else x.complete(STATUS.unknownCommand);
    return;
  }
  if (params.length < (spec.minParams ?? 0)) {
    c.host.violation(
      c,
      "malformed-command",
      `opcode 0x${op.toString(16)} with ${params.length} parameter bytes`,
    );
    if (spec.async) x.status(STATUS.invalidParameters);
    else x.complete(STATUS.invalidParameters);
    return;
  }
  spec.run(x);
}
