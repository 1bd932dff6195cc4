import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  timingSafeEqual,
} from "node:crypto";
import { protocolError } from "../errors.js";

/**
 * Thin wrappers over node:crypto so the protocol code works on Uint8Array only. Every failure that a
 * peer can provoke (bad tag, bad key) becomes PROTOCOL_ERROR without details: an error message must
 * never help an attacker tell one failure from another, nor carry key material.
 */

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

export function hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac("sha256", key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** RFC 5869 HKDF-SHA256. An empty salt means "HashLen zero bytes" (RFC 5869 §2.2), which node applies. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", ikm, salt, info, length));
}

/** Constant-time equality; different lengths compare unequal (length is not secret here). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

// ---- ChaCha20-Poly1305 (RFC 8439) with the Noise nonce layout ----

export const AEAD_KEY_LEN = 32;
export const AEAD_TAG_LEN = 16;

/** Noise §12.3: 32 bits of zeros followed by the 64-bit little-endian counter. */
function noiseNonce(n: bigint): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64LE(n, 4);
  return nonce;
}

export function chachaPolyEncrypt(
  key: Uint8Array,
  n: bigint,
  ad: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  const c = createCipheriv("chacha20-poly1305", key, noiseNonce(n), { authTagLength: AEAD_TAG_LEN });
  c.setAAD(ad, { plaintextLength: plaintext.length });
  const body = c.update(plaintext);
  c.final();
  return concatBytes(body, c.getAuthTag());
}

/** Throws PROTOCOL_ERROR (no details) when the tag does not verify. */
export function chachaPolyDecrypt(
  key: Uint8Array,
  n: bigint,
  ad: Uint8Array,
  ciphertext: Uint8Array,
): Uint8Array {
  if (ciphertext.length < AEAD_TAG_LEN) throw protocolError("message could not be decrypted");
  const bodyLen = ciphertext.length - AEAD_TAG_LEN;
  try {
    const d = createDecipheriv("chacha20-poly1305", key, noiseNonce(n), { authTagLength: AEAD_TAG_LEN });
    d.setAAD(ad, { plaintextLength: bodyLen });
    d.setAuthTag(ciphertext.subarray(bodyLen));
    const body = d.update(ciphertext.subarray(0, bodyLen));
    d.final();
    return new Uint8Array(body);
  } catch {
    throw protocolError("message could not be decrypted");
  }
}

// ---- X25519 (RFC 7748) ----

export const X25519_KEY_LEN = 32;
// DER prefix for a raw X25519 private key in PKCS#8 (RFC 8410). Decoding DER is ~10x slower in
// OpenSSL 3 than JWK, so DER is used only to derive a public key; Diffie-Hellman imports JWK.
const PKCS8_X25519_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

function b64url(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64url");
}

export function x25519PublicKey(privateKey: Uint8Array): Uint8Array {
  if (privateKey.length !== X25519_KEY_LEN) throw new RangeError("an X25519 private key is 32 bytes");
  const priv = createPrivateKey({
    key: Buffer.concat([PKCS8_X25519_PREFIX, privateKey]),
    format: "der",
    type: "pkcs8",
  });
  const spki = createPublicKey(priv).export({ format: "der", type: "spki" });
  return new Uint8Array(spki.subarray(spki.length - X25519_KEY_LEN));
}

/**
 * X25519(own private key, peer public key). A peer key of the wrong length or one that yields the
 * all-zero output (a small-order point, which OpenSSL refuses) is a peer fault: PROTOCOL_ERROR.
 */
export function x25519(
  own: { privateKey: Uint8Array; publicKey: Uint8Array },
  peerPublicKey: Uint8Array,
): Uint8Array {
  if (own.privateKey.length !== X25519_KEY_LEN || own.publicKey.length !== X25519_KEY_LEN) {
    throw new RangeError("X25519 keys are 32 bytes");
  }
  if (peerPublicKey.length !== X25519_KEY_LEN) throw protocolError("bad public key length");
  const privateKey = createPrivateKey({
    key: { kty: "OKP", crv: "X25519", d: b64url(own.privateKey), x: b64url(own.publicKey) },
    format: "jwk",
  });
  let shared: Buffer;
  try {
    const publicKey = createPublicKey({
      key: { kty: "OKP", crv: "X25519", x: b64url(peerPublicKey) },
      format: "jwk",
    });
    shared = diffieHellman({ privateKey, publicKey });
  } catch {
    throw protocolError("bad public key");
  }
  const out = new Uint8Array(shared);
  if (out.every((b) => b === 0)) throw protocolError("bad public key");
  return out;
}
