import type { Position } from "./radio.js";

export type { Position } from "./radio.js";

/** Per-controller radio and buffer settings. Defaults model a laptop adapter and a small device. */
export interface ControllerConfig {
  /** Transmit power, dBm. */
  txPowerDbm: number;
  /** Weakest signal the receiver decodes, dBm: adverts and connection events below it are not heard. */
  sensitivityDbm: number;
  /** What LE Read Buffer Size answers: the host's ACL fragment size and how many it may have in flight. */
  aclBuffers: { length: number; count: number };
  /** Largest LL data PDU payload on air (27 without data length extension). */
  llPayloadBytes: number;
  /** How many LL data PDUs one direction of a link carries in one connection event. */
  packetsPerEvent: number;
  /** Floor for the advertising interval, ms (the spec's minimum is 20 ms). */
  minAdvIntervalMs: number;
  /** Uniform RSSI jitter, ± dB (seeded). */
  rssiJitterDb: number;
  /** Honour the scanner's Filter_Duplicates flag (report each address/type/data once per scan). */
  honourDuplicateFilter: boolean;
}

export const DEFAULT_CONFIG: ControllerConfig = {
  txPowerDbm: 0,
  sensitivityDbm: -90,
  aclBuffers: { length: 27, count: 8 },
  llPayloadBytes: 27,
  packetsPerEvent: 6,
  minAdvIntervalMs: 20,
  rssiJitterDb: 0,
  honourDuplicateFilter: true,
};

/** What configure() accepts: any subset, including half of aclBuffers. */
export type ConfigPatch = Partial<Omit<ControllerConfig, "aclBuffers">> & {
  aclBuffers?: Partial<ControllerConfig["aclBuffers"]>;
};

export interface ControllerInfo {
  id: string;
  label?: string;
  address: string;
  position: Position;
  powered: boolean;
  role?: "central" | "peripheral";
  advertising: boolean;
  scanning: boolean;
  connections: number;
  /** Bytes sent to the client that it has not read yet, and the most it ever left unread. */
  backlogBytes: number;
  peakBacklogBytes: number;
  /** Set when the air dropped the client, and why. */
  droppedFor?: string;
}

export interface Fault {
  /** Drop the controller's link when its Nth ACL packet (either direction, counted from now) is due. */
  dropAtPacket?: number;
  /** Extra delay on every packet to or from this controller, ms. */
  latencyMs?: number;
  /** Extra uniform random delay 0..jitterMs on top of latencyMs (order is kept). */
  jitterMs?: number;
}

/** Counters for one central/peripheral pair (scanner/advertiser before they connect). */
export interface LinkCounters {
  central: string;
  peripheral: string;
  /** Advertising reports (incl. scan responses) the central's host received from the peripheral. */
  adverts: number;
  scanResponses: number;
  connections: number;
  connectionEvents: number;
  packetsToPeripheral: number;
  packetsToCentral: number;
  /** Packets lost to faults. */
  dropped: number;
  violations: number;
  connected: boolean;
  /** Current connection interval, ms, while connected. */
  intervalMs?: number;
}

export type ViolationKind =
  | "att-mtu"
  | "acl-too-long"
  | "acl-overflow"
  | "acl-unknown-handle"
  | "malformed-command"
  | "h4-framing";

export interface Violation {
  kind: ViolationKind;
  /** Label or address of the controller whose host sent the offending packet. */
  controller: string;
  detail: string;
}

/** The air's "att" event: one ATT PDU on a link (opcode and direction; the payload stays private). */
export interface AttPduEvent {
  central: string;
  peripheral: string;
  fromCentral: boolean;
  opcode: number | undefined;
}
