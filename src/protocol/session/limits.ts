/**
 * Limits and constants of the encrypted session (protocol v1). Both sides use the same numbers; tests
 * may lower the rekey bounds on both sides at once to exercise rekeying quickly.
 */
import { AEAD_TAG_LEN, MAX_MESSAGE, MESSAGE_HEADER } from "../messages/constants.js";

/** Session flags byte (cleartext, authenticated as associated data). */
export const SESSION_FLAG_REKEY = 0x01;
/** Bits a v1 sender may set; any other bit is a protocol error. */
export const SESSION_FLAGS_KNOWN = SESSION_FLAG_REKEY;

/** A sender rekeys before its 1001st message under one key; a receiver refuses a 1001st without REKEY. */
export const REKEY_AFTER_MESSAGES = 1000;
/** A sender also rekeys when its current key is older than this (its own monotonic clock). */
export const REKEY_AFTER_MS = 10 * 60 * 1000;

/** Session message = header (2) + flags item (3 + 1) + ciphertext item header (3) + ciphertext. */
const SESSION_OVERHEAD = MESSAGE_HEADER + 4 + 3;
/** Largest ciphertext that fits a protocol message. */
export const MAX_SESSION_CIPHERTEXT = MAX_MESSAGE - SESSION_OVERHEAD;
/** Largest plaintext (one encoded session payload) either side sends or accepts: 2023 bytes. */
export const MAX_SESSION_PLAINTEXT = MAX_SESSION_CIPHERTEXT - AEAD_TAG_LEN;
/** Largest opaque application payload in one app request, response or notification. */
export const MAX_APP_PAYLOAD = 1024;

export interface RekeyPolicy {
  /** Messages a sender sends under one key before it rekeys (receiver's hard limit too). */
  afterMessages: number;
  /** Age of a send key after which the sender rekeys. */
  afterMs: number;
}

export const DEFAULT_REKEY_POLICY: RekeyPolicy = {
  afterMessages: REKEY_AFTER_MESSAGES,
  afterMs: REKEY_AFTER_MS,
};
