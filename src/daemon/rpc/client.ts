/**
 * The CLI's end of the control API: one unix-socket connection, typed calls (api.ts), notifications by
 * name. An error response is rebuilt with OpenClawError.fromJSON from `error.data`, so the CLI prints the
 * daemon's words; a connection that cannot be made or that drops is DAEMON_UNAVAILABLE naming the socket.
 */
import { connect, type Socket } from "node:net";
import { JSONRPCClient, type JSONRPCResponse } from "json-rpc-2.0";
import type { Clock } from "../../clock/index.js";
import { OpenClawError } from "../../protocol/errors.js";
import type { MethodName, NotificationName, Notifications, Params, Results } from "./api.js";
import { frameLine, LineSplitter } from "./framing.js";

/** Responses can be larger than requests (a long bond list); still bounded. */
const CLIENT_MAX_LINE = 4 * 1024 * 1024;

type Listener<N extends NotificationName> = (params: Notifications[N]) => void;

function unavailable(socketPath: string, detail: string): OpenClawError<"DAEMON_UNAVAILABLE"> {
  return new OpenClawError("DAEMON_UNAVAILABLE", { detail, socket: socketPath });
}

/** Why connecting failed, for a person. */
function connectDetail(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case "ENOENT":
      return "no daemon is running (its socket does not exist)";
    case "ECONNREFUSED":
      return "no daemon is listening on its socket (it may have crashed)";
    case "EACCES":
    case "EPERM":
      return "permission denied: the socket belongs to another user";
    default:
      return err.code ? `cannot connect (${err.code})` : "cannot connect";
  }
}

export interface CallOptions {
  /** Give up after this long (DAEMON_UNAVAILABLE naming the method); default: wait as long as it runs. */
  timeoutMs?: number;
}

export class RpcClient {
  private readonly rpc: JSONRPCClient;
  private readonly listeners = new Map<string, Set<(params: never) => void>>();
  private readonly closeListeners = new Set<(err: OpenClawError) => void>();
  private closedWith: OpenClawError | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly socketPath: string,
    private readonly clock: Clock,
  ) {
    this.rpc = new JSONRPCClient((payload: unknown) => {
      if (this.closedWith) throw this.closedWith;
      socket.write(frameLine(payload));
    });
    const splitter = new LineSplitter(CLIENT_MAX_LINE);
    socket.on("data", (chunk: Buffer) => {
      for (const ev of splitter.push(chunk)) {
        if (ev.kind === "overflow") {
          this.fail(unavailable(socketPath, "the daemon sent an oversized message"));
          socket.destroy();
          return;
        }
        this.onLine(ev.line);
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => this.fail(unavailable(socketPath, "the daemon closed the connection")));
  }

  /** Connects within `timeoutMs`; DAEMON_UNAVAILABLE (with the reason) when nothing answers. */
  static connect(socketPath: string, clock: Clock, timeoutMs = 3000): Promise<RpcClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath);
      const timer = clock.setTimeout("control.connect", timeoutMs, () => {
        socket.destroy();
        reject(unavailable(socketPath, `it did not accept a connection within ${timeoutMs} ms`));
      });
      socket.once("connect", () => {
        clock.clearTimeout(timer);
        socket.removeAllListeners("error");
        resolve(new RpcClient(socket, socketPath, clock));
      });
      socket.once("error", (err: NodeJS.ErrnoException) => {
        clock.clearTimeout(timer);
        reject(unavailable(socketPath, connectDetail(err)));
      });
    });
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Calls a method; resolves with its result or rejects with the OpenClawError the daemon answered. */
  async call<M extends MethodName>(method: M, params?: Params<M>, o: CallOptions = {}): Promise<Results[M]> {
    if (this.closedWith) throw this.closedWith;
    const request = this.rpc.requestAdvanced({
      jsonrpc: "2.0",
      id: this.nextId(),
      method,
      ...(params === undefined ? {} : { params }),
    });
    let response: JSONRPCResponse;
    if (o.timeoutMs === undefined) {
      response = await request;
    } else {
      const ms = o.timeoutMs;
      let timer: ReturnType<Clock["setTimeout"]> | undefined;
      response = await Promise.race([
        request,
        new Promise<never>((_, reject) => {
          timer = this.clock.setTimeout(`control.call.${method}`, ms, () =>
            reject(unavailable(this.socketPath, `it did not answer ${method} within ${ms} ms`)),
          );
        }),
      ]).finally(() => this.clock.clearTimeout(timer));
    }
    if (response.error) {
      if (response.error.data !== undefined) throw OpenClawError.fromJSON(response.error.data);
      if (this.closedWith) throw this.closedWith;
      throw new OpenClawError("INTERNAL", { detail: `the daemon answered ${method} with a bare error` });
    }
    return response.result as Results[M];
  }

  /** Listens for a notification; returns a function that stops listening. */
  on<N extends NotificationName>(method: N, listener: Listener<N>): () => void {
    let set = this.listeners.get(method);
    if (!set) {
      set = new Set();
      this.listeners.set(method, set);
    }
    set.add(listener as (params: never) => void);
    return () => set.delete(listener as (params: never) => void);
  }

  /** Called once when the connection ends (the daemon stopped or the socket closed). */
  onClose(listener: (err: OpenClawError) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  close(): void {
    this.socket.end();
    this.socket.destroySoon();
  }

  private idCounter = 1;
  private nextId(): number {
    return this.idCounter++;
  }

  private onLine(line: string): void {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      return; // the daemon never sends this; ignoring beats crashing the CLI mid-prompt
    }
    if (typeof message !== "object" || message === null) return;
    const m = message as { method?: unknown; params?: unknown; id?: unknown };
    if (typeof m.method === "string" && m.id === undefined) {
      for (const l of this.listeners.get(m.method) ?? []) (l as (p: unknown) => void)(m.params);
      return;
    }
    this.rpc.receive(message as JSONRPCResponse);
  }

  private fail(err: OpenClawError): void {
    if (this.closedWith) return;
    this.closedWith = err;
    this.rpc.rejectAllPendingRequests(err.message);
    for (const l of [...this.closeListeners]) l(err);
  }
}
