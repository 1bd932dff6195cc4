import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkVectorFile, VectorFileError, vectorFileKind } from "../../src/vectors/index.js";
import { checkNoiseVectors } from "../../src/vectors/noise.js";
import { checkSpake2PlusVectors } from "../../src/vectors/spake2plus.js";
import { KK_VECTOR, NOISE_FILE, SPAKE_FILE } from "../helpers/published-vectors.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

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
