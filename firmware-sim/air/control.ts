import { createConnection, createServer, type Server, type Socket } from "node:net";
import { z } from "zod";
import type { Clock } from "../../src/clock/clock.js";
import { systemClock } from "../../src/clock/system.js";
import {
  isOpenClawError,
  OpenClawError,
  type OpenClawErrorJson,
  protocolError,
} from "../../src/protocol/errors.js";
import type { Air } from "./index.js";
import { DEFAULT_SOCKET_MODE, listenUnix, removeSocket } from "./unix-socket.js";

/**
 * The air's control socket: one JSON object per line in, one per line out. It is how a person (or a test
 * in another process) moves devices, injects faults and reads counters while `openclaw air` runs.
 *
 *   {"op":"list"}                                        → {"ok":true,"controllers":[...]}
 *   {"op":"counters"}                                    → {"ok":true,"counters":[...]}
 *   {"op":"move","who":"dev1","x":5,"y":0}               → {"ok":true}
 *   {"op":"fault","who":"dev1","dropAtPacket":3}         → {"ok":true}   (replaces the faults; {} clears)
 *   {"op":"power-cycle","who":"dev1","offMs":500}        → {"ok":true}   (after power is back)
 *   {"op":"configure","who":"dev1","config":{...}}       → {"ok":true}
 *   {"op":"violations"}                                  → {"ok":true,"violations":N}
 * Errors: {"ok":false,"error":{"code","message","remedy","details"}} — an OpenClawError's toJSON, which
 * the client rebuilds with OpenClawError.fromJSON (so the CLI prints the catalogue's words).
 */

const Who = z.string().min(1).max(64);
const Num = z.number().finite();

export const ControlRequest = z.discriminatedUnion("op", [
  z.object({ op: z.literal("list") }),
  z.object({ op: z.literal("counters") }),
  z.object({ op: z.literal("violations") }),
  z.object({ op: z.literal("move"), who: Who, x: Num, y: Num }),
  z.object({
    op: z.literal("fault"),
    who: Who,
    dropAtPacket: z.number().int().positive().optional(),
    latencyMs: Num.nonnegative().optional(),
    jitterMs: Num.nonnegative().optional(),
  }),
  z.object({ op: z.literal("power-cycle"), who: Who, offMs: Num.nonnegative().optional() }),
  z.object({
    op: z.literal("configure"),
    who: Who,
    config: z
      .object({
        txPowerDbm: Num.optional(),
        sensitivityDbm: Num.optional(),
        aclBuffers: z
          .object({
            length: z.number().int().min(27).max(1021).optional(),
            count: z.number().int().min(1).max(255).optional(),
          })
          .optional(),
        llPayloadBytes: z.number().int().min(27).max(251).optional(),
        packetsPerEvent: z.number().int().min(1).max(64).optional(),
        minAdvIntervalMs: Num.min(1).optional(),
        rssiJitterDb: Num.nonnegative().optional(),
        honourDuplicateFilter: z.boolean().optional(),
      })
      .strict(),
  }),
]);
export type ControlRequest = z.infer<typeof ControlRequest>;

export type ControlResponse = { ok: true; [k: string]: unknown } | { ok: false; error: OpenClawErrorJson };

/** The longest request line the control socket reads (a client that never sends a newline is cut off). */
export const MAX_CONTROL_LINE_BYTES = 64 * 1024;

function failure(err: OpenClawError): ControlResponse {
  return { ok: false, error: err.toJSON() };
}

function badRequest(detail: string): ControlResponse {
  return failure(new OpenClawError("INVALID_ARGUMENT", { detail, command: "air ctl" }));
}

export async function handleControl(air: Air, raw: unknown): Promise<ControlResponse> {
  const parsed = ControlRequest.safeParse(raw);
  if (!parsed.success) return badRequest(`bad control request: ${z.prettifyError(parsed.error)}`);
  const r = parsed.data;
  try {
    switch (r.op) {
      case "list":
        return { ok: true, controllers: air.controllers() };
      case "counters":
        return { ok: true, counters: air.counters() };
      case "violations":
        return { ok: true, violations: air.violations };
      case "move":
        air.move(r.who, { x: r.x, y: r.y });
        return { ok: true };
      case "fault": {
        const { op: _op, who, ...f } = r;
        air.setFault(who, f);
        return { ok: true };
      }
      case "power-cycle":
        await air.powerCycle(r.who, r.offMs);
        return { ok: true };
      case "configure":
        air.configure(r.who, r.config);
        return { ok: true };
    }
  } catch (err) {
    if (isOpenClawError(err)) return failure(err);
    return failure(
      new OpenClawError("INTERNAL", {
        detail: `the air failed on "${r.op}": ${err instanceof Error ? err.message : String(err)}`,
      }),
    );
  }
}

export interface ControlServer {
  close(): Promise<void>;
}

/** Serves the control protocol on a unix socket (mode 0600 unless asked otherwise); removed on close. */
export async function serveControl(
  air: Air,
  path: string,
  mode = DEFAULT_SOCKET_MODE,
): Promise<ControlServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let buf = "";
    const answer = (res: ControlResponse): void => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(res)}\n`);
    };
    socket.on("data", (chunk: Buffer) => {
      buf += chunk.toString("utf8");
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (!line) continue;
        let req: unknown;
        try {
          req = JSON.parse(line);
        } catch {
          answer(badRequest("a control request is one JSON object per line"));
          continue;
        }
        void handleControl(air, req).then(answer);
      }
      if (Buffer.byteLength(buf) > MAX_CONTROL_LINE_BYTES) {
        answer(badRequest(`a control request line is longer than ${MAX_CONTROL_LINE_BYTES} bytes`));
        socket.end();
        buf = "";
      }
    });
  });
  await listenUnix(server, path, mode);
  return {
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      removeSocket(path);
    },
  };
}

export interface ControlRequestOptions {
  timeoutMs?: number;
  /** Where the timeout runs (default: the system clock; the CLI is an entry point). */
  clock?: Clock;
}

/** The answer's shape, checked before it is trusted (the air may be another version). */
const ControlAnswer = z.union([
  z.object({ ok: z.literal(true) }).passthrough(),
  z.object({ ok: z.literal(false), error: z.unknown() }),
]);

/**
 * Sends one request to a running air's control socket. Resolves with the answer's fields; an error
 * answer rejects with the air's OpenClawError, rebuilt from the catalogue (code, details, remedy).
 */
export function controlRequest(
  path: string,
  req: ControlRequest,
  opts: ControlRequestOptions = {},
): Promise<Record<string, unknown>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const clock = opts.clock ?? systemClock;
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let buf = "";
    const t = clock.setTimeout("air-control.request", timeoutMs, () => {
      s.destroy();
      reject(new OpenClawError("TIMEOUT", { what: "the air's control socket", afterMs: timeoutMs }));
    });
    s.once("connect", () => s.write(`${JSON.stringify(req)}\n`));
    s.on("data", (chunk: Buffer) => {
      buf += chunk.toString("utf8");
      const i = buf.indexOf("\n");
      if (i < 0) return;
      clock.clearTimeout(t);
      s.destroy();
      let answer: z.infer<typeof ControlAnswer>;
      try {
        answer = ControlAnswer.parse(JSON.parse(buf.slice(0, i)));
      } catch {
        reject(
          protocolError("the air's control socket answered with something that is not a control answer"),
        );
        return;
      }
      if (answer.ok) {
        const { ok: _ok, ...rest } = answer;
        resolve(rest);
      } else reject(OpenClawError.fromJSON(answer.error));
    });
    s.once("error", (err: NodeJS.ErrnoException) => {
      clock.clearTimeout(t);
      const code = err.code ?? err.message;
      const why =
        code === "ENOENT" || code === "ECONNREFUSED"
          ? "no air is running there; start one with `openclaw air`, or give its --control path"
          : code === "EACCES"
            ? "its socket belongs to another user"
            : code;
      reject(
        new OpenClawError("INVALID_ARGUMENT", {
          detail: `cannot reach the air's control socket at ${path} (${code}): ${why}`,
          command: "air ctl",
        }),
      );
    });
  });
}
