/**
 * The daemon's end of the control API: JSON-RPC 2.0 (json-rpc-2.0 does the protocol) over a unix socket,
 * one message per line (framing.ts). Access control is the filesystem's: the socket is 0600 inside a
 * 0700 directory of the daemon's user, so another local user cannot even connect (Node exposes no
 * SO_PEERCRED; the test runs the CLI as another uid).
 *
 * Hostile or broken clients cost bounded resources and never stop the daemon serving others: a line
 * longer than maxLineBytes is answered with an error and the connection dropped; bad JSON, a
 * non-request, an unknown method or params that fail the method's zod schema each get their JSON-RPC
 * error with an OpenClawError in `error.data`; at most maxInFlight requests run per connection and
 * maxConnections connections are served; a client that stops reading is dropped once its unread
 * output passes maxWriteBuffer.
 */
import { EventEmitter } from "node:events";
import { chmod, lstat, unlink } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { dirname } from "node:path";
import {
  JSONRPCErrorException,
  type JSONRPCID,
  type JSONRPCRequest,
  type JSONRPCResponse,
  JSONRPCServer,
} from "json-rpc-2.0";
import type { Clock } from "../../clock/index.js";
import { OpenClawError } from "../../protocol/errors.js";
import { ensurePrivateDir } from "../../store/index.js";
import {
  METHOD_NAMES,
  METHODS,
  type MethodName,
  type NotificationName,
  type Notifications,
  type ParsedParams,
  type Results,
  RPC_ERROR,
} from "./api.js";
import { errorResponse, invalidArgument, RpcFailure, toErrorResponse } from "./errors.js";
import { frameLine, LineSplitter, MAX_LINE_BYTES } from "./framing.js";

/** What a handler knows about the connection that called it. */
export interface RpcContext {
  readonly connectionId: number;
  /** Aborted when the client disconnects (Ctrl-C, kill -9): long operations stop cleanly. */
  readonly signal: AbortSignal;
  /** Sends a notification to this connection only (dropped once it closed). */
  notify<N extends NotificationName>(method: N, params: Notifications[N]): void;
  /** From now on this connection also receives the broadcast events. */
  subscribe(): void;
}

export type RpcHandlers = {
  [M in MethodName]: (params: ParsedParams<M>, ctx: RpcContext) => Promise<Results[M]> | Results[M];
};

/** The few log calls the server makes (pino's shape). Never given params: they may hold a code. */
export interface RpcLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ControlServerOptions {
  socketPath: string;
  handlers: RpcHandlers;
  clock: Clock;
  log: RpcLog;
  maxLineBytes?: number;
  maxConnections?: number;
  maxInFlight?: number;
  maxBatch?: number;
  maxWriteBuffer?: number;
  /** Runs every handler call (the daemon's memory upkeep waits for requests in flight). */
  around?: <T>(work: () => Promise<T>) => Promise<T>;
}

interface Connection {
  id: number;
  socket: Socket;
  ctx: RpcContext;
  abort: AbortController;
  inFlight: number;
  subscribed: boolean;
}

/** A zod failure as one line for a person: where and what, never the value. */
function paramsDetail(method: string, issues: readonly { path: PropertyKey[]; message: string }[]): string {
  const first = issues[0];
  if (!first) return `bad params for ${method}`;
  const where = first.path.length > 0 ? first.path.map(String).join(".") : "params";
  return `bad params for ${method}: ${where}: ${first.message}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Why one request object is not a JSON-RPC 2.0 request, or undefined. */
function requestProblem(m: Record<string, unknown>): string | undefined {
  if (m["jsonrpc"] !== "2.0" || typeof m["method"] !== "string")
    return 'not a JSON-RPC 2.0 request (needs "jsonrpc":"2.0" and a method)';
  const id = m["id"];
  if (id !== undefined && id !== null && typeof id !== "string" && typeof id !== "number")
    return "a request whose id is not a string, a number or null";
  if (m["result"] !== undefined || m["error"] !== undefined) return "a response, not a request";
  return undefined;
}

function idOf(v: unknown): JSONRPCID {
  if (!isObject(v)) return null;
  const id = v["id"];
  return typeof id === "string" || typeof id === "number" ? id : null;
}

export class ControlServer extends EventEmitter<{ connections: [count: number] }> {
  private readonly rpc: JSONRPCServer<RpcContext>;
  private readonly conns = new Map<number, Connection>();
  private server: Server | undefined;
  private nextId = 1;
  private readonly maxLineBytes: number;
  private readonly maxConnections: number;
  private readonly maxInFlight: number;
  private readonly maxBatch: number;
  private readonly maxWriteBuffer: number;

  constructor(private readonly o: ControlServerOptions) {
    super();
    // The library reports each thrown error here too; ours are answered, not worth a warning each.
    this.rpc = new JSONRPCServer<RpcContext>({ errorListener: () => {} });
    this.maxLineBytes = o.maxLineBytes ?? MAX_LINE_BYTES;
    this.maxConnections = o.maxConnections ?? 64;
    this.maxInFlight = o.maxInFlight ?? 16;
    this.maxBatch = o.maxBatch ?? 16;
    this.maxWriteBuffer = o.maxWriteBuffer ?? 4 * 1024 * 1024;
    this.rpc.mapErrorToJSONRPCErrorResponse = (id, err) => {
      if (err instanceof JSONRPCErrorException) return { jsonrpc: "2.0", id, error: err.toObject() };
      if (!(err instanceof RpcFailure) && !(err instanceof OpenClawError))
        o.log.error({ err: describeUnexpected(err) }, "a control method failed unexpectedly");
      return toErrorResponse(id, err);
    };
    this.rpc.handleMethodNotFound = async (request) =>
      request.id === undefined
        ? null
        : errorResponse(
            request.id,
            RPC_ERROR.methodNotFound,
            invalidArgument(`unknown control method "${String(request.method).slice(0, 64)}"`),
          );
    for (const name of METHOD_NAMES) this.register(name);
  }

  private register<M extends MethodName>(name: M): void {
    const schema = METHODS[name];
    const handler = this.o.handlers[name];
    this.rpc.addMethod(name, async (params: unknown, ctx: RpcContext) => {
      const parsed = schema.safeParse(params);
      if (!parsed.success)
        throw new RpcFailure(
          RPC_ERROR.invalidParams,
          invalidArgument(paramsDetail(name, parsed.error.issues)),
        );
      const run = async () => handler(parsed.data as ParsedParams<M>, ctx);
      return this.o.around ? this.o.around(run) : run();
    });
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  get socketPath(): string {
    return this.o.socketPath;
  }

  /**
   * Listens on the socket: its directory is made private first (0700, refused if another user's); a
   * socket file left by a dead daemon is replaced, a live one is STATE_LOCKED (another daemon answers).
   */
  async listen(): Promise<void> {
    const path = this.o.socketPath;
    await ensurePrivateDir(dirname(path));
    const existing = await lstat(path).catch(() => undefined);
    if (existing) {
      if (!existing.isSocket())
        throw new OpenClawError("STORAGE", {
          path,
          detail: "a file that is not a socket stands where the control socket goes",
        });
      if (await socketAnswers(path, this.o.clock)) throw new OpenClawError("STATE_LOCKED", { path });
      await unlink(path).catch(() => {});
    }
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => {
        server.off("error", reject);
        resolve();
      });
    });
    // We created this socket: only its owner may connect (the directory already keeps others out).
    await chmod(path, 0o600);
    server.on("error", (err) => this.o.log.error({ err: describeUnexpected(err) }, "control socket error"));
  }

  /** Stops listening, closes every connection and removes the socket file. Idempotent. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const c of this.conns.values()) c.socket.destroy();
    if (server) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await unlink(this.o.socketPath).catch(() => {});
    }
  }

  /** Sends a notification to every subscribed connection. */
  broadcast<N extends NotificationName>(method: N, params: Notifications[N]): void {
    for (const c of this.conns.values()) if (c.subscribed) this.write(c, { jsonrpc: "2.0", method, params });
  }

  private accept(socket: Socket): void {
    if (this.conns.size >= this.maxConnections) {
      socket.end(
        frameLine(
          errorResponse(
            null,
            RPC_ERROR.invalidRequest,
            new OpenClawError("DAEMON_UNAVAILABLE", {
              detail: `it already serves ${this.maxConnections} connections`,
            }),
          ),
        ),
      );
      return;
    }
    const id = this.nextId++;
    const abort = new AbortController();
    const conn: Connection = {
      id,
      socket,
      abort,
      inFlight: 0,
      subscribed: false,
      ctx: {
        connectionId: id,
        signal: abort.signal,
        notify: (method, params) => this.write(conn, { jsonrpc: "2.0", method, params }),
        subscribe: () => {
          conn.subscribed = true;
        },
      },
    };
    this.conns.set(id, conn);
    this.emit("connections", this.conns.size);
    this.o.log.debug({ connection: id }, "control connection opened");
    const splitter = new LineSplitter(this.maxLineBytes);
    socket.on("data", (chunk: Buffer) => {
      for (const ev of splitter.push(chunk)) {
        if (ev.kind === "line") {
          this.onLine(conn, ev.line);
          continue;
        }
        this.o.log.warn(
          { connection: id, bytes: ev.bytes, limit: this.maxLineBytes },
          "control message too long: connection dropped",
        );
        socket.end(
          frameLine(
            errorResponse(
              null,
              RPC_ERROR.invalidRequest,
              new OpenClawError("PROTOCOL_ERROR", {
                detail: `a control message longer than ${this.maxLineBytes} bytes`,
              }),
            ),
          ),
        );
        socket.destroySoon();
      }
    });
    socket.on("error", () => {}); // ECONNRESET from a killed client: "close" follows
    socket.on("close", () => {
      abort.abort(new OpenClawError("CANCELLED", { what: "the request (the client went away)" }));
      this.conns.delete(id);
      this.o.log.debug({ connection: id }, "control connection closed");
      this.emit("connections", this.conns.size);
    });
  }

  private onLine(conn: Connection, line: string): void {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      this.write(
        conn,
        errorResponse(null, RPC_ERROR.parse, new OpenClawError("PROTOCOL_ERROR", { detail: "not JSON" })),
      );
      return;
    }
    const problem = this.shapeProblem(message);
    if (problem) {
      this.write(
        conn,
        errorResponse(
          idOf(message),
          RPC_ERROR.invalidRequest,
          new OpenClawError("PROTOCOL_ERROR", { detail: problem }),
        ),
      );
      return;
    }
    if (conn.inFlight >= this.maxInFlight) {
      this.write(
        conn,
        errorResponse(
          idOf(message),
          RPC_ERROR.invalidRequest,
          new OpenClawError("PROTOCOL_ERROR", {
            detail: `more than ${this.maxInFlight} requests in flight on one connection`,
          }),
        ),
      );
      return;
    }
    conn.inFlight++;
    const requests = message as JSONRPCRequest | JSONRPCRequest[];
    for (const r of Array.isArray(requests) ? requests : [requests])
      this.o.log.debug({ connection: conn.id, method: String(r.method).slice(0, 64) }, "control request");
    Promise.resolve(this.rpc.receive(requests, conn.ctx))
      .then(
        (response) => {
          if (response === null) return;
          // A batch is answered with an array, even when one entry was not a notification (JSON-RPC 2.0 §6).
          if (Array.isArray(requests) && !Array.isArray(response)) response = [response];
          // Failed requests are logged by method and catalogue code (never their params: a code, a key).
          for (const res of Array.isArray(response) ? response : [response]) {
            const data = res.error?.data as { code?: unknown } | undefined;
            if (res.error)
              this.o.log.info(
                { connection: conn.id, code: typeof data?.code === "string" ? data.code : res.error.code },
                "control request failed",
              );
          }
          this.write(conn, response);
        },
        (err: unknown) => {
          this.o.log.error({ err: describeUnexpected(err) }, "control request failed unexpectedly");
          this.write(conn, toErrorResponse(idOf(message), err));
        },
      )
      .finally(() => {
        conn.inFlight--;
      });
  }

  /**
   * Why a parsed message is not a request we take, or undefined. Checked here in full, batch entries
   * too: what json-rpc-2.0 would refuse itself it answers without an OpenClawError in `data`, and it
   * echoes an id of any type.
   */
  private shapeProblem(message: unknown): string | undefined {
    if (Array.isArray(message)) {
      if (message.length === 0) return "an empty batch";
      if (message.length > this.maxBatch) return `a batch of more than ${this.maxBatch} requests`;
      if (!message.every(isObject)) return "a batch entry that is not a request object";
      const problem = message.map(requestProblem).find((p) => p !== undefined);
      return problem === undefined ? undefined : `a batch entry that is ${problem}`;
    }
    if (!isObject(message)) return "not a request object";
    return requestProblem(message);
  }

  private write(conn: Connection, message: JSONRPCResponse | JSONRPCResponse[] | object): void {
    const s = conn.socket;
    if (s.destroyed || !s.writable) return;
    if (s.writableLength > this.maxWriteBuffer) {
      this.o.log.warn({ connection: conn.id }, "control client stopped reading: connection dropped");
      s.destroy();
      return;
    }
    s.write(frameLine(message));
  }
}

/** Whether something listens on a unix socket path (a live daemon), within a short bound. */
export function socketAnswers(path: string, clock: Clock, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    const done = (v: boolean) => {
      clock.clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = clock.setTimeout("control.probe", timeoutMs, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

/** An unexpected error for the log: its class and message (ours never carry secrets), no params. */
function describeUnexpected(err: unknown): { type: string; message: string; stack?: string } {
  if (err instanceof Error)
    return { type: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
  return { type: typeof err, message: String(err).slice(0, 200) };
}
