/**
 * The daemon process (`openclaw daemon`): one per state directory. It takes the directory's lock
 * (a second daemon refuses with STATE_LOCKED), loads the config file, opens the logs, the bond store,
 * the audit log and this laptop's identity, opens the radio, starts the core and serves the control
 * API on its socket. SIGINT/SIGTERM (and `daemon.shutdown`) stop it cleanly: the socket, the core's
 * sessions and links, the audit log and the lock, in that order.
 *
 * Started on demand by a CLI command (`onDemand`), it logs to its file only (its stderr goes there
 * too) and exits after `idleTimeoutMs` without a client; in the foreground (systemd) it also logs to
 * stderr and never idles out. Readiness (or the error that stopped the start) is written as one JSON
 * line to `readyFd` when given, so the starter can report the real cause rather than a timeout.
 */
import { randomBytes } from "node:crypto";
import { closeSync, writeSync } from "node:fs";
import { userInfo } from "node:os";
import { performance } from "node:perf_hooks";
import type { Clock, TimerHandle } from "../../clock/index.js";
import { toHex as bytesToHex } from "../../protocol/bytes.js";
import { warmTables } from "../../protocol/crypto/spake2plus.js";
import { isOpenClawError, OpenClawError } from "../../protocol/errors.js";
import type { RandomBytes } from "../../protocol/random.js";
import {
  AuditLog,
  BondStore,
  ensurePrivateDir,
  loadOrCreateIdentity,
  lockStateDir,
  type OpenClawPaths,
  type Quarantine,
  resolvePaths,
  type StateLock,
} from "../../store/index.js";
import { VERSION } from "../../version.js";
import type { DaemonCore, DaemonCoreDeps, RadioPort } from "../core/api.js";
import { coreAudit, coreStore } from "../core/store-port.js";
import { API_VERSION, type HelloResult, type QuarantinedFile } from "../rpc/api.js";
import { createHandlers, eventToNotification } from "../rpc/handlers.js";
import { ControlServer } from "../rpc/server.js";
import { loadConfig } from "./config.js";
import { createDaemonLogger, type DaemonLogger, type LogLevel } from "./log.js";
import { collectTwice, loadGc, QuietCollector } from "./memory.js";

/** How long the daemon is quiet (no request in flight, no pairing or session event) before it collects. */
const COLLECT_AFTER_QUIET_MS = 2000;
/** How long without a request in flight before the curve tables are built (see prepareCrypto). */
const PREPARE_CRYPTO_AFTER_QUIET_MS = 50;

export interface DaemonOptions {
  /** `--state-dir` (else OPENCLAW_STATE_DIR, else XDG). */
  stateDir?: string;
  /** `--hci` (else the config's, else OPENCLAW_HCI, else the default adapter). */
  hci?: string;
  logLevel?: LogLevel;
  /** Started by a CLI: idles out, logs to the file only. */
  onDemand: boolean;
  /** Overrides the config's idle timeout (tests). */
  idleTimeoutMs?: number;
  /** Write `{"ready":…}` or `{"error":…}` here once started, then close it. */
  readyFd?: number;
  env?: NodeJS.ProcessEnv;
}

/** The parts a test (or another radio) can swap: opening the radio and building the core. */
export interface DaemonParts {
  clock: Clock;
  random?: RandomBytes;
  openRadio(o: { hci: string | undefined; log: DaemonLogger }): Promise<RadioPort>;
  createCore(deps: DaemonCoreDeps): DaemonCore;
}

export interface RunningDaemon {
  readonly paths: OpenClawPaths;
  readonly hello: HelloResult;
  /** Stops cleanly (idempotent); resolves once everything is closed. */
  stop(reason: string): Promise<void>;
  /** Resolves with the exit code once stopped. */
  readonly stopped: Promise<number>;
}

function writeReady(fd: number | undefined, message: object): void {
  if (fd === undefined) return;
  try {
    writeSync(fd, `${JSON.stringify(message)}\n`);
    closeSync(fd);
  } catch {
    // the starter went away: nothing to tell
  }
}

function defaultName(): string {
  try {
    return `${userInfo().username}'s laptop`;
  } catch {
    return "openclaw laptop";
  }
}

/**
 * Starts the daemon; rejects (after releasing whatever it had taken) when it cannot: STATE_LOCKED,
 * STORAGE, INVALID_ARGUMENT (config), ADAPTER_UNAVAILABLE, ... The readyFd hears the same error.
 */
export async function startDaemon(o: DaemonOptions, parts: DaemonParts): Promise<RunningDaemon> {
  const env = o.env ?? process.env;
  const clock = parts.clock;
  const random: RandomBytes = parts.random ?? ((n) => new Uint8Array(randomBytes(n)));
  const paths = resolvePaths({ ...(o.stateDir !== undefined ? { stateDir: o.stateDir } : {}), env });
  const undo: Array<() => Promise<void>> = [];
  const unwind = async () => {
    for (const f of undo.splice(0).reverse()) await f().catch(() => {});
  };
  let log: DaemonLogger | undefined;
  try {
    await ensurePrivateDir(paths.stateDir);
    const lock: StateLock = await lockStateDir(paths.stateDir, "daemon.lock");
    undo.push(() => lock.release());
    const config = await loadConfig(paths.configFile);
    const level = o.logLevel ?? (env["OPENCLAW_LOG_LEVEL"] as LogLevel | undefined) ?? config.logLevel;
    log = createDaemonLogger({ level, file: paths.logFile, stderr: !o.onDemand });
    const logger = log;
    undo.push(async () => logger.flush());
    const hci = o.hci ?? config.hci ?? (env["OPENCLAW_HCI"] || undefined);
    log.info(
      { stateDir: paths.stateDir, hci: hci ?? "default adapter", onDemand: o.onDemand, version: VERSION },
      "daemon starting",
    );

    const quarantined: QuarantinedFile[] = [];
    const onQuarantine = (q: Quarantine) => {
      quarantined.push({ file: q.file, quarantinedAs: q.quarantinedAs, reason: q.reason });
      logger.warn(
        { file: q.file, quarantinedAs: q.quarantinedAs, reason: q.reason },
        "a bond file was quarantined",
      );
    };
    const audit = await AuditLog.open(paths, { clock });
    undo.push(() => audit.close());
    const store = await BondStore.open(paths, { clock, onQuarantine });
    for (const q of store.quarantined())
      await audit
        .append({ type: "quarantined", file: q.file, reason: q.reason.slice(0, 512) })
        .catch(() => {});
    for (const s of store.skipped())
      log.warn({ file: s.file, error: s.error.toJSON() }, "a bond file was left untouched");
    const { identity } = await loadOrCreateIdentity(paths, {
      random,
      clock,
      defaultName: config.name ?? defaultName(),
      bonds: store.list().map((b) => b.record),
      onCorrupt: (err) => logger.warn({ error: err.toJSON() }, "the identity file was quarantined"),
    });

    const radio = await parts.openRadio({ hci, log });
    undo.push(() => radio.close());
    const core = parts.createCore({
      radio,
      store: coreStore(store),
      audit: coreAudit(audit),
      identity: { controllerId: identity.controllerId, name: identity.name },
      clock,
      random,
      logger: log,
      options: { sessionIdleMs: config.sessionIdleMs },
    });
    undo.push(() => core.close());
    await core.start();

    const startedAt = clock.now();
    // OPENCLAW_DAEMON_IDLE_MS: for tests of the idle-out (the config file's minimum is a minute).
    const envIdle = Number(env["OPENCLAW_DAEMON_IDLE_MS"]);
    const idleTimeoutMs = o.onDemand
      ? (o.idleTimeoutMs ?? (Number.isInteger(envIdle) && envIdle >= 100 ? envIdle : config.idleTimeoutMs))
      : null;
    const hello: HelloResult = {
      apiVersion: API_VERSION,
      version: VERSION,
      pid: process.pid,
      stateDir: paths.stateDir,
      hci: hci ?? "default adapter",
      onDemand: o.onDemand,
      controllerId: bytesToHex(identity.controllerId),
      name: identity.name,
    };

    let stopping: Promise<void> | undefined;
    let resolveStopped: (code: number) => void = () => {};
    const stopped = new Promise<number>((r) => {
      resolveStopped = r;
    });
    let idleTimer: TimerHandle | undefined;
    const stop = (reason: string): Promise<void> => {
      if (stopping) return stopping;
      stopping = (async () => {
        clock.clearTimeout(idleTimer);
        logger.info({ reason }, "daemon stopping");
        server.broadcast("daemon.stopping", { reason });
        await unwind();
        logger.info({}, "daemon stopped");
        logger.flush();
        resolveStopped(0);
      })();
      return stopping;
    };

    const gc = loadGc();
    // The live heap right after the collection (debug): what `npm run bench`'s soak reads to tell a
    // leak (heap grows) from pages the allocator keeps (RSS grows, heap flat); and what it cost.
    const collect = gc
      ? () => {
          const t0 = performance.now();
          collectTwice(gc);
          const gcMs = Math.round(performance.now() - t0);
          const m = process.memoryUsage();
          logger.debug({ gcMs, heapUsed: m.heapUsed, heapTotal: m.heapTotal, rss: m.rss }, "collected");
        }
      : undefined;
    const quiet = collect ? new QuietCollector(clock, COLLECT_AFTER_QUIET_MS, collect) : undefined;
    undo.push(async () => quiet?.close());
    // The curve tables (≈ 150 ms of CPU, warmTables) once the daemon is first quiet for a moment (no
    // request in flight), not at start-up: the command that started it on demand is answered first
    // (`openclaw devices` on a cold daemon: 515 → 330 ms), and a first pairing still finds them built
    // (`openclaw pair` leaves the daemon quiet between pair.prepare and pair.attempt while its person
    // types the code; a scripted code that leaves no quiet moment has the first exchange build them).
    // Measured with `node dist/bench/daemon.js cli` ("first pairing of a fresh daemon").
    const prepareCrypto = new QuietCollector(clock, PREPARE_CRYPTO_AFTER_QUIET_MS, () => {
      prepareCrypto.close();
      warmTables();
      quiet?.touch(); // building them leaves the young generation at its largest: give it back
    });
    undo.push(async () => prepareCrypto.close());
    const around = <T>(work: () => Promise<T>): Promise<T> =>
      prepareCrypto.during(() => (quiet ? quiet.during(work) : work()));

    const server: ControlServer = new ControlServer({
      socketPath: paths.socketPath,
      clock,
      log,
      around,
      handlers: createHandlers({
        core,
        clock,
        self: {
          hello: () => hello,
          status: () => ({
            socketPath: paths.socketPath,
            logFile: paths.logFile,
            uptimeMs: Math.round(clock.now() - startedAt),
            idleTimeoutMs,
            connections: server.connectionCount,
            quarantined: [...quarantined],
          }),
          quarantined: () => [...quarantined],
          // After the answer is written: the caller hears "stopping" before its socket closes.
          shutdown: (reason) => {
            clock.setTimeout("daemon.shutdown", 0, () => void stop(reason));
          },
        },
      }),
    });
    await server.listen();
    undo.push(() => server.close());
    core.on((e) => {
      // Advertising reports come all the time and allocate little; pairing and session work is what
      // grows the heap.
      if (e.type !== "discovered" && e.type !== "updated" && e.type !== "lost") quiet?.touch();
      const n = eventToNotification(e, clock.now());
      if (n) server.broadcast(n.method, n.params as never);
      if (e.type === "error")
        logger.warn({ deviceId: e.deviceId, what: e.what, error: e.error }, "device error");
    });

    if (idleTimeoutMs !== null) {
      const arm = (count: number) => {
        clock.clearTimeout(idleTimer);
        idleTimer = undefined;
        if (count === 0 && !stopping)
          idleTimer = clock.setTimeout("daemon.idle", idleTimeoutMs, () => void stop("idle"), { hold: true });
      };
      server.on("connections", arm);
      arm(server.connectionCount);
    }

    quiet?.touch();
    prepareCrypto.touch();
    log.info({ socket: paths.socketPath, pid: process.pid }, "daemon ready");
    writeReady(o.readyFd, { ready: true, socket: paths.socketPath, pid: process.pid });
    return { paths, hello, stop, stopped };
  } catch (err) {
    const e = isOpenClawError(err)
      ? err
      : new OpenClawError("INTERNAL", {
          detail: `the daemon failed to start: ${err instanceof Error ? err.name : "unknown error"}`,
        });
    log?.error({ error: e.toJSON(), err }, "daemon failed to start");
    log?.flush();
    writeReady(o.readyFd, { error: e.toJSON() });
    await unwind();
    throw e;
  }
}
