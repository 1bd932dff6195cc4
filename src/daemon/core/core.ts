/**
 * The daemon's core (DaemonCore, api.ts): discovery, device references, pairing, sessions and the
 * operations on bonded devices, composed from injected inputs (DaemonCoreDeps). One link per device:
 * a pairing owns its device's link until it ends; a bonded device's session (session.ts) owns it
 * otherwise; many devices are served at once, each on its own link.
 *
 * Opening a session to a bonded device: find it in the scan (its rotating tag resolves to its id),
 * connect (retrying with backoff), settle a candidate left by an interrupted pairing (one try per
 * contact: committed if the device accepts it, dropped if it answers otherwise), then verify with the
 * bond's keys (a pending rotation key first). UNKNOWN_PEER there means the device has forgotten us.
 */

import {
  APP_CHANNEL,
  type ClawOp,
  type ClawState,
  decodeBatteryLevel,
  decodeClawState,
  encodeBatteryRequest,
  encodeClawRequest,
} from "../../app/claw.js";
import { sleep } from "../../clock/index.js";
import { toHex as bytesToHex } from "../../protocol/bytes.js";
import { Controller, type ControllerBond, verifyKeys } from "../../protocol/controller/index.js";
import { isOpenClawError, OpenClawError } from "../../protocol/errors.js";
import type { AccessoryInfo } from "../../protocol/messages/info.js";
import type { SessionClient } from "../../protocol/session/client.js";
import { CHANNEL_CLOSED } from "../../transport/channel.js";
import type {
  BondInfo,
  CoreAuditEvent,
  CoreEvent,
  CoreLogger,
  CoreSeenAt,
  CoreStoredBond,
  DaemonCore,
  DaemonCoreDeps,
  DevicePairing,
  DeviceStatus,
  DiscoveredDevice,
  ForgetOutcome,
  Pairing,
  PairOptions,
  PairResult,
  PendingBondInfo,
  RadioScan,
  ResolvedDevice,
  SessionInfo,
} from "./api.js";
import { STALE_BOND_REMEDY } from "./api.js";
import { ControllerLink } from "./controller-link.js";
import { DiscoveryRegistry } from "./discovery.js";
import { isLinkFailure, type PairingHost, PairingImpl } from "./pairing.js";
import { deviceCandidates, matchDevice } from "./refs.js";
import { DeviceSession, type OpenedSession, type OpenOptions } from "./session.js";

const silent: CoreLogger = { debug() {}, info() {}, warn() {}, error() {} };

type Resolved = ResolvedDevice;

/** Failures after which `pair` asks for the code again. */
const RETYPE = new Set(["WRONG_CODE", "MALFORMED_CODE", "BAD_CHECK_CHARACTER"]);

export function createDaemonCore(deps: DaemonCoreDeps): DaemonCore {
  return new Core(deps);
}

class Core implements DaemonCore {
  readonly controllerId: string;
  readonly name: string;
  readonly #d: DaemonCoreDeps;
  readonly #log: CoreLogger;
  readonly #controller: Controller;
  readonly #registry: DiscoveryRegistry;
  readonly #listeners = new Set<(e: CoreEvent) => void>();
  readonly #sessions = new Map<string, DeviceSession>();
  readonly #pairings = new Map<string, PairingImpl>();
  /** Candidates already tried at this contact (so a background retry happens once). */
  readonly #candidateTried = new Set<string>();
  #knownCandidates = new Set<string>();
  readonly #auditing = new Set<Promise<unknown>>();
  /**
   * The radio id each bonded device was last heard on (updated per advert, in memory only; the bond
   * file keeps the one of the last verify, which #locate falls back to after a restart): a device that
   * no longer answers to its tag there has been reset — it forgot this laptop.
   */
  readonly #lastRadio = new Map<string, string>();
  #scan: RadioScan | null = null;
  #state: "new" | "running" | "closed" = "new";
  readonly #o: Required<
    Pick<
      NonNullable<DaemonCoreDeps["options"]>,
      | "stepTimeoutMs"
      | "connectTimeoutMs"
      | "findTimeoutMs"
      | "sessionIdleMs"
      | "pairingIdleMs"
      | "reconnectBackoffMs"
      | "forgetFreshMs"
      | "forgetConnectTimeoutMs"
    >
  >;
  /** Called with each advert's radio id (waits for a sign of life: forget). */
  readonly #heard = new Set<(radioId: string) => void>();

  constructor(deps: DaemonCoreDeps) {
    this.#d = deps;
    this.#log = deps.logger ?? silent;
    const o = deps.options ?? {};
    this.#o = {
      stepTimeoutMs: o.stepTimeoutMs ?? 10_000,
      connectTimeoutMs: o.connectTimeoutMs ?? 10_000,
      findTimeoutMs: o.findTimeoutMs ?? 5000,
      sessionIdleMs: o.sessionIdleMs ?? 30_000,
      pairingIdleMs: o.pairingIdleMs ?? 5 * 60_000,
      reconnectBackoffMs: o.reconnectBackoffMs ?? [250, 1000],
      forgetFreshMs: o.forgetFreshMs ?? 1500,
      forgetConnectTimeoutMs: o.forgetConnectTimeoutMs ?? 3000,
    };
    this.#controller = new Controller({
      controllerId: deps.identity.controllerId,
      name: deps.identity.name,
      random: deps.random,
    });
    this.controllerId = bytesToHex(this.#controller.controllerId);
    this.name = this.#controller.name;
    this.#registry = new DiscoveryRegistry({
      clock: deps.clock,
      ...(o.discoveryTtlMs !== undefined ? { ttlMs: o.discoveryTtlMs } : {}),
      ...(o.rssiAlpha !== undefined ? { rssiAlpha: o.rssiAlpha } : {}),
      onEvent: (e) => {
        this.#emit(e);
        const id = e.device.deviceId;
        if (e.type === "lost") {
          if (id) this.#candidateTried.delete(id);
          return;
        }
        if (id && e.device.bonded) this.#lastRadio.set(id, e.device.radioId);
        this.#maybeSettleCandidate(e.device);
      },
    });
  }

  // ---- lifecycle ----

  async start(): Promise<void> {
    if (this.#state === "closed") throw new OpenClawError("INTERNAL", { detail: "the core was closed" });
    if (this.#state === "running") return;
    this.#state = "running";
    await this.#refreshKnown();
    this.#scan = await this.#d.radio.startScan((a) => {
      if (this.#state !== "running") return;
      this.#registry.report(a);
      for (const l of [...this.#heard]) l(a.id);
    });
  }

  async close(): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "closed";
    const scan = this.#scan;
    this.#scan = null;
    await Promise.all([
      scan?.stop().catch(() => {}),
      ...[...this.#pairings.values()].map((p) => p.cancel().catch(() => {})),
      ...[...this.#sessions.values()].map((s) => s.close().catch(() => {})),
    ]);
    this.#registry.close();
    this.#listeners.clear();
    await Promise.allSettled([...this.#auditing]);
  }

  on(listener: (event: CoreEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // ---- what is known ----

  devices(): DiscoveredDevice[] {
    return this.#registry.list();
  }

  async bonds(): Promise<BondInfo[]> {
    const stored = await this.#d.store.list();
    return stored.map((s) => this.#bondInfo(s));
  }

  async pendingBonds(): Promise<PendingBondInfo[]> {
    const [bonds, candidates] = await Promise.all([this.#d.store.list(), this.#d.store.candidates()]);
    const bonded = new Set(bonds.map((b) => bytesToHex(b.record.deviceId)));
    return candidates.map((c) => {
      const id = bytesToHex(c.deviceId);
      return {
        deviceId: id,
        name: c.accessoryName,
        model: c.model,
        role: c.role,
        replacesBond: bonded.has(id),
        inRange: this.#registry.byDeviceId(id) !== undefined,
      };
    });
  }

  async resolve(ref: string): Promise<ResolvedDevice> {
    const attempt = async () => matchDevice(ref, deviceCandidates(await this.bonds(), this.#registry.list()));
    try {
      return await attempt();
    } catch (err) {
      if (!(isOpenClawError(err) && err.is("NO_SUCH_DEVICE")) || this.#state !== "running") throw err;
      // Not heard yet (the daemon just started, or the device just came up): give the scan a moment.
      const found = await this.#waitFor((d) => {
        try {
          matchDevice(ref, deviceCandidates([], [d]));
          return true;
        } catch {
          return false;
        }
      }, `finding ${ref}`);
      if (!found) throw err;
      return attempt();
    }
  }

  async probe(ref: string): Promise<DiscoveredDevice> {
    const r = await this.resolve(ref);
    const radioId = r.radioId;
    if (!radioId) throw new OpenClawError("OUT_OF_RANGE", {});
    const open = r.deviceId ? this.#sessions.get(r.deviceId)?.link : null;
    if (open?.open) this.#registry.noteInfo(radioId, await open.readInfo());
    else await this.#peek(radioId, r.name ?? radioId);
    const seen = this.#registry.get(radioId);
    if (!seen) throw new OpenClawError("OUT_OF_RANGE", {});
    return seen;
  }

  /** Connects just to read the info (into the registry), and hangs up. */
  async #peek(radioId: string, label: string): Promise<AccessoryInfo> {
    this.#needLinkFree(radioId, null);
    const link = await this.#connect(radioId, label);
    try {
      const info = await link.readInfo().catch((err: unknown) => {
        this.#deviceFault({ radioId, device: label }, err);
        throw err;
      });
      this.#registry.noteInfo(radioId, info);
      return info;
    } finally {
      await link.disconnect();
    }
  }

  sessions(): SessionInfo[] {
    return [...this.#sessions.values()].flatMap((s) => s.info() ?? []);
  }

  // ---- pairing ----

  pairing(id: string): Pairing | undefined {
    return this.#pairings.get(id);
  }

  async preparePair(ref?: string): Promise<Pairing> {
    this.#needRunning();
    const target = ref === undefined ? await this.#onlyOpenWindow() : await this.resolve(ref);
    const radioId = target.radioId;
    if (!radioId) throw new OpenClawError("OUT_OF_RANGE", {});
    // One link per device: a session (or an older pairing) to it steps aside.
    for (const p of [...this.#pairings.values()]) if (p.radioId === radioId) await p.cancel();
    if (target.deviceId) await this.#sessions.get(target.deviceId)?.close();
    const pairingId = bytesToHex(this.#d.random(8));
    const label = target.name ?? radioId;
    const provisionalId = target.deviceId ?? radioId;
    this.#emit({ type: "pairing-step", pairingId, deviceId: provisionalId, step: "connecting" });
    const link = await this.#connect(radioId, label);
    try {
      this.#emit({ type: "pairing-step", pairingId, deviceId: provisionalId, step: "reading-info" });
      const info = await link.readInfo();
      this.#registry.noteInfo(radioId, info);
      const w = info.window;
      if (w.state === "closed") throw new OpenClawError("WINDOW_CLOSED", {});
      if (w.state === "locked-out") throw new OpenClawError("LOCKED_OUT", { retryAfterMs: w.retryAfterMs });
      const deviceId = bytesToHex(info.deviceId);
      const bonded = (await this.#d.store.get(deviceId)) !== undefined;
      const p = new PairingImpl(
        pairingId,
        link,
        target.address ?? radioId,
        info,
        bonded,
        this.#pairingHost(),
      );
      this.#pairings.set(pairingId, p);
      return p;
    } catch (err) {
      this.#deviceFault({ radioId, device: label }, err);
      await link.disconnect();
      throw err;
    }
  }

  async pair(ref: string | undefined, o: PairOptions): Promise<PairResult> {
    const p = await this.preparePair(ref);
    let last: OpenClawError | undefined;
    try {
      for (let n = 0; o.maxCodes === undefined || n < o.maxCodes; n++) {
        const code = await o.code(p.target, last);
        try {
          return await p.attempt(code, o.onStep ? { onStep: o.onStep } : {});
        } catch (err) {
          // Only a mistyped code is worth another: anything else (expired, locked out, full) ends it.
          if (!isOpenClawError(err) || p.state !== "ready" || !RETYPE.has(err.code)) throw err;
          last = err;
        }
      }
      throw last ?? new OpenClawError("CANCELLED", { what: "pairing" });
    } finally {
      if (p.state === "ready") await p.cancel();
    }
  }

  #pairingHost(): PairingHost {
    return {
      clock: this.#d.clock,
      idleMs: this.#o.pairingIdleMs,
      step: (pairingId, deviceId, step) => this.#emit({ type: "pairing-step", pairingId, deviceId, step }),
      noteInfo: (radioId, info) => this.#registry.noteInfo(radioId, info),
      alreadyBonded: async (id) => (await this.#d.store.get(id)) !== undefined,
      attempted: (deviceId) => this.#audit({ type: "pair-attempt", deviceId }),
      reconnect: (radioId, label) => this.#connect(radioId, label),
      failed: (deviceId, err) => {
        this.#audit({ type: "pair-failed", deviceId, code: err.code });
        this.#log.info({ deviceId, code: err.code }, "pairing attempt failed");
        this.#deviceFault({ deviceId }, err);
      },
      putCandidate: async (bond) => {
        await this.#d.store.putCandidate(bond);
        await this.#refreshKnown();
      },
      dropCandidate: (deviceId, err) => this.#dropCandidate(deviceId, err),
      commit: (bond, link, role, radioId) => this.#commit(bond, { link, role, radioId }, true),
      ended: (p) => this.#pairings.delete(p.id),
    };
  }

  /** The candidate verified: it becomes the bond (and, with `adopt`, the link the device's session). */
  async #commit(bond: ControllerBond, s: OpenedSession, adopt: boolean): Promise<PairResult> {
    const deviceId = bytesToHex(bond.deviceId);
    const replaced = (await this.#d.store.get(deviceId)) !== undefined;
    await this.#d.store.commitCandidate(deviceId, this.#seenAt(s.radioId));
    this.#lastRadio.set(deviceId, s.radioId);
    this.#candidateTried.add(deviceId);
    await this.#refreshKnown();
    this.#audit({ type: "paired", deviceId, role: bond.role, replaced });
    this.#log.info({ deviceId, role: s.role, replaced }, "paired");
    const stored = await this.#d.store.get(deviceId);
    if (!stored) throw new OpenClawError("INTERNAL", { detail: "the committed bond is not in the store" });
    if (adopt) this.#session(deviceId).adopt(s);
    const info = this.#bondInfo(stored);
    this.#emit({ type: "bonded", bond: info, replaced });
    this.#emit({ type: "verified", deviceId, role: s.role });
    return { bond: info, replaced };
  }

  async #dropCandidate(deviceId: string, err: OpenClawError): Promise<void> {
    await this.#d.store.dropCandidate(deviceId);
    await this.#refreshKnown();
    this.#audit({ type: "candidate-dropped", deviceId, code: err.code });
    this.#log.info({ deviceId, code: err.code }, "pairing candidate dropped");
  }

  async #onlyOpenWindow(): Promise<Resolved> {
    const open = () => this.#registry.list().filter((d) => d.windowOpen);
    if (open().length === 0) await this.#waitFor((d) => d.windowOpen, "finding a device in pairing mode");
    const list = open();
    const all = deviceCandidates([], list);
    if (all.length === 1) return all[0]!;
    if (all.length > 1) {
      throw new OpenClawError("AMBIGUOUS_DEVICE", {
        query: "(a device in pairing mode)",
        candidates: all.map((c) => `${c.name ?? "?"} (${c.address ?? c.radioId})`),
      });
    }
    if (this.#registry.list().length > 0) throw new OpenClawError("WINDOW_CLOSED", {});
    throw new OpenClawError("TIMEOUT", {
      what: "finding a device in pairing mode",
      afterMs: this.#o.findTimeoutMs,
    });
  }

  // ---- sessions ----

  #session(deviceId: string): DeviceSession {
    let s = this.#sessions.get(deviceId);
    if (!s) {
      s = new DeviceSession(deviceId, {
        clock: this.#d.clock,
        idleMs: this.#o.sessionIdleMs,
        open: (o) => this.#openSession(deviceId, o),
        label: () => this.#registry.byDeviceId(deviceId)?.name ?? deviceId,
        onClosed: (reason) => this.#log.debug({ deviceId, reason }, "session closed"),
      });
      this.#sessions.set(deviceId, s);
    }
    return s;
  }

  async #openSession(deviceId: string, o: OpenOptions = {}): Promise<OpenedSession> {
    this.#needRunning();
    const found = await this.#locate(deviceId);
    this.#needLinkFree(found.radioId, deviceId);
    const label = found.name ?? deviceId;
    // A forget must not spend the full retry budget on a device that has gone quiet: one short try.
    const quick = o.quick === true && !(await this.#heardLately(found.radioId));
    const link = quick
      ? await this.#connect(found.radioId, label, {
          timeoutMs: this.#o.forgetConnectTimeoutMs,
          retries: false,
        })
      : await this.#connect(found.radioId, label);
    try {
      const candidate = await this.#d.store.candidate(deviceId);
      if (candidate) {
        const settled = await this.#settleCandidate(link, candidate, found.radioId);
        if (settled) return settled;
      }
      const stored = await this.#d.store.get(deviceId);
      if (!stored) throw new OpenClawError("NOT_BONDED", { device: found.name ?? deviceId });
      return await this.#verify(link, stored, found.radioId);
    } catch (err) {
      await link.disconnect();
      throw err;
    }
  }

  /** Verify with each of the bond's keys (pending first) on one link. */
  async #verify(link: ControllerLink, stored: CoreStoredBond, radioId: string): Promise<OpenedSession> {
    const deviceId = bytesToHex(stored.record.deviceId);
    const keys = verifyKeys(stored.record);
    let last: OpenClawError = new OpenClawError("UNKNOWN_PEER", {});
    for (const key of keys) {
      try {
        const { role } = await link.verify(stored.record, key);
        // With a rotation unresolved, which key worked settles it (the store keeps that one).
        await this.#d.store.markVerified(deviceId, keys.length > 1 ? key : undefined, this.#seenAt(radioId));
        this.#audit({ type: "verified", deviceId });
        this.#emit({ type: "verified", deviceId, role });
        return { link, role, radioId };
      } catch (err) {
        if (!(isOpenClawError(err) && err.is("UNKNOWN_PEER") && link.open)) {
          if (isOpenClawError(err)) this.#audit({ type: "verify-failed", deviceId, code: err.code });
          throw err;
        }
        last = err;
      }
    }
    this.#audit({ type: "verify-failed", deviceId, code: last.code });
    this.#log.info({ deviceId }, "the device has forgotten this laptop");
    throw last;
  }

  /**
   * One try with a candidate left by an interrupted pairing: the session if the device accepts it (and
   * the candidate is committed), null if the device refused it (dropped: carry on with the old bond).
   */
  async #settleCandidate(
    link: ControllerLink,
    candidate: ControllerBond,
    radioId: string,
  ): Promise<OpenedSession | null> {
    const deviceId = bytesToHex(candidate.deviceId);
    this.#candidateTried.add(deviceId);
    try {
      const { role } = await link.verify(candidate);
      const opened = { link, role, radioId };
      // The session being opened (the caller) takes the link.
      await this.#commit(candidate, opened, false);
      return opened;
    } catch (err) {
      if (!isOpenClawError(err) || isLinkFailure(err)) throw err;
      await this.#dropCandidate(deviceId, err);
      if (!link.open) throw err;
      return null;
    }
  }

  /** A device seen with a candidate pending: settle it once, in the background. */
  #maybeSettleCandidate(d: DiscoveredDevice): void {
    const id = d.deviceId;
    if (!id || !this.#knownCandidates.has(id) || this.#candidateTried.has(id)) return;
    if (this.#pairingOn(d.radioId)) return;
    this.#candidateTried.add(id);
    this.#session(id)
      .use(async () => undefined)
      .catch((err: unknown) => {
        const e = isOpenClawError(err) ? err : new OpenClawError("INTERNAL", { detail: String(err) });
        this.#log.info({ deviceId: id, code: e.code }, "settling a pairing candidate failed");
        if (isLinkFailure(e)) this.#candidateTried.delete(id);
      });
  }

  async #withSession<T>(
    ref: string,
    what: string,
    fn: (s: SessionClient, deviceId: string) => Promise<T>,
  ): Promise<T> {
    this.#needRunning();
    const r = await this.resolve(ref);
    // A device with only a candidate (its first pairing was interrupted) gets it settled first.
    const deviceId =
      r.bond?.deviceId ?? (r.deviceId && (await this.#d.store.candidate(r.deviceId)) ? r.deviceId : null);
    if (!deviceId) throw new OpenClawError("NOT_BONDED", { device: r.name ?? ref });
    try {
      return await this.#session(deviceId).use((link) => link.call(what, (s) => fn(s, deviceId)));
    } catch (err) {
      if (isOpenClawError(err) && err.is("UNKNOWN_PEER")) {
        this.#emit({ type: "error", deviceId, radioId: r.radioId, what, error: err.toJSON() });
      }
      throw err;
    }
  }

  // ---- operations ----

  async status(ref: string): Promise<DeviceStatus> {
    let deviceId = "";
    const s = await this.#withSession(ref, "status", (c, id) => {
      deviceId = id;
      return c.status();
    });
    const stored = await this.#d.store.get(deviceId);
    const rec = stored?.record;
    const seen = this.#registry.byDeviceId(deviceId);
    return {
      deviceId,
      name: rec?.accessoryName ?? seen?.name ?? deviceId,
      model: rec?.model ?? "",
      firmware: rec?.firmware ?? "",
      role: s.role,
      controllerId: bytesToHex(s.controllerId),
      bondSlots: { ...s.bondSlots },
      window:
        s.window.state === "open" ? { state: "open", timeLeftMs: s.window.timeLeftMs } : { state: "closed" },
      rssi: seen?.rssi ?? null,
    };
  }

  async listPairings(ref: string): Promise<DevicePairing[]> {
    const list = await this.#withSession(ref, "list pairings", (c) => c.listPairings());
    return list.map((p) => ({
      controllerId: bytesToHex(p.controllerId),
      name: p.name,
      role: p.role,
      state: p.state,
      self: p.self,
    }));
  }

  async app(ref: string, channel: number, payload: Uint8Array): Promise<Uint8Array> {
    if (!Number.isInteger(channel) || channel < 0 || channel > 0xffff)
      throw new OpenClawError("INVALID_ARGUMENT", { detail: "an application channel is 0..65535" });
    return this.#withSession(ref, "an application request", (c) => c.appRequest(channel, payload));
  }

  async claw(ref: string, op: ClawOp): Promise<{ claw: ClawState }> {
    const r = await this.#withSession(ref, `claw ${op}`, (c) =>
      c.appRequest(APP_CHANNEL.claw, encodeClawRequest(op)),
    );
    return { claw: decodeClawState(r) };
  }

  async battery(ref: string): Promise<{ percent: number }> {
    const r = await this.#withSession(ref, "battery", (c) =>
      c.appRequest(APP_CHANNEL.battery, encodeBatteryRequest()),
    );
    return { percent: decodeBatteryLevel(r) };
  }

  async forget(target: string | { all: true }, o: { localOnly?: boolean } = {}): Promise<ForgetOutcome[]> {
    this.#needRunning();
    let bonds: BondInfo[];
    if (typeof target === "string") {
      const r = await this.resolve(target);
      if (!r.bond) throw new OpenClawError("NOT_BONDED", { device: r.name ?? target });
      bonds = [r.bond];
    } else {
      bonds = await this.bonds();
    }
    // Each device on its own link, at once.
    return Promise.all(bonds.map((b) => this.#forgetOne(b, o.localOnly === true)));
  }

  async #forgetOne(b: BondInfo, localOnly: boolean): Promise<ForgetOutcome> {
    let device: ForgetOutcome["device"] = "skipped";
    let error: OpenClawError | null = null;
    if (!localOnly) {
      try {
        await this.#session(b.deviceId).use((link) => link.call("remove pairing", (s) => s.removePairing()), {
          quick: true,
        });
        device = "removed";
      } catch (err) {
        const e = isOpenClawError(err) ? err : new OpenClawError("INTERNAL", { detail: String(err) });
        if (e.is("UNKNOWN_PEER")) device = "already-gone";
        else {
          device = "unreachable";
          error = e;
        }
      }
    }
    await this.#sessions.get(b.deviceId)?.close();
    this.#sessions.delete(b.deviceId);
    this.#lastRadio.delete(b.deviceId);
    if (await this.#d.store.candidate(b.deviceId)) await this.#d.store.dropCandidate(b.deviceId);
    const local = (await this.#d.store.remove(b.deviceId)) ? "removed" : "absent";
    await this.#refreshKnown();
    if (device !== "skipped")
      this.#audit({ type: "removed", deviceId: b.deviceId, where: "device", outcome: device });
    if (local === "removed")
      this.#audit({ type: "removed", deviceId: b.deviceId, where: "local", outcome: local });
    const stale = device === "unreachable" || device === "skipped";
    const outcome: ForgetOutcome = {
      deviceId: b.deviceId,
      name: b.name,
      device,
      local,
      staleBondRemedy: stale ? STALE_BOND_REMEDY : null,
      error: error ? error.toJSON() : null,
    };
    this.#log.info({ deviceId: b.deviceId, device, local }, "forgot a device");
    this.#emit({ type: "removed", outcome });
    return outcome;
  }

  // ---- plumbing ----

  /**
   * True once `radioId` is heard again within forgetFreshMs (a device in range advertises every few
   * hundred ms); false for a device that has gone quiet. An earlier sighting does not count: the
   * registry keeps a device that just left for its whole ttl.
   */
  #heardLately(radioId: string): Promise<boolean> {
    const ms = this.#o.forgetFreshMs;
    return new Promise((resolve) => {
      const done = (v: boolean) => {
        this.#d.clock.clearTimeout(timer);
        this.#heard.delete(listener);
        resolve(v);
      };
      const listener = (id: string) => {
        if (id === radioId) done(true);
      };
      this.#heard.add(listener);
      const timer = this.#d.clock.setTimeout(`waiting to hear ${radioId}`, ms, () => done(false));
    });
  }

  /**
   * A device that answered with malformed data (ATT, framing, a message, its info) is worth a warning
   * of its own: it may be broken or hostile, and the person asking "why did that fail" reads the log.
   * The detail names only the structure that was wrong, never content.
   */
  #deviceFault(who: Record<string, unknown>, err: unknown): void {
    // This side closing the channel (a cancel, a hang-up) is no fault of the device's.
    if (isOpenClawError(err) && err.is("PROTOCOL_ERROR") && err.details.detail !== CHANNEL_CLOSED)
      this.#log.warn({ ...who, code: err.code, detail: err.details.detail }, "a device sent malformed data");
  }

  /** Connects with backoff between attempts (TIMEOUT / OUT_OF_RANGE only; `retries: false`: one try). */
  async #connect(
    radioId: string,
    label: string,
    o: { timeoutMs?: number; retries?: false } = {},
  ): Promise<ControllerLink> {
    const delays = o.retries === false ? [] : this.#o.reconnectBackoffMs;
    const timeoutMs = o.timeoutMs ?? this.#o.connectTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        const conn = await this.#d.radio.connect(radioId, { timeoutMs, label });
        return new ControllerLink(conn, {
          controller: this.#controller,
          clock: this.#d.clock,
          random: this.#d.random,
          stepTimeoutMs: this.#o.stepTimeoutMs,
          label,
          ...(this.#d.options?.channel ? { channel: this.#d.options.channel } : {}),
        });
      } catch (err) {
        this.#deviceFault({ radioId, device: label }, err);
        const delay = delays[attempt];
        if (delay === undefined || !isLinkFailure(err) || this.#state !== "running") throw err;
        this.#log.debug({ radioId, attempt: attempt + 1 }, "connect failed; retrying");
        await sleep(this.#d.clock, `reconnect ${label}`, delay);
      }
    }
  }

  /**
   * The freshest sighting of a bonded device. Its rotating tag names it; while its window is open (no
   * tag) or after a reset, a device heard where it was last heard, or under its name, is asked for its
   * id. The same address answering with another id is a reset device: UNKNOWN_PEER. Otherwise waits up
   * to findTimeoutMs; OUT_OF_RANGE if it never shows.
   */
  async #locate(deviceId: string): Promise<DiscoveredDevice & { radioId: string }> {
    const seen = this.#registry.byDeviceId(deviceId);
    if (seen) return seen;
    const stored = await this.#d.store.get(deviceId);
    const last = this.#lastRadio.get(deviceId) ?? stored?.lastSeen?.radioId;
    const name = stored?.record.accessoryName;
    const suspects = this.#registry
      .list()
      .filter((d) => d.radioId === last || (d.deviceId === null && name !== undefined && d.name === name));
    for (const d of suspects) {
      if (this.#pairingOn(d.radioId)) continue;
      let info: AccessoryInfo;
      try {
        info = await this.#peek(d.radioId, d.name ?? d.radioId);
      } catch {
        continue;
      }
      if (bytesToHex(info.deviceId) === deviceId) return this.#registry.get(d.radioId) ?? d;
      if (d.radioId === last) {
        this.#log.info({ deviceId }, "the device was reset: it has forgotten this laptop");
        this.#audit({ type: "verify-failed", deviceId, code: "UNKNOWN_PEER" });
        throw new OpenClawError("UNKNOWN_PEER", {});
      }
    }
    const found = await this.#waitFor((d) => d.deviceId === deviceId, `finding ${deviceId}`);
    if (!found) throw new OpenClawError("OUT_OF_RANGE", {});
    return found;
  }

  /** Resolves with the first registry entry matching `test` (now or within findTimeoutMs), or null. */
  #waitFor(test: (d: DiscoveredDevice) => boolean, what: string): Promise<DiscoveredDevice | null> {
    const now = this.#registry.list().find(test);
    if (now) return Promise.resolve(now);
    if (this.#state !== "running") return Promise.resolve(null);
    return new Promise((resolve) => {
      const done = (d: DiscoveredDevice | null) => {
        this.#d.clock.clearTimeout(timer);
        off();
        resolve(d);
      };
      const off = this.on((e) => {
        if ((e.type === "discovered" || e.type === "updated") && test(e.device)) done(e.device);
      });
      const timer = this.#d.clock.setTimeout(what, this.#o.findTimeoutMs, () => done(null));
    });
  }

  #pairingOn(radioId: string): boolean {
    return [...this.#pairings.values()].some((p) => p.radioId === radioId);
  }

  #needLinkFree(radioId: string, deviceId: string | null): void {
    if (this.#pairingOn(radioId)) {
      this.#log.debug({ radioId, deviceId }, "device busy with a pairing");
      throw new OpenClawError("BUSY", {});
    }
  }

  #needRunning(): void {
    if (this.#state !== "running")
      throw new OpenClawError("INTERNAL", {
        detail: this.#state === "new" ? "the core was not started" : "the core was closed",
      });
  }

  async #refreshKnown(): Promise<void> {
    const [bonds, candidates] = await Promise.all([this.#d.store.list(), this.#d.store.candidates()]);
    this.#knownCandidates = new Set(candidates.map((c) => bytesToHex(c.deviceId)));
    this.#registry.setKnown([
      ...bonds.map((b) => ({
        deviceId: bytesToHex(b.record.deviceId),
        tagKey: b.record.tagKey,
        bonded: true,
      })),
      ...candidates.map((c) => ({ deviceId: bytesToHex(c.deviceId), tagKey: c.tagKey, bonded: false })),
    ]);
  }

  /** Where a device was just reached, for the bond file; undefined (keep the stored one) if unheard. */
  #seenAt(radioId: string): CoreSeenAt | undefined {
    const address = this.#registry.get(radioId)?.address;
    return address === undefined ? undefined : { radioId, address };
  }

  #bondInfo(s: CoreStoredBond): BondInfo {
    const id = bytesToHex(s.record.deviceId);
    const seen = this.#registry.byDeviceId(id);
    return {
      deviceId: id,
      name: s.record.accessoryName,
      model: s.record.model,
      firmware: s.record.firmware,
      role: s.record.role,
      pairedAt: s.pairedAt,
      lastVerifiedAt: s.lastVerifiedAt ?? null,
      address: seen?.address ?? s.lastSeen?.address ?? null,
      lastSeenAt: s.lastSeen?.at ?? null,
      inRange: seen !== undefined,
      radioId: seen?.radioId ?? null,
      rssi: seen?.rssi ?? null,
      connected: this.#sessions.get(id)?.state === "open",
    };
  }

  /** Appends in the background (in order: the log chains its writes); close() waits for them. */
  #audit(e: CoreAuditEvent): void {
    const fail = (err: unknown) =>
      this.#log.error(
        { event: e.type, error: isOpenClawError(err) ? err.toJSON() : String(err) },
        "audit log write failed",
      );
    let p: Promise<unknown>;
    try {
      p = Promise.resolve(this.#d.audit.append(e)).catch(fail);
    } catch (err) {
      fail(err);
      return;
    }
    this.#auditing.add(p);
    void p.finally(() => this.#auditing.delete(p));
  }

  #emit(e: CoreEvent): void {
    for (const l of [...this.#listeners]) {
      try {
        l(e);
      } catch (err) {
        this.#log.error({ event: e.type, err: String(err) }, "a core event listener threw");
      }
    }
  }
}
