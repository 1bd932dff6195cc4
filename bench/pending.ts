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
    what: "pair-setup at ATT MTU 23: 8 connection events for 4 flights (2×) at 30 and 50 ms, which is the floor protocol v1's messages allow (108 + 105 + 106 + 118 bytes in 7 + 6 + 6 + 7 frames, plus the framing's ACKs, 6 LL PDUs per event)",
    goal: "≤ 1.1× at 30/50 ms for both MTUs (met at MTU 247: 1.0×)",
    hook: "bench/journeys.ts linkFloor; blocked by message sizes: a protocol v2 with compressed points, ACKs ridden in the answer and names/model/firmware out of Finish/Done (bench/README.md, 'link floor')",
  },
  {
    what: "soak RSS retained over 500 cycles: 5.4 / 5.9 MB in two runs (`nice -n 5 node dist/bench/daemon.js soak 500`, 2026-12-04; was 8.0 / 9.7) since the quiet collection is two full collections and the daemon runs two V8 workers; idle RSS after the cycles 76.8 / 76.4 MB (goal ≤ 80 met); growth past warm-up 2.5 / 2.3 MB, of which live heap +0.6 / +0.7",
    goal: "no retained growth (RSS retained ≤ 5 MB over the cycles)",
    hook: "bench/daemon.ts soak (RSS retained, RSS growth past warm-up, heap after GC; OPENCLAW_SOAK_DUMP for smaps). Floor ≈ 5 MB that is live or file-backed: the JIT warm-up's live heap (15.7 → 18.6 MB over the first 100 cycles), +0.6–0.7 MB live over the next 400, node's text pages +1.5 MB; the rest is two workers' malloc arenas (+1.5–1.8 MB). One worker met the goal in 2 of 4 runs but slowed 8 cold concurrent pairings ≈ 17 %; next: less compiled code per pairing, or a goal on growth past warm-up",
  },
];
