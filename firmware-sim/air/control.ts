import { unlinkSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { z } from "zod";
import { isOpenClawError, OpenClawError } from "../../src/protocol/errors.js";
import { type Air, clearStaleSocket } from "./index.js";

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
 * Errors: {"ok":false,"error":{"code":"INVALID_ARGUMENT","message":"..."}}
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

export type ControlResponse =
  | { ok: true; [k: string]: unknown }
  | { ok: false; error: { code: string; message: string; detail?: string } };

export async function handleControl(air: Air, raw: unknown): Promise<ControlResponse> {
  const parsed = ControlRequest.safeParse(raw);
  if (!parsed.success) {
    return {
      ok: false,
      error: {
        code: "INVALID_ARGUMENT",
        message: "bad control request",
        detail: `bad control request: ${z.prettifyError(parsed.error)}`,
      },
    };
  }
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
    if (isOpenClawError(err)) {
      const detail = err.is("INVALID_ARGUMENT") ? err.details.detail : undefined;
      return { ok: false, error: { code: err.code, message: err.message, ...(detail ? { detail } : {}) } };
    }
    return {
      ok: false,
      error: { code: "INTERNAL", message: err instanceof Error ? err.message : String(err) },
    };
  }
}

export interface ControlServer {
  close(): Promise<void>;
}

/** Serves the control protocol on a unix socket; the file is removed on close. */
export async function serveControl(air: Air, path: string): Promise<ControlServer> {
  if (Buffer.byteLength(path) > 107) {
    throw new OpenClawError("INVALID_ARGUMENT", {
      detail: `unix socket path is longer than 107 bytes: ${path}`,
    });
  }
  await clearStaleSocket(path);
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let buf = "";
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
          socket.write(
            `${JSON.stringify({ ok: false, error: { code: "INVALID_ARGUMENT", message: "not JSON" } })}\n`,
          );
          continue;
        }
        void handleControl(air, req).then((res) => {
          if (!socket.destroyed) socket.write(`${JSON.stringify(res)}\n`);
        });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    },
  };
}

/** Sends one request to a running air's control socket and returns its answer. */
export function controlRequest(
  path: string,
  req: ControlRequest,
  timeoutMs = 10_000,
): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let buf = "";
    const t = setTimeout(() => {
      s.destroy();
      reject(new OpenClawError("TIMEOUT", { what: "the air's control socket", afterMs: timeoutMs }));
    }, timeoutMs);
    s.once("connect", () => s.write(`${JSON.stringify(req)}\n`));
    s.on("data", (chunk: Buffer) => {
      buf += chunk.toString("utf8");
      const i = buf.indexOf("\n");
      if (i < 0) return;
      clearTimeout(t);
      s.destroy();
      try {
        resolve(JSON.parse(buf.slice(0, i)) as ControlResponse);
      } catch {
        reject(
          new OpenClawError("PROTOCOL_ERROR", { detail: "the air's control socket answered with non-JSON" }),
        );
      }
    });
    s.once("error", (err) => {
      clearTimeout(t);
      reject(
        new OpenClawError("INVALID_ARGUMENT", {
          detail: `cannot reach the air's control socket at ${path} (${(err as NodeJS.ErrnoException).code ?? err.message})`,
        }),
      );
    });
  });
}
