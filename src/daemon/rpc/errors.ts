/**
 * How errors cross the control socket: every JSON-RPC error response carries an OpenClawError's JSON in
 * `error.data` (code, message, remedy, details), so the CLI rebuilds the same error with
 * OpenClawError.fromJSON and prints the daemon's words. Anything that is not an OpenClawError is a bug:
 * it goes out as INTERNAL with a fixed detail (an exception's text might carry anything) and is logged.
 */
import { createJSONRPCErrorResponse, type JSONRPCErrorResponse, type JSONRPCID } from "json-rpc-2.0";
import { isOpenClawError, OpenClawError } from "../../protocol/errors.js";
import { RPC_ERROR } from "./api.js";

/** Thrown inside the server to answer with a particular JSON-RPC code and an OpenClawError as data. */
export class RpcFailure extends Error {
  constructor(
    readonly rpcCode: number,
    readonly error: OpenClawError,
  ) {
    super(error.message);
  }
}

export function errorResponse(id: JSONRPCID, rpcCode: number, err: OpenClawError): JSONRPCErrorResponse {
  return createJSONRPCErrorResponse(id, rpcCode, err.message, err.toJSON());
}

/** Maps whatever a handler threw to the response a client sees. */
export function toErrorResponse(id: JSONRPCID, err: unknown): JSONRPCErrorResponse {
  if (err instanceof RpcFailure) return errorResponse(id, err.rpcCode, err.error);
  if (isOpenClawError(err)) return errorResponse(id, RPC_ERROR.openclaw, err);
  return errorResponse(
    id,
    RPC_ERROR.internal,
    new OpenClawError("INTERNAL", { detail: "the daemon hit an unexpected error (see its log)" }),
  );
}

export function invalidArgument(detail: string, command?: string): OpenClawError<"INVALID_ARGUMENT"> {
  return new OpenClawError("INVALID_ARGUMENT", command === undefined ? { detail } : { detail, command });
}

export function protocolFailure(rpcCode: number, detail: string): RpcFailure {
  return new RpcFailure(rpcCode, new OpenClawError("PROTOCOL_ERROR", { detail }));
}
