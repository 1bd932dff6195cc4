import { createHash } from "node:crypto";

/** Where a controller sits, in metres. */
export interface Position {
  x: number;
  y: number;
}

/** Log-distance path loss: a 0 dBm transmitter is heard at -59 dBm one metre away. */
export interface PathLossModel {
  /** Loss at the 1 m reference distance, dB. */
  refLossDb: number;
  /** Path-loss exponent (2 = free space; ~2.2 for a room). */
  exponent: number;
}

export const DEFAULT_PATH_LOSS: PathLossModel = { refLossDb: 59, exponent: 2.2 };

export function distance(a: Position, b: Position): number {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

/** Received power in dBm before jitter. Distances under 10 cm count as 10 cm (near-field is not modelled). */
export function receivedPowerDbm(
  txPowerDbm: number,
  metres: number,
  m: PathLossModel = DEFAULT_PATH_LOSS,
): number {
  const d = Math.max(0.1, metres);
  return txPowerDbm - m.refLossDb - 10 * m.exponent * Math.log10(d);
}

/**
 * Default placement: the first controller at the origin, every later one on a 1 m circle around it
 * (spread by the golden angle), so a laptop and a device start one metre apart.
 */
export function defaultPosition(index: number): Position {
  if (index === 0) return { x: 0, y: 0 };
  const angle = index * 2.399963229728653;
  return { x: round3(Math.cos(angle)), y: round3(Math.sin(angle)) };
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/**
 * A stable public BD_ADDR from a label: the same label gets the same address across restarts, so a bond
 * made by one run of a simulated device is recognised by the next. Little-endian, as on the wire.
 */
export function addressFromLabel(label: string): Buffer {
  const h = createHash("sha256").update(`openclaw-air/label/${label}`).digest();
  return Buffer.from(h.subarray(0, 6));
}

export function addressFromCounter(n: number): Buffer {
  const h = createHash("sha256").update(`openclaw-air/anon/${n}`).digest();
  return Buffer.from(h.subarray(0, 6));
}

/** Seeded uniform numbers in [0, 1) for RSSI jitter and advertising delay (mulberry32). */
export function seededUniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
