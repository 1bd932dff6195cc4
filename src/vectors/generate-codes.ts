/**
 * Builds hardware/vectors/codes.json from the implementation. The cases are chosen by hand (below); only
 * the expected values are computed, then reviewed by hand before committing (see the notes in each case
 * and the worked check symbol in src/protocol/codes/long.ts).
 *
 * Regenerate: `npx tsc -p tsconfig.build.json && node dist/src/vectors/generate-codes.js > hardware/vectors/codes.json`
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { fromHex, toHex } from "../protocol/bytes.js";
import { checkSymbol } from "../protocol/codes/crockford.js";
import {
  type CodeFormat,
  codePassword,
  DATA_ALPHABET,
  displayCode,
  generateCode,
  normaliseCode,
  trivialLongData,
  trivialPasskeys,
} from "../protocol/codes/index.js";
import { deriveW0W1, registrationRecord } from "../protocol/crypto/spake2plus.js";
import { isOpenClawError } from "../protocol/errors.js";
import {
  CODES_VECTOR_FORMAT,
  CODES_VECTOR_KIND,
  type CodesVector,
  type CodesVectorFile,
  replayRandom,
} from "./codes.js";

/** 24-bit passkey draw as 3 bytes of hex. */
const u24 = (v: number): string => v.toString(16).padStart(6, "0");
/** 40-bit long-code draw for the given 8 data symbols, as 5 bytes of hex. */
function drawFor(data: string): string {
  let v = 0;
  for (const c of data) v = v * 32 + DATA_ALPHABET.indexOf(c);
  return v.toString(16).padStart(10, "0");
}

const DESCRIPTION = [
  "OpenClaw pairing-code vectors. Formats: passkey = 6 decimal digits, shown '123 456'; long = 8 Crockford",
  "base32 data symbols (alphabet 0123456789ABCDEFGHJKMNPQRSTVWXYZ, 40 bits, most significant first) plus one",
  "check symbol = (the 40-bit value) mod 37 written in the data alphabet extended by *~$=U for 32..36, shown",
  "'OCL-XXXX-XXXX-C'. Generation: passkey draws take 3 random bytes as a big-endian v; v >= 16000000",
  "(= floor(2^24/10^6)*10^6) is rejected, else the passkey is v mod 10^6 zero-padded; long draws take 5",
  "random bytes as a big-endian 40-bit value v, and v mod 37 >= 32 (a check symbol *, ~, $, = or U, which",
  "read as display glitches and are shell-special) is rejected; such codes are never generated but are",
  "accepted when typed. A trivial result is rejected and a fresh draw taken (trivial",
  "passkeys: every digit steps from the previous by the same 0, +1 or -1 mod 10, 30 codes; trivial long data:",
  "8 equal symbols or 8 consecutive alphabet symbols ascending or descending, no wrap, 82 strings).",
  "Normalisation of typed input: Unicode NFKC, upper case, remove whitespace, dashes, underscores and dots;",
  "map O->0, I->1, L->1; long codes: drop a leading OCL (0C1 after mapping) when 12 symbols remain, then",
  "require 9 symbols, 8 data symbols (U is not data) and a check symbol; a wrong check symbol is",
  "BAD_CHECK_CHARACTER (decided locally, no attempt is spent), anything else wrong is MALFORMED_CODE.",
  "Input longer than 64 UTF-16 units is MALFORMED_CODE. The SPAKE2+ password is the ASCII of the canonical",
  "form; w0/w1 = PBKDF2-HMAC-SHA256(password, salt, iterations, 80 bytes), each 40-byte half mod n (P-256),",
  "L = w1*P (SEC1 uncompressed). Hex is lowercase.",
].join(" ");

function normalise(name: string, format: CodeFormat, input: string, note?: string): CodesVector {
  try {
    return {
      name,
      type: "normalise",
      format,
      input,
      canonical: normaliseCode(input, format),
      ...(note ? { note } : {}),
    };
  } catch (err) {
    if (!isOpenClawError(err) || (err.code !== "MALFORMED_CODE" && err.code !== "BAD_CHECK_CHARACTER"))
      throw err;
    return { name, type: "normalise", format, input, error: err.code, ...(note ? { note } : {}) };
  }
}

function generate(name: string, format: CodeFormat, randomHex: string, note: string): CodesVector {
  const random = replayRandom(fromHex(randomHex));
  const canonical = generateCode(format, random);
  return { name, type: "generate", format, random: randomHex, canonical, bytesUsed: random.used(), note };
}

function w0w1(name: string, canonical: string, saltHex: string, iterations: number): CodesVector {
  const password = codePassword(canonical);
  const { w0, w1 } = deriveW0W1(password, fromHex(saltHex), iterations);
  return {
    name,
    type: "w0w1",
    canonical,
    salt: saltHex,
    iterations,
    password: toHex(password),
    w0: toHex(w0),
    w1: toHex(w1),
    L: toHex(registrationRecord(w1)),
  };
}

export function buildCodesVectors(): CodesVectorFile {
  // A long code with 0s and 1s in its data, to show the look-alike rules: data 10AB0C1D.
  const withDigits = `10AB0C1D${checkSymbol("10AB0C1D")}`;
  // A long code with 5/S and 8/B, the look-alikes Crockford does not map: the check symbol catches them.
  const fiveS = `5SB8Z2G6${checkSymbol("5SB8Z2G6")}`;
  const vectors: CodesVector[] = [
    // --- normalisation: passkey ---
    normalise("passkey as displayed", "passkey", "123 456"),
    normalise("passkey with a dash and padding", "passkey", "  123-456\n"),
    normalise("passkey, letter O for zero", "passkey", "12O 456", "O reads 0"),
    normalise("passkey, lower-case l and capital I for one", "passkey", "l23 4I6", "l and I read 1"),
    normalise("passkey in full-width digits", "passkey", "１２３　４５６", "NFKC folds full-width forms"),
    normalise("passkey with a no-break space and an en dash", "passkey", "123\u00a0456–"),
    normalise("a trivial passkey is still accepted when typed", "passkey", "000 000"),
    normalise("passkey too short", "passkey", "12 345"),
    normalise("passkey too long", "passkey", "1234 567"),
    normalise("passkey with S for 5 is not guessed", "passkey", "12345S", "only O, I, L are mapped"),
    normalise("passkey given a long code", "passkey", "OCL-7K4Q-92XM-J"),
    normalise("empty passkey", "passkey", ""),
    // --- normalisation: long ---
    normalise(
      "long code as displayed",
      "long",
      "OCL-7K4Q-92XM-J",
      "check by hand: 7K4Q92XM = 261077896116 (0x3cc9748bb4); 261077896116 mod 37 = 18 = J",
    ),
    normalise("long code, lower case", "long", "ocl-7k4q-92xm-j"),
    normalise("long code without prefix or separators", "long", "7K4Q92XMJ"),
    normalise("long code with spaces, underscores and dots", "long", " OCL 7K4Q_92XM.J "),
    normalise("long code, prefix typed with a zero", "long", "0CL-7K4Q-92XM-J"),
    normalise(
      "long code, look-alikes O I L in the data",
      "long",
      `OCL-IOAB-OCLD-${withDigits[8]}`,
      "I->1, O->0, L->1",
    ),
    normalise("long code starting 0C1 is not a prefix", "long", `0C1A-BCDE-${checkSymbol("0C1ABCDE")}`),
    normalise(
      "DESIGN.md example has a bad check symbol",
      "long",
      "OCL-7K4Q-92XM-R",
      "R = 24, expected J = 18",
    ),
    normalise("long code, one symbol changed", "long", "OCL-7K4Q-92XN-J"),
    normalise("long code, adjacent symbols swapped", "long", "OCL-K74Q-92XM-J"),
    normalise(
      "long code, S typed as 5",
      "long",
      `OCL-55B8-Z2G6-${fiveS[8]}`,
      "S and 5 are both symbols: the check catches it",
    ),
    normalise("long code, B typed as 8", "long", `OCL-5S88-Z2G6-${fiveS[8]}`),
    normalise(
      "long code check symbol U, lower case",
      "long",
      "OCL-0000-0014-u",
      "value 36 -> U; never generated, accepted when typed",
    ),
    normalise(
      "long code check symbol *",
      "long",
      "OCL-0000-0010-*",
      "value 32 -> *; never generated, accepted when typed",
    ),
    normalise("U is not a data symbol", "long", "OCL-7K4U-92XM-J"),
    normalise("check-only symbol in the data", "long", "OCL-7K4*-92XM-J"),
    normalise("long code without its check symbol", "long", "OCL-7K4Q-92XM"),
    normalise("long code with an extra symbol", "long", "OCL-7K4Q-92XM-JJ"),
    normalise("invalid character", "long", "OCL-7K4Q-92XM-#"),
    normalise("over-long input", "long", `${"-".repeat(60)}7K4Q92XMJ`, "more than 64 characters is refused"),
    // --- generation ---
    generate("passkey, first draw accepted", "passkey", u24(771604), "0x0bc614 = 771604 < 16000000"),
    generate("passkey with leading zeros", "passkey", u24(1), "v = 1 -> 000001"),
    generate(
      "passkey just below the bound",
      "passkey",
      u24(15_999_998),
      "15999998 < 16000000 -> 15999998 mod 10^6 = 999998",
    ),
    generate(
      "passkey draws at and above the bound are rejected",
      "passkey",
      u24(16_000_000) + u24(0xffffff) + u24(771604),
      "16000000 and 16777215 rejected (modulo bias), third draw 771604 accepted",
    ),
    generate(
      "trivial passkeys are rejected",
      "passkey",
      u24(123456) + u24(15_999_999) + u24(3_000_000 + 543210) + u24(890123) + u24(209384),
      "123456, 999999 (from 15999999), 543210 (from 3543210), 890123 are trivial; 209384 accepted",
    ),
    generate("long code, value 1", "long", drawFor("00000001"), "data 00000001, 1 mod 37 = 1"),
    generate("long code 7K4Q92XM", "long", drawFor("7K4Q92XM"), "the worked example: check J"),
    generate("long code, check value 31", "long", drawFor("0000000Z"), "31 mod 37 = 31 -> Z, the last kept"),
    generate("long code, check value 0 again", "long", drawFor("00000015"), "37 mod 37 = 0 -> 0"),
    generate(
      "long draws whose check symbol would be * ~ $ = or U are redrawn",
      "long",
      ["00000010", "00000011", "00000012", "00000013", "00000014", "7K4Q92XM"].map(drawFor).join(""),
      "values 32..36 (check *, ~, $, =, U) rejected; sixth draw 7K4Q92XM accepted",
    ),
    generate(
      "redrawn check symbols in ordinary data",
      "long",
      drawFor("7K4Q92X0") + drawFor("7K4Q92X1") + drawFor("7K4Q92X2"),
      "7K4Q92X checks to 30; 30*32 = 960 = 35 mod 37, so 7K4Q92X0 checks 35 (=) and 7K4Q92X1 36 (U), both redrawn; 7K4Q92X2 checks 0",
    ),
    generate(
      "long code, all ones",
      "long",
      `ffffffffff${drawFor("ZZZZZZZY")}`,
      "ZZZZZZZZ is trivial; ZZZZZZZY accepted",
    ),
    generate(
      "trivial long codes are rejected",
      "long",
      drawFor("00000000") +
        drawFor("01234567") +
        drawFor("ZYXWVTSR") +
        drawFor("KKKKKKKK") +
        drawFor("7K4Q92XM"),
      "repeats and alphabet runs are redrawn",
    ),
    // --- display ---
    {
      name: "passkey display",
      type: "display",
      format: "passkey",
      canonical: "771604",
      display: displayCode("771604", "passkey"),
    },
    {
      name: "passkey display, leading zeros",
      type: "display",
      format: "passkey",
      canonical: "000001",
      display: displayCode("000001", "passkey"),
    },
    {
      name: "long display",
      type: "display",
      format: "long",
      canonical: "7K4Q92XMJ",
      display: displayCode("7K4Q92XMJ", "long"),
    },
    {
      name: "long display, symbol check",
      type: "display",
      format: "long",
      canonical: "00000010*",
      display: displayCode("00000010*", "long"),
    },
    // --- password bytes ---
    {
      name: "passkey password",
      type: "password",
      canonical: "771604",
      password: toHex(codePassword("771604")),
    },
    {
      name: "long password",
      type: "password",
      canonical: "7K4Q92XMJ",
      password: toHex(codePassword("7K4Q92XMJ")),
    },
    {
      name: "long password with a symbol check",
      type: "password",
      canonical: "00000014U",
      password: toHex(codePassword("00000014U")),
    },
    // --- trivial sets ---
    { name: "trivial passkeys", type: "trivial", format: "passkey", codes: trivialPasskeys() },
    { name: "trivial long data strings", type: "trivial", format: "long", codes: trivialLongData() },
    // --- w0/w1 ---
    w0w1("w0/w1 for passkey 771604", "771604", "000102030405060708090a0b0c0d0e0f", 1000),
    w0w1(
      "w0/w1 for long code 7K4Q92XMJ",
      "7K4Q92XMJ",
      "4f70656e436c61772d506169722f312077696e646f77206e6f6e636520333242",
      2000,
    ),
  ];
  return { format: CODES_VECTOR_FORMAT, kind: CODES_VECTOR_KIND, description: DESCRIPTION, vectors };
}

function isMain(): boolean {
  const argv1 = process.argv[1];
  if (argv1 === undefined) return false;
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) process.stdout.write(`${JSON.stringify(buildCodesVectors(), null, 2)}\n`);
