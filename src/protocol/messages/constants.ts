/**
 * Wire constants of protocol v1. A message is `[version u8][type u8][TLV body]`; the TLV container is
 * src/protocol/codec/tlv.ts (tag u8, length u16 BE, ascending unique tags).
 */

export const PROTOCOL_VERSION = 1;
/** Protocol name and version, the prefix of the SPAKE2+ context, the Noise prologue and HKDF infos. */
export const PROTOCOL_NAME = "OpenClaw-Pair/1";
/** Largest protocol message (header + TLV body) either side accepts or sends. */
export const MAX_MESSAGE = 2048;
/** Bytes before the TLV body. */
export const MESSAGE_HEADER = 2;

// The message types and their fields: MESSAGE_TABLE in ./schema.ts.

export const DEVICE_ID_LEN = 8;
export const CONTROLLER_ID_LEN = 16;
export const WINDOW_NONCE_LEN = 16;
export const TAG_KEY_LEN = 16;
/** SEC1 uncompressed P-256 point (SPAKE2+ shares X, Y and the registration record L). */
export const P256_POINT_LEN = 65;
/** HMAC-SHA256 output (SPAKE2+ confirmations). */
export const CONFIRM_LEN = 32;
export const X25519_KEY_LEN = 32;
export const AEAD_TAG_LEN = 16;

/** PBKDF2 iteration bounds (Matter's range); the device publishes its count in the info payload. */
export const MIN_PBKDF2_ITERATIONS = 1000;
export const MAX_PBKDF2_ITERATIONS = 100_000;

/** Longest UTF-8 name, model or firmware string, in bytes. */
export const MAX_TEXT = 64;
