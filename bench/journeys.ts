/**
 * The protocol over the virtual air with the real stacks: `openclaw sim` (bleno) and the laptop-side test
 * driver (noble, bench/fixtures/journey-child.ts) as children, the air in this process.
 *
 * For ATT MTU 23 and 247 (fresh processes each) and connection intervals 7.5, 30 and 50 ms, repeated:
 * connect, read info, pair-setup, verify, a session command (status), disconnect; then the bonded
 * reconnect: connect, verify, command, remove pairing; then the button for the next window.
 *
 * Per phase: flights (protocol messages each way, counted by the child's tap on its frame link), the
 * connection events the air ran during the phase (from a timeline this process records off the air's
 * timers: every connection event of the pair, with the packet counters), wall time in the child, and
 * the ratio to the floor, flights × interval. The first pairing of each fresh pair of processes is the
 * cold one, set against the warm ones at the same interval.
 *
 * The daemon's versions (the CLI journeys, concurrency, soak) are bench/daemon.ts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { DEFAULT_CONFIG } from "../firmware-sim/air/index.js";
import { type Child, type ChildEvent, killAll, ROOT, spawnProgram } from "../rig/proc.js";
import { startAir, type TestAir } from "../rig/radio.js";
import { SystemClock, type TimerHandle, type TimerOptions } from "../src/clock/index.js";
import { DEFAULT_WINDOW } from "../src/transport/channel.js";
import type { Phase } from "./fixtures/journey-child.js";
import { airViolations, type Figure } from "./report.js";
import { median, round } from "./stats.js";

const SECTION = "air journeys (real noble + bleno)";
const INTERVALS = [7.5, 30, 50] as const;
const MTUS = [23, 247] as const;
/** Goal on the ratio to the floor, at these intervals (issue 10). */
const FLOOR_GOAL = { op: "<=" as const, value: 1.1 };
const GOAL_INTERVALS = new Set<number>([30, 50]);

const epoch = () => performance.timeOrigin + performance.now();

interface Tick {
  t: number;
  events: number;
  toP: number;
  toC: number;
}

/** The air's clock, with a look at the link counters after every timer that fired. */
class TimelineClock extends SystemClock {
  after: () => void = () => {};
  override setTimeout(name: string, ms: number, fn: () => void, opts?: TimerOptions): TimerHandle {
    return super.setTimeout(
      name,
      ms,
      () => {
        fn();
        this.after();
      },
      opts,
    );
  }
}

class Timeline {
  private readonly ticks = new Map<string, Tick[]>();
  constructor(private readonly t: TestAir) {}

  record(): void {
    for (const c of this.t.air.counters()) {
      if (!c.connected) continue;
      const key = `${c.central}>${c.peripheral}`;
      const list = this.ticks.get(key) ?? [];
      this.ticks.set(key, list);
      const last = list.at(-1);
      if (last && last.events === c.connectionEvents) continue;
      list.push({
        t: epoch(),
        events: c.connectionEvents,
        toP: c.packetsToPeripheral,
        toC: c.packetsToCentral,
      });
    }
  }

  /** Connection events of the pair inside (t0, t1], and how many of them carried a packet. */
  events(central: string, peripheral: string, p: Phase): { all: number; busy: number } {
    const list = this.ticks.get(`${central}>${peripheral}`) ?? [];
    let all = 0;
    let busy = 0;
    for (let i = 1; i < list.length; i++) {
      const k = list[i]!;
      if (k.t <= p.t0 || k.t > p.t1) continue;
      const prev = list[i - 1]!;
      all += k.events - prev.events;
      if (k.toP !== prev.toP || k.toC !== prev.toC) busy++;
    }
    return { all, busy };
  }

  intervalOf(central: string, peripheral: string): number | undefined {
    return this.t.air
      .counters()
      .find((c) => c.central === central && c.peripheral === peripheral && c.connected)?.intervalMs;
  }
}

type SimEvent = ChildEvent & { [k: string]: unknown };

interface Rig {
  mtu: number;
  sim: Child<SimEvent>;
  laptop: Child<ChildEvent>;
  simLabel: string;
  laptopLabel: string;
  id: string;
  code: string;
  dir: string;
}

// The same journeys through the daemon and the CLI, and concurrency, are bench/daemon.ts; these are the
// driver's, which the frame tap and the air timeline can take apart per phase.
async function startRig(t: TestAir, mtu: number): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), "ocp-bench-"));
  const simLabel = `bench-dev-${mtu}`;
  const laptopLabel = `bench-laptop-${mtu}`;
  // The device caps the MTU too (as sim-mtu.test.ts does), so both sides' limits apply.
  const sim = spawnProgram<SimEvent>(`${ROOT}bin/openclaw.js`, {
    name: simLabel,
    args: [
      ...["sim", "--json-events", "--hci", t.spec(simLabel), "--state-dir", join(dir, "state")],
      ...["--max-mtu", String(mtu)],
    ],
  });
  const laptop = spawnProgram("bench/fixtures/journey-child.js", {
    name: laptopLabel,
    hci: t.spec(laptopLabel),
    args: ["--max-mtu", String(mtu)],
  });
  const ready = await sim.next("ready", 20_000);
  const display = await sim.next("display", 20_000);
  await sim.next("advertising", 20_000);
  await laptop.next("ready", 20_000);
  const { id } = await laptop.call<{ id: string }>("find", { name: ready["name"] }, 25_000);
  return { mtu, sim, laptop, simLabel, laptopLabel, id, code: String(display["code"]), dir };
}

async function stopRig(r: Rig): Promise<void> {
  await Promise.all([r.laptop.kill(), r.sim.kill()]);
  rmSync(r.dir, { recursive: true, force: true });
}

interface Journey {
  intervalMs: number;
  connect: Phase;
  info: Phase;
  pair: Phase;
  verify: Phase;
  command: Phase;
  reconnect: Phase;
  reverify: Phase;
  recommand: Phase;
  remove: Phase;
}

async function journey(rig: Rig, timeline: Timeline, intervalMs: number): Promise<Journey> {
  const call = (cmd: string, args: object = {}) => rig.laptop.call<Phase>(cmd, args, 30_000);
  const connect = await call("connect", { id: rig.id, intervalMs });
  const used = timeline.intervalOf(rig.laptopLabel, rig.simLabel) ?? intervalMs;
  const info = await call("info");
  const pair = await call("pair", { code: rig.code });
  const verify = await call("verify");
  const command = await call("status");
  await call("disconnect");
  const reconnect = await call("connect", { id: rig.id, intervalMs });
  const reverify = await call("verify");
  const recommand = await call("status");
  const remove = await call("remove");
  await call("disconnect");
  // The next window: the button, as a person would press it.
  const mark = rig.sim.mark();
  await rig.sim.call("button", {}, 10_000);
  const shown = await rig.sim.waitFor((e) => e.type === "display", 10_000, "the code after the button", {
    since: mark,
  });
  rig.code = String(shown["code"]);
  return { intervalMs: used, connect, info, pair, verify, command, reconnect, reverify, recommand, remove };
}

const flights = (p: Phase) => p.messagesOut + p.messagesIn;
/** A message's length from its frames: the START frame's 4-byte header, 2 on every other. */
const messageBytes = (frames: number[]) => frames.reduce((n, len, i) => n + len - (i === 0 ? 4 : 2), 0);
/** ATT opcode + handle, L2CAP length + channel: what each frame carries on top in the link layer. */
const FRAME_OVERHEAD = 3 + 4;
/**
 * What the link layer allows, with the framing's own acks (hardware/PROTOCOL.md §2.2): each frame is cut
 * into LL PDUs of llPayloadBytes and the air moves packetsPerEvent of them each way per connection
 * event; what arrives in an event is acted on for the next one (an answer, at zero CPU, rides the next
 * event); the receiver acks after every ceil(W/2) frames and after every END, and those 2-byte acks take
 * a PDU of the same budget as the answer that follows them. Messages alternate direction (pair-setup).
 * Returns the events until the last message's END has arrived.
 */
function linkFloor(p: Phase): number {
  const { llPayloadBytes, packetsPerEvent } = DEFAULT_CONFIG;
  const pdus = (len: number) => Math.ceil((len + FRAME_OVERHEAD) / llPayloadBytes);
  const ackEvery = Math.ceil(DEFAULT_WINDOW / 2);
  type Item = { pdus: number; msg: number; end: boolean } | { pdus: number; ack: number };
  const queue: [Item[], Item[]] = [[], []];
  const unacked = [0, 0];
  const sinceAck = [0, 0];
  const enqueue = (msg: number) => {
    const frames = p.messageFrames[msg];
    if (!frames) return;
    for (const [i, len] of frames.entries())
      queue[msg % 2]!.push({ pdus: pdus(len), msg, end: i === frames.length - 1 });
  };
  enqueue(0);
  for (let event = 1; event < 1000; event++) {
    const arrived: Array<[number, Item]> = [];
    for (const side of [0, 1]) {
      let budget = packetsPerEvent;
      const q = queue[side]!;
      while (budget > 0 && q.length > 0) {
        const head = q[0]!;
        if ("msg" in head && unacked[side]! >= DEFAULT_WINDOW) break;
        const take = Math.min(budget, head.pdus);
        head.pdus -= take;
        budget -= take;
        if (head.pdus > 0) break;
        q.shift();
        if ("msg" in head) unacked[side]!++;
        arrived.push([side, head]);
      }
    }
    for (const [from, item] of arrived) {
      const to = 1 - from;
      if ("ack" in item) {
        unacked[to] = Math.max(0, unacked[to]! - item.ack);
        continue;
      }
      sinceAck[to]!++;
      if (item.end || sinceAck[to]! >= ackEvery) {
        queue[to]!.push({ pdus: pdus(2), ack: sinceAck[to]! });
        sinceAck[to] = 0;
      }
      if (item.end) {
        if (item.msg === p.messageFrames.length - 1) return event;
        enqueue(item.msg + 1);
      }
    }
  }
  return Number.NaN;
}

export async function benchJourneys(o: { quick?: boolean } = {}): Promise<Figure[]> {
  const reps = o.quick ? 1 : 5;
  const out: Figure[] = [];
  const clock = new TimelineClock();
  const t = await startAir({ clock });
  const timeline = new Timeline(t);
  clock.after = () => timeline.record();
  try {
    for (const mtu of MTUS) {
      const rig = await startRig(t, mtu);
      try {
        const cold = await journey(rig, timeline, 30);
        const runs = new Map<number, Journey[]>();
        for (const interval of INTERVALS) {
          const js: Journey[] = [];
          for (let i = 0; i < reps; i++) js.push(await journey(rig, timeline, interval));
          runs.set(interval, js);
        }
        for (const interval of INTERVALS) {
          out.push(...figuresFor(mtu, interval, runs.get(interval)!, rig, timeline));
        }
        const warm = median(runs.get(30)!.map((j) => j.pair.ms));
        out.push({
          section: SECTION,
          name: `first pair-setup of fresh processes / warm @30 ms, MTU ${mtu}`,
          value: round(cold.pair.ms / warm, 2),
          unit: "×",
          goal: { op: "<=", value: 1.2 },
          note: `${round(cold.pair.ms, 0)} ms vs ${round(warm, 0)} ms (median of ${reps}); sim + driver both fresh, each with its curve tables built at start-up as the sim and the daemon build theirs`,
        });
      } finally {
        await stopRig(rig);
      }
    }
    out.push(airViolations(SECTION, t.air.violations));
  } finally {
    await killAll();
    await t.close();
  }
  return out;
}

function figuresFor(mtu: number, interval: number, js: Journey[], rig: Rig, tl: Timeline): Figure[] {
  const used = js[0]?.intervalMs ?? interval;
  const tag = `@${interval} ms, MTU ${mtu}`;
  const ev = (p: Phase) => tl.events(rig.laptopLabel, rig.simLabel, p);
  const med = (f: (j: Journey) => number) => median(js.map(f));
  const out: Figure[] = [];
  // The floor is one connection event per flight: the value counts the events the air ran during the
  // phase (independent of where in an interval the phase began); wall / (flights × interval) is beside it.
  const ratioFig = (what: string, pick: (j: Journey) => Phase): Figure => {
    const p0 = pick(js[0]!);
    const fl = flights(p0);
    const wall = med((j) => pick(j).ms);
    const events = med((j) => ev(pick(j)).all);
    const busy = med((j) => ev(pick(j)).busy);
    const frames = `${p0.framesOut}/${p0.framesIn} frames`;
    return {
      section: SECTION,
      name: `${what} ${tag}: conn events / flights`,
      value: round(events / fl, 2),
      unit: "×",
      ...(GOAL_INTERVALS.has(interval) ? { goal: FLOOR_GOAL } : {}),
      note: `flights ${p0.messagesOut}→ ${p0.messagesIn}← (${frames}); ${events} events (${busy} busy), link floor ${linkFloor(p0)}; ${round(wall, 0)} ms = ${round(wall / (fl * used), 2)}× flights × interval; child CPU ${round(
        med((j) => pick(j).cpuMs),
        0,
      )} ms; median of ${js.length}`,
    };
  };
  const intervalsFig = (what: string, ms: (j: Journey) => number, goal?: number, note = ""): Figure => ({
    section: SECTION,
    name: `${what} ${tag}`,
    value: round(med(ms) / used, 1),
    unit: "intervals",
    ...(goal !== undefined && interval === 30 ? { goal: { op: "<=" as const, value: goal } } : {}),
    note: `${round(med(ms), 0)} ms; median of ${js.length}${note}`,
  });
  if (interval === 30) {
    // The floor the link itself sets (a goal below it is impossible at this MTU without smaller messages).
    const p0 = js[0]!.pair;
    out.push({
      section: SECTION,
      name: `pair-setup MTU ${mtu}: link-layer floor / flights`,
      value: round(linkFloor(p0) / flights(p0), 2),
      unit: "×",
      note: `${linkFloor(p0)} events for ${flights(p0)} flights: message bytes ${p0.messageFrames.map(messageBytes).join("+")} in frames ${p0.messageFrames.map((m) => m.length).join("+")} (${DEFAULT_CONFIG.llPayloadBytes}-byte LL PDUs, ${DEFAULT_CONFIG.packetsPerEvent}/event each way, the framing's acks included)`,
    });
  }
  out.push(
    ratioFig("pair-setup", (j) => j.pair),
    ratioFig("verify", (j) => j.verify),
    ratioFig("session command", (j) => j.command),
    ratioFig("remove pairing", (j) => j.remove),
    intervalsFig("info read (ATT read + blobs)", (j) => j.info.ms),
    intervalsFig("connect (LE link, MTU, discovery, subscribe)", (j) => j.connect.ms),
    // The driver's versions of the daemon's journeys (bench/daemon.ts measures those through the CLI).
    intervalsFig(
      "first pairing: connect + info + pair-setup + verify",
      (j) => j.connect.ms + j.info.ms + j.pair.ms + j.verify.ms,
      20,
      "; scan excluded; the daemon's `openclaw pair` goal",
    ),
    intervalsFig(
      "bonded reconnect + verify + command",
      (j) => j.reconnect.ms + j.reverify.ms + j.recommand.ms,
      12,
      "; the daemon's goal (floor ≈ 7.5 with cached GATT handles)",
    ),
  );
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { table } = await import("./report.js");
  process.stdout.write(table(await benchJourneys({ quick: process.argv.includes("--quick") })));
}
