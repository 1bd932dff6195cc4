import { protocolError } from "../errors.js";
import type { RandomBytes } from "../random.js";
import {
  AEAD_KEY_LEN,
  AEAD_TAG_LEN,
  chachaPolyDecrypt,
  chachaPolyEncrypt,
  concatBytes,
  hmacSha256,
  sha256,
  utf8,
  X25519_KEY_LEN,
  x25519,
  x25519PublicKey,
} from "./primitives.js";

/**
 * Noise_KK_25519_ChaChaPoly_SHA256 (The Noise Protocol Framework, revision 34): CipherState,
 * SymmetricState and HandshakeState for the one pattern we use, plus the transport phase with Rekey.
 *
 *   KK:  -> s
 *        <- s
 *        ...
 *        -> e, es, ss
 *        <- e, ee, se
 *
 * Both sides know each other's static key beforehand (from pair-setup), so message 1 only decrypts for
 * a responder holding the right initiator key: the accessory finds the calling bond by trial decryption.
 */

export const NOISE_PROTOCOL_NAME = "Noise_KK_25519_ChaChaPoly_SHA256";
const HASHLEN = 32;
const DHLEN = X25519_KEY_LEN;
/** Noise §5.1: nonce 2^64-1 is reserved (used by Rekey); a CipherState that reaches it is exhausted. */
const MAX_NONCE = 0xffff_ffff_ffff_ffffn;
const EMPTY = new Uint8Array(0);
/** Noise §3: a message is at most 65535 bytes. */
export const NOISE_MAX_MESSAGE = 65535;

export interface KeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

export function keyPairFromPrivateKey(privateKey: Uint8Array): KeyPair {
  return { privateKey: privateKey.slice(), publicKey: x25519PublicKey(privateKey) };
}

/** A fresh X25519 key pair from injected randomness (clamping is applied by X25519 itself). */
export function generateKeyPair(random: RandomBytes): KeyPair {
  return keyPairFromPrivateKey(random(DHLEN));
}

/** Noise §4.3 HKDF with two outputs: HMAC-based, chaining key as the HMAC key. */
function hkdf2(chainingKey: Uint8Array, ikm: Uint8Array): [Uint8Array, Uint8Array] {
  const tempKey = hmacSha256(chainingKey, ikm);
  const out1 = hmacSha256(tempKey, Uint8Array.of(1));
  const out2 = hmacSha256(tempKey, out1, Uint8Array.of(2));
  return [out1, out2];
}

/**
 * Noise §5.1 CipherState with a key (the handshake's key-less phase lives in SymmetricState, so a
 * CipherState can never silently pass plaintext through) and the 64-bit nonce n.
 */
export class CipherState {
  #k: Uint8Array;
  #n = 0n;

  constructor(key: Uint8Array) {
    if (key.length !== AEAD_KEY_LEN) throw new RangeError("a CipherState key is 32 bytes");
    this.#k = key.slice();
  }

  get nonce(): bigint {
    return this.#n;
  }

  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (plaintext.length + AEAD_TAG_LEN > NOISE_MAX_MESSAGE) throw protocolError("Noise message too long");
    if (this.#n >= MAX_NONCE)
      throw protocolError("Noise nonce exhausted; the session must be re-established");
    const ct = chachaPolyEncrypt(this.#k, this.#n, ad, plaintext);
    this.#n += 1n;
    return ct;
  }

  /** Throws PROTOCOL_ERROR on a bad tag; the nonce then stays where it was (Noise §5.1). */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    if (ciphertext.length > NOISE_MAX_MESSAGE) throw protocolError("Noise message too long");
    if (this.#n >= MAX_NONCE)
      throw protocolError("Noise nonce exhausted; the session must be re-established");
    const pt = chachaPolyDecrypt(this.#k, this.#n, ad, ciphertext);
    this.#n += 1n;
    return pt;
  }

  /** Noise §11.3: k = first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zero bytes). The nonce is kept. */
  rekey(): void {
    const next = chachaPolyEncrypt(this.#k, MAX_NONCE, EMPTY, new Uint8Array(AEAD_KEY_LEN)).slice(
      0,
      AEAD_KEY_LEN,
    );
    this.#k.fill(0);
    this.#k = next;
  }

  /** For tests: a nonce set explicitly (Noise §5.1 SetNonce). */
  setNonce(n: bigint): void {
    if (n < 0n || n > MAX_NONCE) throw new RangeError("nonce out of range");
    this.#n = n;
  }
}

/** Noise §5.2. */
class SymmetricState {
  #ck: Uint8Array;
  #h: Uint8Array;
  /** None until the first MixKey: EncryptAndHash is then the identity (Noise §5.2). */
  #cipher: CipherState | null = null;

  constructor(protocolName: string) {
    const name = utf8(protocolName);
    if (name.length <= HASHLEN) {
      this.#h = new Uint8Array(HASHLEN);
      this.#h.set(name);
    } else {
      this.#h = sha256(name);
    }
    this.#ck = this.#h.slice();
  }

  get h(): Uint8Array {
    return this.#h.slice();
  }

  mixKey(ikm: Uint8Array): void {
    const [ck, k] = hkdf2(this.#ck, ikm);
    this.#ck = ck;
    this.#cipher = new CipherState(k);
  }

  mixHash(data: Uint8Array): void {
    this.#h = sha256(this.#h, data);
  }

  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ct = this.#cipher ? this.#cipher.encryptWithAd(this.#h, plaintext) : plaintext.slice();
    this.mixHash(ct);
    return ct;
  }

  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const pt = this.#cipher ? this.#cipher.decryptWithAd(this.#h, ciphertext) : ciphertext.slice();
    this.mixHash(ciphertext);
    return pt;
  }

  split(): [CipherState, CipherState] {
    const [k1, k2] = hkdf2(this.#ck, EMPTY);
    this.#ck.fill(0);
    return [new CipherState(k1), new CipherState(k2)];
  }
}

type HandshakeState =
  | { kind: "initiator-write-1" }
  | { kind: "responder-read-1" }
  | { kind: "initiator-read-2"; e: KeyPair }
  | { kind: "responder-write-2"; re: Uint8Array }
  | {
      kind: "complete";
      handshakeHash: Uint8Array;
      initiatorToResponder: CipherState;
      responderToInitiator: CipherState;
    }
  | { kind: "split"; handshakeHash: Uint8Array }
  | { kind: "failed" };

export interface NoiseKKOptions {
  initiator: boolean;
  prologue: Uint8Array;
  /** Our static key pair. */
  s: KeyPair;
  /** The peer's static public key (known from pair-setup). */
  rs: Uint8Array;
  random: RandomBytes;
  /** A fixed ephemeral key pair, for vectors only; otherwise generated from `random` when needed. */
  e?: KeyPair;
}

/** Noise §5.3 HandshakeState for the KK pattern, one object per side and per attempt. */
export class NoiseKK {
  readonly #o: NoiseKKOptions;
  readonly #ss: SymmetricState;
  #state: HandshakeState;
  #generated: KeyPair | null = null;

  constructor(o: NoiseKKOptions) {
    if (o.s.privateKey.length !== DHLEN || o.s.publicKey.length !== DHLEN || o.rs.length !== DHLEN) {
      throw new RangeError("Noise KK keys are 32 bytes");
    }
    this.#o = o;
    this.#ss = new SymmetricState(NOISE_PROTOCOL_NAME);
    this.#ss.mixHash(o.prologue);
    // Pre-messages: -> s, <- s (initiator's static first).
    const initiatorStatic = o.initiator ? o.s.publicKey : o.rs;
    const responderStatic = o.initiator ? o.rs : o.s.publicKey;
    this.#ss.mixHash(initiatorStatic);
    this.#ss.mixHash(responderStatic);
    this.#state = o.initiator ? { kind: "initiator-write-1" } : { kind: "responder-read-1" };
  }

  get complete(): boolean {
    return this.#state.kind === "complete" || this.#state.kind === "split";
  }

  get handshakeHash(): Uint8Array {
    if (this.#state.kind !== "complete" && this.#state.kind !== "split") {
      throw protocolError("Noise handshake not complete");
    }
    return this.#state.handshakeHash.slice();
  }

  #ephemeral(): KeyPair {
    if (this.#o.e) return this.#o.e;
    this.#generated = generateKeyPair(this.#o.random);
    return this.#generated;
  }

  /** Forget a generated ephemeral private key once the handshake is over (forward secrecy). */
  #wipeEphemeral(): void {
    this.#generated?.privateKey.fill(0);
    this.#generated = null;
  }

  #dh(own: KeyPair, peerPublicKey: Uint8Array): Uint8Array {
    return x25519(own, peerPublicKey);
  }

  writeMessage(payload: Uint8Array): Uint8Array {
    const before = this.#state.kind;
    try {
      return this.#writeMessage(payload);
    } catch (err) {
      if (before === "initiator-write-1" || before === "responder-write-2") this.#fail();
      throw err;
    }
  }

  #writeMessage(payload: Uint8Array): Uint8Array {
    const st = this.#state;
    const ss = this.#ss;
    switch (st.kind) {
      case "initiator-write-1": {
        // -> e, es, ss
        const e = this.#ephemeral();
        ss.mixHash(e.publicKey);
        ss.mixKey(this.#dh(e, this.#o.rs));
        ss.mixKey(this.#dh(this.#o.s, this.#o.rs));
        const body = ss.encryptAndHash(payload);
        this.#state = { kind: "initiator-read-2", e };
        return concatBytes(e.publicKey, body);
      }
      case "responder-write-2": {
        // <- e, ee, se
        const e = this.#ephemeral();
        ss.mixHash(e.publicKey);
        ss.mixKey(this.#dh(e, st.re));
        ss.mixKey(this.#dh(e, this.#o.rs));
        const body = ss.encryptAndHash(payload);
        this.#finish();
        return concatBytes(e.publicKey, body);
      }
      default:
        throw protocolError("Noise handshake message written out of turn");
    }
  }

  /** Throws PROTOCOL_ERROR (no details) on any failure; the handshake is then dead. */
  readMessage(message: Uint8Array): Uint8Array {
    const st = this.#state;
    const ss = this.#ss;
    if (st.kind !== "responder-read-1" && st.kind !== "initiator-read-2") {
      throw protocolError("Noise handshake message received out of turn");
    }
    if (message.length < DHLEN + AEAD_TAG_LEN || message.length > NOISE_MAX_MESSAGE) {
      this.#fail();
      throw protocolError("Noise handshake message has a bad length");
    }
    const re = message.subarray(0, DHLEN).slice();
    const body = message.subarray(DHLEN);
    try {
      ss.mixHash(re);
      if (st.kind === "responder-read-1") {
        // -> e, es, ss
        ss.mixKey(this.#dh(this.#o.s, re));
        ss.mixKey(this.#dh(this.#o.s, this.#o.rs));
        const payload = ss.decryptAndHash(body);
        this.#state = { kind: "responder-write-2", re };
        return payload;
      }
      // <- e, ee, se
      ss.mixKey(this.#dh(st.e, re));
      ss.mixKey(this.#dh(this.#o.s, re));
      const payload = ss.decryptAndHash(body);
      this.#finish();
      return payload;
    } catch {
      this.#fail();
      throw protocolError("Noise handshake failed");
    }
  }

  /** The transport CipherStates, oriented for this side. Callable once. */
  split(): { send: CipherState; recv: CipherState } {
    const st = this.#state;
    if (st.kind !== "complete") throw protocolError("Noise split before the handshake completed");
    this.#state = { kind: "split", handshakeHash: st.handshakeHash };
    return this.#o.initiator
      ? { send: st.initiatorToResponder, recv: st.responderToInitiator }
      : { send: st.responderToInitiator, recv: st.initiatorToResponder };
  }

  #fail(): void {
    this.#wipeEphemeral();
    this.#state = { kind: "failed" };
  }

  #finish(): void {
    this.#wipeEphemeral();
    const [c1, c2] = this.#ss.split();
    this.#state = {
      kind: "complete",
      handshakeHash: this.#ss.h,
      initiatorToResponder: c1,
      responderToInitiator: c2,
    };
  }
}
