/**
 * Wrappers for tests of the core over the real store (src/store in a temp dir): every store and audit
 * call is tracked, so a test driving a ManualClock can wait for real disk I/O before it moves time
 * (`IoTracker.idle`), and a store call can be made to fail or to never return — before or after its
 * write reached the disk — which is how a test kills the laptop mid-pairing.
 */
import type { CoreAuditLog, CoreBondStore, CoreSeenAt } from "../api.js";

export class IoTracker {
  readonly #pending = new Set<Promise<unknown>>();

  track<T>(p: Promise<T>): Promise<T> {
    this.#pending.add(p);
    const done = () => this.#pending.delete(p);
    p.then(done, done);
    return p;
  }

  /** Resolves once no tracked call is in flight. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }
}

export type StoreOp = "putCandidate" | "commitCandidate" | "dropCandidate" | "markVerified" | "remove";
export type FaultMode = "throw" | "hang" | "hang-after";

const never = () => new Promise<never>(() => {});

export class FaultyStore implements CoreBondStore {
  #fault: { op: StoreOp; mode: FaultMode; error: Error } | undefined;

  constructor(
    private readonly inner: CoreBondStore,
    private readonly io: IoTracker,
  ) {}

  /**
   * The next `op` throws `error` ("throw"), or never returns, before its write ("hang") or after it
   * reached the disk ("hang-after"): the process died there.
   */
  failNext(op: StoreOp, mode: FaultMode, error: Error = new Error("injected store fault")): void {
    this.#fault = { op, mode, error };
  }

  #write<T>(op: StoreOp, run: () => Promise<T>): Promise<T> {
    const f = this.#fault;
    if (!f || f.op !== op) return this.io.track(run());
    this.#fault = undefined;
    if (f.mode === "throw") return Promise.reject(f.error);
    if (f.mode === "hang") return never();
    return this.io.track(run()).then(never);
  }

  list() {
    return this.inner.list();
  }
  get(id: string) {
    return this.inner.get(id);
  }
  candidates() {
    return this.inner.candidates();
  }
  candidate(id: string) {
    return this.inner.candidate(id);
  }
  putCandidate(r: Parameters<CoreBondStore["putCandidate"]>[0]) {
    return this.#write("putCandidate", () => this.inner.putCandidate(r));
  }
  commitCandidate(id: string, seen?: CoreSeenAt) {
    return this.#write("commitCandidate", () => this.inner.commitCandidate(id, seen));
  }
  dropCandidate(id: string) {
    return this.#write("dropCandidate", () => this.inner.dropCandidate(id));
  }
  markVerified(id: string, key?: Parameters<CoreBondStore["markVerified"]>[1], seen?: CoreSeenAt) {
    return this.#write("markVerified", () => this.inner.markVerified(id, key, seen));
  }
  remove(id: string) {
    return this.#write("remove", () => this.inner.remove(id));
  }
}

/** The audit log with its appends tracked. */
export function trackedAudit(inner: CoreAuditLog, io: IoTracker): CoreAuditLog {
  return { append: (e) => io.track(Promise.resolve(inner.append(e))) };
}
