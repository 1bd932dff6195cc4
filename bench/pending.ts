/**
 * What issue 10 asks that is not measured or not yet green. Printed
 * after every `npm run bench` table so the gap is visible; nothing here produces a figure. Each entry
 * names where the measurement plugs in (TODO(daemon) in the code).
 */
export interface Pending {
  what: string;
  goal: string;
  hook: string;
}

export const PENDING: readonly Pending[] = [
  {
    what: "soak: retained growth over 500 cycles (14.3 MB, ≈ 29 kB/cycle) after the idle collection",
    goal: "no retained growth",
    hook: "bench/daemon.ts soak: used_heap_size after gc at 0/250/500 cycles, then a heap-snapshot diff",
  },
  {
    what: "rotate in the fault matrix (rotation is the next phase)",
    goal: "zero half bonds",
    hook: "test/stress/daemon-fault-matrix.test.ts: add a rotate flow once the core can rotate",
  },
];
