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
    what: "JSON-RPC fuzz long form (10^5 cases): stops near case 7 000 on the 64-connection limit",
    goal: "≥ 10^5 cases, every one answered, the daemon keeps serving",
    hook: "test/stress/fuzz-rpc.test.ts: find which cases leave a server connection open (overflow end + destroySoon, split writes)",
  },
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
