/**
 * What issue 10 asks that cannot be measured until the daemon and the laptop's bond store land. Printed
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
    what: "scan ingest through the daemon's discovery registry beside noble's raw discover events, CPU per 1000 reports",
    goal: "≥ 0.9 × raw",
    hook: "bench/radio.ts advertisingRate(): add the registry's count next to the noble count",
  },
  {
    what: "bond store: load time and memory at 100 / 1 000 / 10 000 bonds; forget latency",
    goal: "≤ 300 ms at 10 000",
    hook: "new bench/store.ts on src/store once the bond store exists",
  },
  {
    what: "denial of service: a central that connects and holds the link; one that starts pair-setup and stalls",
    goal: "a legitimate laptop still pairs within a bounded time",
    hook: "test/stress: a holding central (test/fixtures/central.js) beside the driver, against `openclaw sim`",
  },
  {
    what: "crash consistency: ≥ 200 kill -9 of the daemon and of the sim while they write",
    goal: "every load succeeds; every bond whole or absent; both sides agree after one verify",
    hook: "test/stress: spawn, SIGKILL at random points of a pair/verify/forget loop, reload both state dirs",
  },
  {
    what: "fault matrix and fuzzing against the daemon: its bond store, rotate, and the JSON-RPC server",
    goal: "zero half bonds; no exception escapes",
    hook: "test/stress/rig.ts Rig.bonds → the daemon's store; test/stress/fuzz-*.ts → the JSON-RPC line parser",
  },
];
