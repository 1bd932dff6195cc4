/**
 * The control API's methods on top of the daemon's core (src/daemon/core/api.ts): each handler is a
 * thin translation, core shapes to API shapes (wall times as ISO text, monotonic times as "ago" or
 * "left" relative to the answer), plus the one thing only the API layer knows: which connection owns a
 * prepared pairing. A pairing is cancelled when its connection goes away (Ctrl-C or kill -9 of the
 * CLI), so an abandoned prompt never leaves the device connected or a bond half made.
 */
import { type ClawOp, isClawOp } from "../../app/claw.js";
import { type Clock, sleep } from "../../clock/index.js";
import { fromHex, toHex } from "../../protocol/bytes.js";
import { OpenClawError } from "../../protocol/errors.js";
import type * as core from "../core/api.js";
import type * as api from "./api.js";
import type { NotificationName, Notifications } from "./api.js";
import type { RpcContext, RpcHandlers } from "./server.js";

/** What the daemon process tells the API about itself. */
export interface DaemonSelf {
  hello(): api.HelloResult;
  status(
    base: api.HelloResult,
  ): Omit<api.DaemonStatus, keyof api.HelloResult | "bonds" | "discovered" | "sessions">;
  /** Bond files the store moved aside at load. */
  quarantined(): api.QuarantinedFile[];
  /** Starts a clean shutdown after the answer went out. */
  shutdown(reason: string): void;
}

export interface HandlerDeps {
  core: core.DaemonCore;
  clock: Clock;
  self: DaemonSelf;
  /** Default discovery.scan duration. */
  scanMs?: number;
}

const iso = (wallMs: number | null): string | null =>
  wallMs === null ? null : new Date(wallMs).toISOString();

export function toBondInfo(b: core.BondInfo): api.BondInfo {
  return {
    deviceId: b.deviceId,
    name: b.name,
    model: b.model,
    firmware: b.firmware,
    role: b.role,
    pairedAt: iso(b.pairedAt) as string,
    lastVerifiedAt: iso(b.lastVerifiedAt),
    address: b.address,
    lastSeenAt: iso(b.lastSeenAt),
    inRange: b.inRange,
    radioId: b.radioId,
    rssi: b.rssi,
    connected: b.connected,
  };
}

export function toDiscovered(d: core.DiscoveredDevice, now: number): api.DiscoveredDevice {
  return {
    deviceId: d.deviceId,
    radioId: d.radioId,
    address: d.address,
    name: d.name,
    rssi: d.rssi,
    connectable: d.connectable,
    protocolVersion: d.protocolVersion,
    windowOpen: d.windowOpen,
    hasBonds: d.hasBonds,
    window: d.window,
    bonded: d.bonded,
    lastSeenAgoMs: Math.max(0, Math.round(now - d.lastSeen)),
  };
}

/** The target with its window times counted down to now (the core's are as of `readAt`). */
export function toTarget(t: core.PairTarget, now: number): api.PairTarget {
  const elapsed = Math.max(0, now - t.readAt);
  const w = t.window;
  const window: api.PairTarget["window"] =
    w.state === "open"
      ? { ...w, timeLeftMs: Math.max(0, Math.round(w.timeLeftMs - elapsed)) }
      : w.state === "locked-out"
        ? { state: "locked-out", retryAfterMs: Math.max(0, Math.round(w.retryAfterMs - elapsed)) }
        : { state: "closed" };
  return {
    pairingId: t.pairingId,
    deviceId: t.deviceId,
    radioId: t.radioId,
    address: t.address,
    name: t.name,
    model: t.model,
    firmware: t.firmware,
    window,
    bondSlots: t.bondSlots,
    alreadyBonded: t.alreadyBonded,
  };
}

export function toForget(o: core.ForgetOutcome): api.ForgetOutcome {
  return {
    deviceId: o.deviceId,
    name: o.name,
    device: o.device,
    local: o.local,
    staleBondRemedy: o.staleBondRemedy,
    error: o.error,
  };
}

/** A core event as the notification subscribers get, or undefined for events not broadcast. */
export function eventToNotification(
  e: core.CoreEvent,
  now: number,
): { [N in NotificationName]: { method: N; params: Notifications[N] } }[NotificationName] | undefined {
  switch (e.type) {
    case "discovered":
    case "updated":
      return { method: "discovery.device", params: toDiscovered(e.device, now) };
    case "lost":
      return { method: "discovery.lost", params: { radioId: e.device.radioId, deviceId: e.device.deviceId } };
    case "bonded":
      return { method: "bond.added", params: { bond: toBondInfo(e.bond), replaced: e.replaced } };
    case "removed":
      return { method: "bond.removed", params: toForget(e.outcome) };
    case "verified":
      return { method: "device.verified", params: { deviceId: e.deviceId, role: e.role } };
    case "error":
      return {
        method: "device.error",
        params: { deviceId: e.deviceId, radioId: e.radioId, what: e.what, error: e.error },
      };
    case "pairing-step":
      return undefined; // goes to the pairing's own connection only
  }
}

function noSuchPairing(): OpenClawError<"INVALID_ARGUMENT"> {
  return new OpenClawError("INVALID_ARGUMENT", {
    detail: "no such pairing on this connection (it finished, was cancelled, or belongs to another client)",
    command: "pair",
  });
}

/**
 * Runs `fn` once if `signal` aborts; the function returned takes it off again. A control connection
 * outlives many calls (a GUI, the bench's soak), so what a call hangs on its signal must go with the
 * call: a listener left there keeps the call's whole pairing (link, session, channel) alive until the
 * client hangs up.
 */
function onAbort(signal: AbortSignal, fn: () => void): () => void {
  signal.addEventListener("abort", fn, { once: true });
  return () => signal.removeEventListener("abort", fn);
}

export function createHandlers(deps: HandlerDeps): RpcHandlers {
  const { core: c, clock, self } = deps;
  const pairings = new Map<string, { pairing: core.Pairing; connectionId: number; release: () => void }>();
  const drop = (id: string) => {
    pairings.get(id)?.release();
    pairings.delete(id);
  };

  const owned = (ctx: RpcContext, id: string): core.Pairing => {
    const entry = pairings.get(id);
    if (!entry || entry.connectionId !== ctx.connectionId) throw noSuchPairing();
    return entry.pairing;
  };
  const settle = (id: string, p: core.Pairing) => {
    if (p.state === "bonded" || p.state === "failed" || p.state === "cancelled") drop(id);
  };

  return {
    "daemon.hello": () => self.hello(),
    "daemon.status": async () => {
      const base = self.hello();
      return {
        ...base,
        ...self.status(base),
        bonds: (await c.bonds()).length,
        discovered: c.devices().length,
        sessions: c.sessions().map((s) => ({
          deviceId: s.deviceId,
          radioId: s.radioId,
          role: s.role,
          openForMs: Math.round(clock.now() - s.openedAt),
          idleForMs: Math.round(clock.now() - s.lastUsed),
        })),
      };
    },
    "daemon.shutdown": () => {
      self.shutdown("asked over the control API");
      return { stopping: true };
    },
    "events.subscribe": (_p, ctx) => {
      ctx.subscribe();
      return { subscribed: true };
    },
    "discovery.list": () => ({ devices: c.devices().map((d) => toDiscovered(d, clock.now())) }),
    "discovery.scan": async (p, ctx) => {
      const off = c.on((e) => {
        if (e.type === "discovered" || e.type === "updated")
          ctx.notify("discovery.device", toDiscovered(e.device, clock.now()));
      });
      let release = () => {};
      try {
        for (const d of c.devices()) ctx.notify("discovery.device", toDiscovered(d, clock.now()));
        await Promise.race([
          sleep(clock, "control.scan", p?.durationMs ?? deps.scanMs ?? 3000),
          new Promise<void>((resolve) => {
            release = onAbort(ctx.signal, resolve);
          }),
        ]);
      } finally {
        release();
        off();
      }
      return { devices: c.devices().map((d) => toDiscovered(d, clock.now())) };
    },
    "device.probe": async (p) => toDiscovered(await c.probe(p.device), clock.now()),
    "pair.prepare": async (p, ctx) => {
      // Pairings the core ended by itself (idle, window over, link lost) that no client asked about
      // again: let go here, so a long-lived connection holds at most the pairings still alive.
      for (const [id, e] of [...pairings]) settle(id, e.pairing);
      ctx.notify("pair.step", { pairingId: null, step: "connecting" });
      const pairing = await c.preparePair(p?.device);
      if (ctx.signal.aborted) {
        await pairing.cancel();
        throw new OpenClawError("CANCELLED", { what: "pairing" });
      }
      const release = onAbort(ctx.signal, () => {
        pairings.delete(pairing.id);
        void pairing.cancel().catch(() => {});
      });
      pairings.set(pairing.id, { pairing, connectionId: ctx.connectionId, release });
      return toTarget(pairing.target, clock.now());
    },
    "pair.attempt": async (p, ctx) => {
      const pairing = owned(ctx, p.pairingId);
      try {
        const r = await pairing.attempt(p.code, {
          onStep: (step) => ctx.notify("pair.step", { pairingId: p.pairingId, step }),
        });
        return { bond: toBondInfo(r.bond), replaced: r.replaced };
      } finally {
        settle(p.pairingId, pairing);
      }
    },
    "pair.refresh": async (p, ctx) => {
      const pairing = owned(ctx, p.pairingId);
      try {
        return toTarget(await pairing.refresh(), clock.now());
      } finally {
        settle(p.pairingId, pairing);
      }
    },
    "pair.cancel": async (p, ctx) => {
      const pairing = owned(ctx, p.pairingId);
      drop(p.pairingId);
      await pairing.cancel();
      return { cancelled: true };
    },
    "bonds.list": async () => ({
      bonds: (await c.bonds()).map(toBondInfo),
      pending: await c.pendingBonds(),
      quarantined: self.quarantined(),
    }),
    "device.status": (p) => c.status(p.device),
    "device.pairings": async (p) => ({ pairings: await c.listPairings(p.device) }),
    "device.forget": async (p) => {
      const target = p.all ? { all: true as const } : (p.device as string);
      const outcomes = await c.forget(target, p.localOnly === undefined ? {} : { localOnly: p.localOnly });
      return { results: outcomes.map(toForget) };
    },
    "device.claw": async (p) => {
      const op: ClawOp = isClawOp(p.op) ? p.op : "status";
      return { claw: (await c.claw(p.device, op)).claw };
    },
    "device.battery": async (p) => ({ percent: (await c.battery(p.device)).percent }),
    "device.app": async (p) => ({
      payload: toHex(await c.app(p.device, p.channel, fromHex(p.payload))),
    }),
  };
}
