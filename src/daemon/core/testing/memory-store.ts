/**
 * In-memory stand-ins for the laptop's bond store and audit log (CoreBondStore, CoreAuditLog), for
 * unit tests of the core where the file-backed src/store is not wanted. Records are copied in and out,
 * so a test holding a reference cannot change what is "on disk"; `snapshot()`/`restore` model a crash
 * (a new process reading what was persisted).
 */
import type { Clock } from "../../../clock/index.js";
import type { KeyPair } from "../../../protocol/accessory/types.js";
import {
  bondRecordFromJson,
  bondRecordToJson,
  type ControllerBond,
} from "../../../protocol/controller/index.js";
import type { CoreAuditEvent, CoreAuditLog, CoreBondStore, CoreStoredBond } from "../api.js";

const copy = (b: ControllerBond): ControllerBond => bondRecordFromJson(bondRecordToJson(b));
const idOf = (b: ControllerBond) => Buffer.from(b.deviceId).toString("hex");

type StoreOp = "putCandidate" | "commitCandidate" | "remove" | "markVerified";
type FaultMode = "throw" | "hang" | "hang-after";

export interface MemoryStoreSnapshot {
  bonds: Map<string, CoreStoredBond>;
  candidates: Map<string, ControllerBond>;
}

export class MemoryBondStore implements CoreBondStore {
  #bonds = new Map<string, CoreStoredBond>();
  #candidates = new Map<string, ControllerBond>();
  /** Set to make the next write fail (STORAGE faults) or hang (the process died there): see `failNext`. */
  #fault: { op: string; mode: FaultMode; error: Error } | undefined;

  constructor(
    private readonly clock: Clock,
    snapshot?: MemoryStoreSnapshot,
  ) {
    if (snapshot) {
      this.#bonds = new Map([...snapshot.bonds].map(([k, v]) => [k, { ...v, record: copy(v.record) }]));
      this.#candidates = new Map([...snapshot.candidates].map(([k, v]) => [k, copy(v)]));
    }
  }

  /** What a restarted process would load. */
  snapshot(): MemoryStoreSnapshot {
    return {
      bonds: new Map([...this.#bonds].map(([k, v]) => [k, { ...v, record: copy(v.record) }])),
      candidates: new Map([...this.#candidates].map(([k, v]) => [k, copy(v)])),
    };
  }

  /**
   * The next call of `op` throws `error` ("throw"), or never settles, before ("hang") or after
   * ("hang-after") its write reached the disk: the process died there.
   */
  failNext(op: StoreOp, mode: FaultMode, error = new Error("injected store fault")): void {
    this.#fault = { op, mode, error };
  }

  async #write(op: StoreOp, write: () => void): Promise<void> {
    const f = this.#fault;
    if (!f || f.op !== op) {
      write();
      return;
    }
    this.#fault = undefined;
    if (f.mode === "throw") throw f.error;
    if (f.mode === "hang-after") write();
    await new Promise<never>(() => {});
  }

  list(): CoreStoredBond[] {
    return [...this.#bonds.values()].map((b) => ({ ...b, record: copy(b.record) }));
  }

  get(id: string): CoreStoredBond | undefined {
    const b = this.#bonds.get(id);
    return b ? { ...b, record: copy(b.record) } : undefined;
  }

  candidates(): ControllerBond[] {
    return [...this.#candidates.values()].map(copy);
  }

  candidate(id: string): ControllerBond | undefined {
    const c = this.#candidates.get(id);
    return c ? copy(c) : undefined;
  }

  async putCandidate(record: ControllerBond): Promise<void> {
    await this.#write("putCandidate", () => this.#candidates.set(idOf(record), copy(record)));
  }

  async commitCandidate(id: string): Promise<void> {
    const c = this.#candidates.get(id);
    if (!c) throw new Error(`no candidate for ${id}`);
    await this.#write("commitCandidate", () => {
      this.#candidates.delete(id);
      this.#bonds.set(id, { record: c, pairedAt: this.clock.wallNow() });
    });
  }

  async dropCandidate(id: string): Promise<void> {
    this.#candidates.delete(id);
  }

  async markVerified(id: string, key?: KeyPair): Promise<void> {
    await this.#write("markVerified", () => {
      const b = this.#bonds.get(id);
      if (!b) return;
      b.lastVerifiedAt = this.clock.wallNow();
      if (key) {
        const rec = b.record as ControllerBond & { pendingStaticKey?: KeyPair };
        rec.controllerStaticKey = key;
        delete rec.pendingStaticKey;
      }
    });
  }

  async remove(id: string): Promise<boolean> {
    let had = false;
    await this.#write("remove", () => {
      had = this.#bonds.delete(id);
    });
    return had;
  }
}

export class MemoryAuditLog implements CoreAuditLog {
  readonly events: CoreAuditEvent[] = [];
  append(e: CoreAuditEvent): void {
    this.events.push(structuredClone(e));
  }
  types(): string[] {
    return this.events.map((e) => e.type);
  }
}
