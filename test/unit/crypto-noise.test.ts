import { createCipheriv } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromHex as h, toHex } from "../../src/protocol/bytes.js";
import {
  CipherState,
  generateKeyPair,
  type KeyPair,
  keyPairFromPrivateKey,
  NoiseKK,
} from "../../src/protocol/crypto/noise.js";
import { isOpenClawError } from "../../src/protocol/errors.js";
import { seededRandom } from "../../src/protocol/random.js";
import { expectProtocolError } from "../helpers/errors.js";
import { KK_VECTOR } from "../helpers/published-vectors.js";

const KK = KK_VECTOR;

const noRandom = (): Uint8Array => {
  throw new Error("no randomness expected");
};
const empty = new Uint8Array(0);
const enc = new TextEncoder();
const prologue = enc.encode("OpenClaw-Pair/1 device-1234");

function keys(seed: string): { controller: KeyPair; accessory: KeyPair } {
  const r = seededRandom(seed);
  return { controller: generateKeyPair(r), accessory: generateKeyPair(r) };
}

function sides(seed: string, over: { rsOfAccessory?: Uint8Array; rsOfController?: Uint8Array } = {}) {
  const k = keys(seed);
  const controller = new NoiseKK({
    initiator: true,
    prologue,
    s: k.controller,
    rs: over.rsOfController ?? k.accessory.publicKey,
    random: seededRandom(`${seed}/ce`),
  });
  const accessory = new NoiseKK({
    initiator: false,
    prologue,
    s: k.accessory,
    rs: over.rsOfAccessory ?? k.controller.publicKey,
    random: seededRandom(`${seed}/ae`),
  });
  return { controller, accessory, k };
}

function handshake(seed: string) {
  const { controller, accessory } = sides(seed);
  accessory.readMessage(controller.writeMessage(enc.encode("hello")));
  controller.readMessage(accessory.writeMessage(enc.encode("welcome")));
  return { c: controller.split(), a: accessory.split(), controller, accessory };
}

describe("Noise KK cacophony vector", () => {
  it("reproduces every message and the handshake hash byte for byte, both ways", () => {
    const initiator = new NoiseKK({
      initiator: true,
      prologue: h(KK.init_prologue),
      s: keyPairFromPrivateKey(h(KK.init_static)),
      rs: h(KK.init_remote_static),
      e: keyPairFromPrivateKey(h(KK.init_ephemeral)),
      random: noRandom,
    });
    const responder = new NoiseKK({
      initiator: false,
      prologue: h(KK.init_prologue),
      s: keyPairFromPrivateKey(h(KK.resp_static)),
      rs: h(KK.resp_remote_static),
      e: keyPairFromPrivateKey(h(KK.resp_ephemeral)),
      random: noRandom,
    });
    const [m0, m1, ...transport] = KK.messages;
    expect(toHex(initiator.writeMessage(h(m0!.payload)))).toBe(m0!.ciphertext);
    expect(toHex(responder.readMessage(h(m0!.ciphertext)))).toBe(m0!.payload);
    expect(initiator.complete).toBe(false);
    expect(toHex(responder.writeMessage(h(m1!.payload)))).toBe(m1!.ciphertext);
    expect(toHex(initiator.readMessage(h(m1!.ciphertext)))).toBe(m1!.payload);
    expect(initiator.complete && responder.complete).toBe(true);
    expect(toHex(initiator.handshakeHash)).toBe(KK.handshake_hash);
    expect(toHex(responder.handshakeHash)).toBe(KK.handshake_hash);
    const i = initiator.split();
    const r = responder.split();
    transport.forEach((m, idx) => {
      const [send, recv] = idx % 2 === 0 ? [i.send, r.recv] : [r.send, i.recv];
      expect(toHex(send.encryptWithAd(empty, h(m.payload)))).toBe(m.ciphertext);
      expect(toHex(recv.decryptWithAd(empty, h(m.ciphertext)))).toBe(m.payload);
    });
  });
});

describe("Noise KK handshake and transport", () => {
  it("round-trips payloads in the handshake and both transport directions", () => {
    const { controller, accessory } = sides("rt");
    const m1 = controller.writeMessage(enc.encode("verify please"));
    expect(m1).toHaveLength(32 + 13 + 16);
    expect(new TextDecoder().decode(accessory.readMessage(m1))).toBe("verify please");
    const m2 = accessory.writeMessage(empty);
    expect(controller.readMessage(m2)).toHaveLength(0);
    expect(toHex(controller.handshakeHash)).toBe(toHex(accessory.handshakeHash));
    const c = controller.split();
    const a = accessory.split();
    for (let n = 0; n < 20; n++) {
      const up = enc.encode(`command ${n}`);
      expect(a.recv.decryptWithAd(empty, c.send.encryptWithAd(empty, up))).toEqual(up);
      const down = enc.encode(`reply ${n}`);
      expect(c.recv.decryptWithAd(empty, a.send.encryptWithAd(empty, down))).toEqual(down);
    }
    expect(c.send.nonce).toBe(20n);
    expect(a.recv.nonce).toBe(20n);
  });

  it("fresh ephemerals give each run its own handshake hash and transport keys", () => {
    const k = keys("fresh");
    const run = (seed: string) => {
      const c = new NoiseKK({
        initiator: true,
        prologue,
        s: k.controller,
        rs: k.accessory.publicKey,
        random: seededRandom(`${seed}/c`),
      });
      const a = new NoiseKK({
        initiator: false,
        prologue,
        s: k.accessory,
        rs: k.controller.publicKey,
        random: seededRandom(`${seed}/a`),
      });
      a.readMessage(c.writeMessage(empty));
      c.readMessage(a.writeMessage(empty));
      return {
        hash: toHex(c.handshakeHash),
        ct: toHex(c.split().send.encryptWithAd(empty, enc.encode("same"))),
      };
    };
    const one = run("run-1");
    const two = run("run-2");
    expect(one.hash).not.toBe(two.hash);
    expect(one.ct).not.toBe(two.ct);
  });

  it("a tampered handshake message fails to decrypt with PROTOCOL_ERROR and kills the handshake", () => {
    for (const at of [0, 31, 32, 40]) {
      const { controller, accessory } = sides(`tamper-${at}`);
      const m1 = controller.writeMessage(enc.encode("hello"));
      m1[at]! ^= 0x01;
      const err = expectProtocolError(() => accessory.readMessage(m1));
      expect(err.message).not.toMatch(/[0-9a-f]{16}/);
      expectProtocolError(() => accessory.writeMessage(empty));
    }
    const { controller, accessory } = sides("tamper-2");
    accessory.readMessage(controller.writeMessage(empty));
    const m2 = accessory.writeMessage(empty);
    m2[m2.length - 1]! ^= 0x80;
    expectProtocolError(() => controller.readMessage(m2));
  });

  it("truncated or oversized handshake messages are refused", () => {
    const { controller, accessory } = sides("short");
    const m1 = controller.writeMessage(empty);
    expectProtocolError(() => accessory.readMessage(m1.subarray(0, 47)));
    expectProtocolError(() => sides("long").accessory.readMessage(new Uint8Array(65536)));
  });

  it("a tampered transport message fails without moving the nonce; the next good one still decrypts", () => {
    const { c, a } = handshake("transport-tamper");
    const ct = c.send.encryptWithAd(empty, enc.encode("open claw"));
    const bad = ct.slice();
    bad[0]! ^= 1;
    const err = expectProtocolError(() => a.recv.decryptWithAd(empty, bad));
    expect(err.message).not.toContain("open claw");
    expectProtocolError(() => a.recv.decryptWithAd(empty, ct.subarray(0, 15)));
    expectProtocolError(() => a.recv.decryptWithAd(enc.encode("other ad"), ct));
    expect(a.recv.nonce).toBe(0n);
    expect(new TextDecoder().decode(a.recv.decryptWithAd(empty, ct))).toBe("open claw");
    // A replay of the same ciphertext is refused (the nonce moved on).
    expectProtocolError(() => a.recv.decryptWithAd(empty, ct));
  });

  it("a responder holding the wrong initiator static key cannot decrypt message 1 (trial decryption finds the bond)", () => {
    const { controller, k } = sides("bonds");
    const r = seededRandom("other bonds");
    const others = [generateKeyPair(r).publicKey, generateKeyPair(r).publicKey];
    const bonds = [others[0]!, k.controller.publicKey, others[1]!];
    const m1 = controller.writeMessage(enc.encode("it's me"));
    const matches = bonds.map((rs) => {
      const attempt = new NoiseKK({
        initiator: false,
        prologue,
        s: k.accessory,
        rs,
        random: seededRandom("a"),
      });
      try {
        attempt.readMessage(m1);
        return true;
      } catch (err) {
        expect(isOpenClawError(err) && err.code).toBe("PROTOCOL_ERROR");
        return false;
      }
    });
    expect(matches).toEqual([false, true, false]);
  });

  it("an initiator with the wrong responder key, or a different prologue, is refused", () => {
    const wrong = generateKeyPair(seededRandom("stranger")).publicKey;
    const s1 = sides("wrong-rs", { rsOfController: wrong });
    expectProtocolError(() => s1.accessory.readMessage(s1.controller.writeMessage(empty)));
    const k = keys("prologue");
    const controller = new NoiseKK({
      initiator: true,
      prologue: enc.encode("OpenClaw-Pair/1 other-device"),
      s: k.controller,
      rs: k.accessory.publicKey,
      random: seededRandom("p"),
    });
    const accessory = new NoiseKK({
      initiator: false,
      prologue,
      s: k.accessory,
      rs: k.controller.publicKey,
      random: seededRandom("q"),
    });
    expectProtocolError(() => accessory.readMessage(controller.writeMessage(empty)));
  });

  it("a small-order ephemeral key is refused", () => {
    const { accessory } = sides("low-order");
    expectProtocolError(() => accessory.readMessage(new Uint8Array(48)));
  });

  it("enforces message order and split only after completion", () => {
    const { controller, accessory } = sides("order");
    expectProtocolError(() => controller.readMessage(new Uint8Array(48)));
    expectProtocolError(() => accessory.writeMessage(empty));
    expectProtocolError(() => controller.split());
    expectProtocolError(() => controller.handshakeHash);
    const m1 = controller.writeMessage(empty);
    expectProtocolError(() => controller.writeMessage(empty));
    accessory.readMessage(m1);
    controller.readMessage(accessory.writeMessage(empty));
    const hash = controller.handshakeHash;
    controller.split();
    expectProtocolError(() => controller.split());
    expect(controller.handshakeHash).toEqual(hash);
  });
});

describe("Noise rekey and nonces", () => {
  it("rekey is ENCRYPT(k, 2^64-1, empty, 32 zeros)[0..32] and keeps the nonce", () => {
    const k = h("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    const nonce = Buffer.alloc(12);
    nonce.writeBigUInt64LE(0xffff_ffff_ffff_ffffn, 4);
    const c = createCipheriv("chacha20-poly1305", k, nonce, { authTagLength: 16 });
    const expectedKey = Buffer.concat([c.update(Buffer.alloc(32)), c.final()]).subarray(0, 32);

    const cs = new CipherState(k);
    cs.encryptWithAd(empty, empty);
    cs.rekey();
    expect(cs.nonce).toBe(1n);
    const reference = new CipherState(expectedKey);
    reference.setNonce(1n);
    const pt = enc.encode("after rekey");
    expect(toHex(cs.encryptWithAd(empty, pt))).toBe(toHex(reference.encryptWithAd(empty, pt)));
  });

  it("both sides rekeying stay in sync and the keys change", () => {
    const { c, a } = handshake("rekey");
    const twin = handshake("rekey"); // identical keys, never rekeyed
    c.send.encryptWithAd(empty, empty);
    a.recv.decryptWithAd(empty, twin.c.send.encryptWithAd(empty, empty));
    c.send.rekey();
    a.recv.rekey();
    const msg = enc.encode("after rekey");
    const ct = c.send.encryptWithAd(empty, msg);
    expect(toHex(ct)).not.toBe(toHex(twin.c.send.encryptWithAd(empty, msg)));
    expectProtocolError(() => twin.a.recv.decryptWithAd(empty, ct));
    expect(a.recv.decryptWithAd(empty, ct)).toEqual(msg);
    // Only one side rekeying breaks the channel.
    a.send.rekey();
    expectProtocolError(() => c.recv.decryptWithAd(empty, a.send.encryptWithAd(empty, msg)));
  });

  it("refuses to use the reserved nonce 2^64-1 (exhaustion)", () => {
    const cs = new CipherState(new Uint8Array(32).fill(9));
    cs.setNonce(0xffff_ffff_ffff_fffen);
    expect(cs.encryptWithAd(empty, empty)).toHaveLength(16);
    expectProtocolError(() => cs.encryptWithAd(empty, empty));
    const rx = new CipherState(new Uint8Array(32).fill(9));
    rx.setNonce(0xffff_ffff_ffff_ffffn);
    expectProtocolError(() => rx.decryptWithAd(empty, new Uint8Array(16)));
  });
});

describe("Noise properties", () => {
  it("any payloads round-trip through handshake and transport (property)", () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.uint8Array({ maxLength: 200 }),
        fc.uint8Array({ maxLength: 200 }),
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 }),
        (seed, p1, p2, transport) => {
          const { controller, accessory } = sides(`prop-${seed}`);
          expect(accessory.readMessage(controller.writeMessage(p1))).toEqual(p1);
          expect(controller.readMessage(accessory.writeMessage(p2))).toEqual(p2);
          const c = controller.split();
          const a = accessory.split();
          for (const m of transport)
            expect(a.recv.decryptWithAd(empty, c.send.encryptWithAd(empty, m))).toEqual(m);
        },
      ),
      { numRuns: 30 },
    );
  });

  it("any single-bit flip in message 1 or a transport message is detected (property)", () => {
    const { controller, accessory } = sides("flip");
    const m1 = controller.writeMessage(enc.encode("hello accessory"));
    const k = keys("flip");
    fc.assert(
      fc.property(fc.nat(m1.length * 8 - 1), (bit) => {
        const bad = m1.slice();
        bad[bit >> 3]! ^= 1 << (bit & 7);
        const fresh = new NoiseKK({
          initiator: false,
          prologue,
          s: k.accessory,
          rs: k.controller.publicKey,
          random: seededRandom("r"),
        });
        expectProtocolError(() => fresh.readMessage(bad));
      }),
      { numRuns: 60 },
    );
    accessory.readMessage(m1);
    controller.readMessage(accessory.writeMessage(empty));
    const c = controller.split();
    const a = accessory.split();
    const ct = c.send.encryptWithAd(empty, enc.encode("claw open"));
    fc.assert(
      fc.property(fc.nat(ct.length * 8 - 1), (bit) => {
        const bad = ct.slice();
        bad[bit >> 3]! ^= 1 << (bit & 7);
        expectProtocolError(() => a.recv.decryptWithAd(empty, bad));
      }),
      { numRuns: 60 },
    );
    expect(a.recv.decryptWithAd(empty, ct)).toEqual(enc.encode("claw open"));
  });

  it("refuses to produce a message over the Noise limit of 65535 bytes", () => {
    const { c } = handshake("big");
    expect(c.send.encryptWithAd(empty, new Uint8Array(65535 - 16))).toHaveLength(65535);
    expectProtocolError(() => c.send.encryptWithAd(empty, new Uint8Array(65535 - 15)));
  });
});
