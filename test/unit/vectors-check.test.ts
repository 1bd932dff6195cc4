import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkVectorFile, VectorFileError, vectorFileKind } from "../../src/vectors/index.js";
import { checkNoiseVectors } from "../../src/vectors/noise.js";
import { checkSpake2PlusVectors } from "../../src/vectors/spake2plus.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

// The published vectors (the same bytes as ../shared/vectors), embedded so this runs from a clean clone.
const SPAKE_FILE = {
  source: "RFC 9383 (SPAKE2+) Appendix C, first test vector.",
  vectors: [
    {
      suite: "P256-SHA256-HKDF-SHA256-HMAC-SHA256",
      context:
        "5350414b45322b2d503235362d5348413235362d484b44462d5348413235362d484d41432d534841323536205465737420566563746f7273",
      idProver: "636c69656e74",
      idVerifier: "736572766572",
      w0: "bb8e1bbcf3c48f62c08db243652ae55d3e5586053fca77102994f23ad95491b3",
      w1: "7e945f34d78785b8a3ef44d0df5a1a97d6b3b460409a345ca7830387a74b1dba",
      L: "04eb7c9db3d9a9eb1f8adab81b5794c1f13ae3e225efbe91ea487425854c7fc00f00bfedcbd09b2400142d40a14f2064ef31dfaa903b91d1faea7093d835966efd",
      x: "d1232c8e8693d02368976c174e2088851b8365d0d79a9eee709c6a05a2fad539",
      X: "04ef3bd051bf78a2234ec0df197f7828060fe9856503579bb1733009042c15c0c1de127727f418b5966afadfdd95a6e4591d171056b333dab97a79c7193e341727",
      y: "717a72348a182085109c8d3917d6c43d59b224dc6a7fc4f0483232fa6516d8b3",
      Y: "04c0f65da0d11927bdf5d560c69e1d7d939a05b0e88291887d679fcadea75810fb5cc1ca7494db39e82ff2f50665255d76173e09986ab46742c798a9a68437b048",
      Z: "04bbfce7dd7f277819c8da21544afb7964705569bdf12fb92aa388059408d50091a0c5f1d3127f56813b5337f9e4e67e2ca633117a4fbd559946ab474356c41839",
      V: "0458bf27c6bca011c9ce1930e8984a797a3419797b936629a5a937cf2f11c8b9514b82b993da8a46e664f23db7c01edc87faa530db01c2ee405230b18997f16b68",
      TT: "38000000000000005350414b45322b2d503235362d5348413235362d484b44462d5348413235362d484d41432d534841323536205465737420566563746f72730600000000000000636c69656e740600000000000000736572766572410000000000000004886e2f97ace46e55ba9dd7242579f2993b64e16ef3dcab95afd497333d8fa12f5ff355163e43ce224e0b0e65ff02ac8e5c7be09419c785e0ca547d55a12e2d20410000000000000004d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b4907d60aa6bfade45008a636337f5168c64d9bd36034808cd564490b1e656edbe7410000000000000004ef3bd051bf78a2234ec0df197f7828060fe9856503579bb1733009042c15c0c1de127727f418b5966afadfdd95a6e4591d171056b333dab97a79c7193e341727410000000000000004c0f65da0d11927bdf5d560c69e1d7d939a05b0e88291887d679fcadea75810fb5cc1ca7494db39e82ff2f50665255d76173e09986ab46742c798a9a68437b048410000000000000004bbfce7dd7f277819c8da21544afb7964705569bdf12fb92aa388059408d50091a0c5f1d3127f56813b5337f9e4e67e2ca633117a4fbd559946ab474356c4183941000000000000000458bf27c6bca011c9ce1930e8984a797a3419797b936629a5a937cf2f11c8b9514b82b993da8a46e664f23db7c01edc87faa530db01c2ee405230b18997f16b682000000000000000bb8e1bbcf3c48f62c08db243652ae55d3e5586053fca77102994f23ad95491b3",
      K_main: "4c59e1ccf2cfb961aa31bd9434478a1089b56cd11542f53d3576fb6c2a438a29",
      K_confirmP: "871ae3f7b78445e34438fb284504240239031c39d80ac23eb5ab9be5ad6db58a",
      K_confirmV: "ccd53c7c1fa37b64a462b40db8be101cedcf838950162902054e644b400f1680",
      confirmP: "926cc713504b9b4d76c9162ded04b5493e89109f6d89462cd33adc46fda27527",
      confirmV: "9747bcc4f8fe9f63defee53ac9b07876d907d55047e6ff2def2e7529089d3e68",
      K_shared: "0c5f8ccd1413423a54f6c1fb26ff01534a87f893779c6e68666d772bfd91f3e7",
    },
  ],
};

const KK_VECTOR = {
  protocol_name: "Noise_KK_25519_ChaChaPoly_SHA256",
  init_prologue: "4a6f686e2047616c74",
  init_static: "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1",
  init_ephemeral: "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
  init_remote_static: "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62",
  resp_prologue: "4a6f686e2047616c74",
  resp_static: "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893",
  resp_ephemeral: "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b",
  resp_remote_static: "6bc3822a2aa7f4e6981d6538692b3cdf3e6df9eea6ed269eb41d93c22757b75a",
  handshake_hash: "24c6b51ecb76277140ca018b5985bc9f03de321dae2d34dcae433dafef0131d9",
  messages: [
    {
      payload: "4c756477696720766f6e204d69736573",
      ciphertext:
        "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79440177015efc1fe7a37c629af7120a96274e6ab7afcc9261901d0e09ae32a5bb96",
    },
    {
      payload: "4d757272617920526f746862617264",
      ciphertext:
        "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843b274d3429adc47ca093ba63ef90f8da89fda108db471dccfa4894aa7b00003",
    },
    {
      payload: "462e20412e20486179656b",
      ciphertext: "966b05bc69ec01b8454d3160a214e6f24a3d884eb31ec2408af63f",
    },
    {
      payload: "4361726c204d656e676572",
      ciphertext: "0ad887fba4f611bbb4afe44ba3556b8164332ca7d5934634d63d80",
    },
    {
      payload: "4a65616e2d426170746973746520536179",
      ciphertext: "012b28ae646ae7830e2c5472cb023eab071c1db3d8413ec69b513b83832f974c2d",
    },
    {
      payload: "457567656e2042f6686d20766f6e2042617765726b",
      ciphertext: "bb3e6a48160d9c5971d37f975727294e0d868342db31832e54d07191ab0ca3c3703b5ed3d9",
    },
  ],
};
const NOISE_FILE = { source: "cacophony", vectors: [KK_VECTOR] };

function flipHex(hex: string, at: number): string {
  const c = Number.parseInt(hex[at]!, 16) ^ 1;
  return hex.slice(0, at) + c.toString(16) + hex.slice(at + 1);
}

function clone<T>(x: T): T {
  return structuredClone(x);
}

describe("SPAKE2+ vector checker", () => {
  it("passes the RFC 9383 vector and says what it checked", () => {
    const [r, ...rest] = checkSpake2PlusVectors(SPAKE_FILE);
    expect(rest).toHaveLength(0);
    expect(r?.status).toBe("passed");
    for (const f of [
      "L",
      "X",
      "Y",
      "Z (prover)",
      "V (verifier)",
      "TT (prover)",
      "K_main (verifier)",
      "confirmP",
      "confirmV",
      "K_shared",
    ]) {
      expect(r?.detail).toContain(f);
    }
  });

  const fields = [
    "L",
    "X",
    "Y",
    "Z",
    "V",
    "TT",
    "K_main",
    "K_confirmP",
    "K_confirmV",
    "confirmP",
    "confirmV",
    "K_shared",
  ] as const;
  it.each(fields)("fails, naming %s, when that field is corrupted", (field) => {
    const file = clone(SPAKE_FILE);
    const v = file.vectors[0]!;
    v[field] = flipHex(v[field], v[field].length - 1);
    const [r] = checkSpake2PlusVectors(file);
    expect(r?.status).toBe("failed");
    expect(r?.detail).toContain(field);
  });

  it("skips other suites and reports malformed vectors as failed", () => {
    const file = clone(SPAKE_FILE) as { vectors: Record<string, unknown>[] };
    file.vectors.push({ ...file.vectors[0], suite: "P384-SHA256-HKDF-SHA256-HMAC-SHA256" });
    file.vectors.push({ ...file.vectors[0], w0: "xyz" });
    const results = checkSpake2PlusVectors(file);
    expect(results.map((r) => r.status)).toEqual(["passed", "skipped", "failed"]);
    expect(results[2]?.detail).toContain("w0");
  });
});

describe("Noise vector checker", () => {
  it("passes the KK vector and skips other protocols", () => {
    const file = {
      vectors: [
        { ...KK_VECTOR, protocol_name: "Noise_XX_25519_AESGCM_SHA256" },
        KK_VECTOR,
        { ...KK_VECTOR, protocol_name: "Noise_KKpsk0_25519_ChaChaPoly_SHA256", init_psks: ["00"] },
        { ...KK_VECTOR, protocol_name: "Noise_KK_448_ChaChaPoly_BLAKE2b" },
      ],
    };
    const results = checkNoiseVectors(file);
    expect(results.map((r) => r.status)).toEqual(["skipped", "passed", "skipped", "skipped"]);
    expect(results[1]?.detail).toContain("handshake_hash (responder)");
    expect(results[1]?.detail).toContain("message 5");
  });

  it.each([0, 1, 3, 4])("fails, naming message %i, when its ciphertext is corrupted", (i) => {
    const v = clone(KK_VECTOR);
    v.messages[i]!.ciphertext = flipHex(v.messages[i]!.ciphertext, 70 % v.messages[i]!.ciphertext.length);
    const [r] = checkNoiseVectors({ vectors: [v] });
    expect(r?.status).toBe("failed");
    expect(r?.detail).toContain(`message ${i}`);
  });

  it("fails on a wrong handshake hash or a wrong payload", () => {
    const v = clone(KK_VECTOR);
    v.handshake_hash = flipHex(v.handshake_hash, 0);
    expect(checkNoiseVectors({ vectors: [v] })[0]?.detail).toContain("handshake_hash");
    const w = clone(KK_VECTOR);
    w.messages[2]!.payload = flipHex(w.messages[2]!.payload, 0);
    expect(checkNoiseVectors({ vectors: [w] })[0]?.status).toBe("failed");
  });

  it("reports a KK vector with missing fields as failed, not a crash", () => {
    const { init_static: _, ...rest } = KK_VECTOR;
    const [r] = checkNoiseVectors({ vectors: [rest] });
    expect(r?.status).toBe("failed");
    expect(r?.detail).toContain("init_static");
  });
});

describe("vector file dispatch", () => {
  it("recognises each format by shape", () => {
    expect(vectorFileKind(SPAKE_FILE)).toBe("spake2plus");
    expect(vectorFileKind(NOISE_FILE)).toBe("noise");
    expect(vectorFileKind({ format: "openclaw-vectors/1", kind: "codes", vectors: [] })).toBe("codes");
    expect(vectorFileKind({ format: "openclaw-vectors/1", kind: "transcripts", vectors: [] })).toBe(
      "transcripts",
    );
    expect(checkVectorFile(NOISE_FILE).map((r) => r.status)).toEqual(["passed"]);
  });

  it.each([
    ["a number", 3],
    ["an array", []],
    ["null", null],
    ["an unrelated object", { name: "package" }],
    ["vectors of unknown shape", { vectors: [{ foo: 1 }] }],
    ["an unknown format", { format: "openclaw-vectors/2", kind: "codes" }],
    ["an unknown kind", { format: "openclaw-vectors/1", kind: "bonds" }],
  ])("rejects %s with a VectorFileError", (_, json) => {
    expect(() => checkVectorFile(json)).toThrow(VectorFileError);
  });
});

describe("openclaw vectors check (compiled CLI)", () => {
  let dir: string;
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, ["bin/openclaw.js", "vectors", "check", ...args], {
      cwd: root,
      encoding: "utf8",
      timeout: 15_000,
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
    });
    const lines = r.stdout.trimEnd().split("\n");
    return { code: r.status, lines, last: lines.at(-1), stdout: r.stdout, stderr: r.stderr };
  };
  const file = (name: string) => join(dir, name);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "openclaw-vectors-"));
    writeFileSync(file("spake.json"), JSON.stringify(SPAKE_FILE));
    writeFileSync(file("noise.json"), JSON.stringify(NOISE_FILE));
    const corrupt = clone(NOISE_FILE);
    corrupt.vectors[0]!.messages[3]!.ciphertext = flipHex(corrupt.vectors[0]!.messages[3]!.ciphertext, 2);
    corrupt.vectors.push({ ...KK_VECTOR, protocol_name: "Noise_NN_25519_AESGCM_SHA512" });
    writeFileSync(file("noise-corrupt.json"), JSON.stringify(corrupt));
    writeFileSync(file("broken.json"), '{"vectors": [');
    writeFileSync(
      file("others.json"),
      `\uFEFF${JSON.stringify({ vectors: [{ ...KK_VECTOR, protocol_name: "Noise_XX_448_AESGCM_BLAKE2b" }] })}`,
    );
    writeFileSync(file("package.json"), '{"name": "not vectors"}');
    mkdirSync(file("set"));
    writeFileSync(join(dir, "set", "a.json"), JSON.stringify(SPAKE_FILE));
    writeFileSync(join(dir, "set", "b.json"), JSON.stringify(NOISE_FILE));
    writeFileSync(join(dir, "set", "notes.txt"), "ignored");
    mkdirSync(file("empty"));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("prints PASS per file and the totals, exit 0", () => {
    const r = run(file("spake.json"), file("noise.json"));
    expect(r.code).toBe(0);
    expect(r.lines).toEqual([
      `PASS ${file("spake.json")}: 1 passed, 0 failed, 0 skipped`,
      `PASS ${file("noise.json")}: 1 passed, 0 failed, 0 skipped`,
      "2 passed, 0 failed, 0 skipped",
    ]);
  });

  it("names the failing vector and what differed, exit 1", () => {
    const r = run(file("spake.json"), file("noise-corrupt.json"));
    expect(r.code).toBe(1);
    expect(r.lines[0]).toBe(`PASS ${file("spake.json")}: 1 passed, 0 failed, 0 skipped`);
    expect(r.lines[1]).toBe(`FAIL ${file("noise-corrupt.json")}: 0 passed, 1 failed, 1 skipped`);
    expect(r.lines[2]).toBe("  failed vector 1 (Noise_KK_25519_ChaChaPoly_SHA256):");
    expect(r.lines[3]).toMatch(
      /^ {4}message 3 \(responder → initiator\) ciphertext differs \(byte 1\): expected /,
    );
    expect(r.lines[4]).toMatch(/^ {4}message 3 .*rejected/);
    expect(r.lines[5]).toBe("  skipped 1, not implemented: Noise_NN_25519_AESGCM_SHA512");
    expect(r.last).toBe("1 passed, 1 failed, 1 skipped");
  });

  it("reports unreadable and non-vector files, still checks the others, exit 2", () => {
    const r = run(file("broken.json"), file("missing.json"), file("package.json"), file("noise.json"));
    expect(r.code).toBe(2);
    expect(r.lines[0]).toMatch(new RegExp(`^ERROR ${file("broken.json")}: not valid JSON`));
    expect(r.lines[1]).toBe(`ERROR ${file("missing.json")}: no such file`);
    expect(r.lines[2]).toMatch(new RegExp(`^ERROR ${file("package.json")}: not a vector file`));
    expect(r.lines[3]).toBe(`PASS ${file("noise.json")}: 1 passed, 0 failed, 0 skipped`);
    expect(r.last).toBe("1 passed, 0 failed, 0 skipped");
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    const empty = run(file("empty"));
    expect(empty.code).toBe(2);
    expect(empty.lines[0]).toBe(`ERROR ${file("empty")}: a directory with no .json vector files`);
  });

  it("marks a file whose suites are all unimplemented SKIP, which is not a failure", () => {
    const r = run(file("others.json"));
    expect(r.code).toBe(0);
    expect(r.lines).toEqual([
      `SKIP ${file("others.json")}: 0 passed, 0 failed, 1 skipped`,
      "  skipped 1, not implemented: Noise_XX_448_AESGCM_BLAKE2b",
      "0 passed, 0 failed, 1 skipped",
    ]);
  });

  it("takes a directory as its .json files, and prints JSON with --json", () => {
    const r = run(file("set"));
    expect(r.code).toBe(0);
    expect(r.lines).toHaveLength(3);
    expect(r.last).toBe("2 passed, 0 failed, 0 skipped");
    const j = run("--json", file("noise-corrupt.json"));
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout).totals).toEqual({ passed: 0, failed: 1, skipped: 1 });
  });

  const shared = join(root, "..", "shared", "vectors");
  it.runIf(existsSync(shared))("passes the shared published vectors", () => {
    const files = ["spake2plus", "noise"].flatMap((d) =>
      readdirSync(join(shared, d))
        .filter((n) => n.endsWith(".json"))
        .map((n) => join(shared, d, n)),
    );
    const r = run(...files);
    expect(r.code).toBe(0);
    expect(r.last).toMatch(/^\d+ passed, 0 failed, \d+ skipped$/);
  });
});
