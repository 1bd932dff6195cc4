/**
 * Error responses inside a session carry exactly the body of a cleartext Error message (type 0x7F):
 * same TLV tags, same catalogue wire codes, same bounded details. One catalogue, one encoding, so this
 * reuses the message codec rather than repeating it.
 */
import { type OpenClawError, protocolError } from "../errors.js";
import { decodeMessage, encodeMessage } from "../messages/codec.js";
import { MESSAGE_HEADER, PROTOCOL_VERSION } from "../messages/constants.js";
import { errorToMessage, messageToError } from "../messages/errors.js";
import { MessageType } from "../messages/schema.js";

export function encodeErrorBody(err: OpenClawError): Uint8Array {
  return encodeMessage(errorToMessage(err)).slice(MESSAGE_HEADER);
}

/** Throws PROTOCOL_ERROR on a malformed error body. */
export function decodeErrorBody(body: Uint8Array): OpenClawError {
  const framed = new Uint8Array(MESSAGE_HEADER + body.length);
  framed[0] = PROTOCOL_VERSION;
  framed[1] = MessageType.Error;
  framed.set(body, MESSAGE_HEADER);
  const m = decodeMessage(framed);
  if (m.type !== "Error") throw protocolError("error response: not an error body");
  return messageToError(m);
}
