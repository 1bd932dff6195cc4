import { describe, expect, it } from "vitest";
import { checkSymbol } from "../../src/protocol/codes/crockford.js";
import {
  CHECK_ALPHABET,
  codePassword,
  DATA_ALPHABET,
  displayCode,
  generateCode,
  isTrivialLongData,
  isTrivialPasskey,
  normaliseCode,
  PASSKEY_ACCEPT_BOUND,
  trivialLongData,
  trivialPasskeys,
} from "../../src/protocol/codes/index.js";
import { longFromDraw } from "../../src/protocol/codes/long.js";
import { passkeyFromDraw } from "../../src/protocol/codes/passkey.js";
import { type ErrorCode, isOpenClawError, OpenClawError } from "../../src/protocol/errors.js";
import type { RandomBytes } from "../../src/protocol/random.js";

/** A random source that replays a fixed byte stream and fails loudly when it runs out. */
function stream(hex: string): RandomBytes & { used: () => number } {
  const bytes = Buffer.from(hex, "hex");
  let off = 0;
  const f = (n: number) => {
    if (off + n > bytes.length) throw new Error("stream exhausted");
    const out = new Uint8Array(bytes.subarray(off, off + n));
    off += n;
    return out;
  };
  return Object.assign(f, { used: () => off });
}

function errorCodeOf(fn: () => unknown): ErrorCode | "no error" {
  try {
    fn();
    return "no error";
  } catch (err) {
    if (!isOpenClawError(err)) throw err;
    return err.code;
  }
}

describe("Crockford alphabet and check symbol", () => {
  it("has 32 data symbols without I L O U and 37 check symbols ending *~$=U", () => {
    expect(DATA_ALPHABET).toHaveLength(32);
    expect(DATA_ALPHABET).not.toMatch(/[ILOU]/);
    expect(CHECK_ALPHABET).toBe(`${DATA_ALPHABET}*~$=U`);
  });

  it("matches the hand-computed check for 7K4Q92XM (= J, value 18)", () => {
    expect(checkSymbol("7K4Q92XM")).toBe("J");
    // 2^40 - 1 = 1099511627775 = 37 * 29716530480 + 15 → "F"
    expect(checkSymbol("ZZZZZZZZ")).toBe("F");
    expect(checkSymbol("00000000")).toBe("0");
    // value 36 → "U"; 36 = 1*32 + 4
    expect(checkSymbol("00000014")).toBe("U");
  });
});

describe("passkey", () => {
  it("derives the acceptance bound as the largest multiple of 10^6 not above 2^24", () => {
    expect(PASSKEY_ACCEPT_BOUND).toBe(16_000_000);
    expect(PASSKEY_ACCEPT_BOUND % 1_000_000).toBe(0);
    expect(2 ** 24 - PASSKEY_ACCEPT_BOUND).toBeLessThan(1_000_000);
  });

  it("defines exactly 30 trivial passkeys: repeats and ±1 runs, wrap-around included", () => {
    const set = trivialPasskeys();
    expect(set).toHaveLength(30);
    for (const c of [
      "000000",
      "999999",
      "123456",
      "012345",
      "456789",
      "890123",
      "987654",
      "543210",
      "098765",
    ]) {
      expect(set).toContain(c);
      expect(isTrivialPasskey(c)).toBe(true);
    }
    for (const c of ["123457", "135791", "112233", "121212", "654320"]) {
      expect(isTrivialPasskey(c)).toBe(false);
    }
    // The predicate and the listed set agree on all 10^6 passkeys.
    const listed = new Set(set);
    for (let n = 0; n < 1_000_000; n++) {
      const c = String(n).padStart(6, "0");
      if (isTrivialPasskey(c) !== listed.has(c)) throw new Error(`disagree on ${c}`);
    }
  });

  it("is unbiased: every passkey comes from exactly 16 of the 2^24 draws, trivial ones from none", () => {
    const counts = new Uint8Array(1_000_000);
    const draw = new Uint8Array(3);
    for (let v = 0; v < 2 ** 24; v++) {
      draw[0] = v >>> 16;
      draw[1] = (v >>> 8) & 0xff;
      draw[2] = v & 0xff;
      const code = passkeyFromDraw(draw);
      if (code !== undefined) counts[Number(code)]!++;
    }
    const trivial = new Set(trivialPasskeys().map(Number));
    for (let c = 0; c < counts.length; c++) {
      if (counts[c] !== (trivial.has(c) ? 0 : 16)) throw new Error(`passkey ${c} drawn ${counts[c]} times`);
    }
  });

  it("rejects draws at the bound and trivial draws, consuming 3 bytes per draw", () => {
    // f42400 = 16000000 (rejected: bound), 01e240 = 123456 (trivial), f423ff = 15999999 → 999999 (trivial),
    // 0bc614 = 771604 → accepted.
    const r = stream("f4240001e240f423ff0bc614");
    expect(generateCode("passkey", r)).toBe("771604");
    expect(r.used()).toBe(12);
  });

  it("normalises what people type", () => {
    expect(normaliseCode(" 123 456 ", "passkey")).toBe("123456");
    expect(normaliseCode("123-456", "passkey")).toBe("123456");
    expect(normaliseCode("12O 456", "passkey")).toBe("120456");
    expect(normaliseCode("l23 456", "passkey")).toBe("123456");
    expect(normaliseCode("１２３４５６", "passkey")).toBe("123456");
    expect(normaliseCode("123\u00a0456", "passkey")).toBe("123456");
    expect(normaliseCode("123–456", "passkey")).toBe("123456");
  });

  it("refuses wrong lengths and letters that are not look-alikes, without echoing the input", () => {
    for (const bad of ["", "12345", "1234567", "12345S", "12345B", "abcdef", "123 45x", "1".repeat(200)]) {
      try {
        normaliseCode(bad, "passkey");
        expect.unreachable(bad);
      } catch (err) {
        if (!isOpenClawError(err)) throw err;
        expect(err.code).toBe("MALFORMED_CODE");
        expect(err.details).toEqual({ expected: "passkey" });
        expect(err.message).toBe(new OpenClawError("MALFORMED_CODE", { expected: "passkey" }).message);
      }
    }
  });

  it("displays as two groups of three", () => {
    expect(displayCode("012345", "passkey")).toBe("012 345");
    expect(errorCodeOf(() => displayCode("012 345", "passkey"))).toBe("MALFORMED_CODE");
  });
});

describe("long code", () => {
  it("maps 5 random bytes to 8 symbols, most significant first, and appends the check", () => {
    expect(longFromDraw(Uint8Array.of(0x00, 0x00, 0x00, 0x00, 0x01))).toBe("000000011");
    // 0x3a4a6e5b3d: any 40 bits, just compare with a base-32 rendering of the same integer.
    const v = 0x3a4a6e5b3d;
    const data = [...v.toString(32).padStart(8, "0")]
      .map((d) => DATA_ALPHABET[Number.parseInt(d, 32)])
      .join("");
    expect(longFromDraw(Uint8Array.of(0x3a, 0x4a, 0x6e, 0x5b, 0x3d))).toBe(data + checkSymbol(data));
    // three below it, v mod 37 = 34: its check symbol would be $, so that draw is redrawn
    expect(longFromDraw(Uint8Array.of(0x3a, 0x4a, 0x6e, 0x5b, 0x3a))).toBeUndefined();
  });

  it("rejects trivial data strings (repeats and alphabet runs)", () => {
    expect(longFromDraw(new Uint8Array(5))).toBeUndefined(); // 00000000
    expect(longFromDraw(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff))).toBeUndefined(); // ZZZZZZZZ
    for (const t of ["01234567", "RSTVWXYZ", "ZYXWVTSR", "76543210", "KKKKKKKK", "GHJKMNPQ"]) {
      expect(isTrivialLongData(t)).toBe(true);
    }
    for (const t of ["01234568", "0123456U", "7K4Q92XM", "ABABABAB", "YZ012345"]) {
      expect(isTrivialLongData(t)).toBe(false);
    }
    const set = trivialLongData();
    expect(set).toHaveLength(82);
    expect(set.every(isTrivialLongData)).toBe(true);
    const r = stream("0000000000ffffffffff39d8a2a5b3"); // 00000000 and ZZZZZZZZ rejected, third draw kept
    const code = generateCode("long", r);
    expect(r.used()).toBe(15);
    expect(code).toHaveLength(9);
  });

  it("never generates a check symbol of * ~ $ = or U: such draws are redrawn", () => {
    // 00000010..00000014 are the values 32..36, whose check symbols are *~$=U; 0000000Z (31) checks Z
    // and 00000015 (37) checks 0, the neighbours that stay.
    const draw = (data: string) => {
      let v = 0;
      for (const c of data) v = v * 32 + DATA_ALPHABET.indexOf(c);
      return v.toString(16).padStart(10, "0");
    };
    for (const data of ["00000010", "00000011", "00000012", "00000013", "00000014"]) {
      expect(longFromDraw(Uint8Array.from(Buffer.from(draw(data), "hex")))).toBeUndefined();
    }
    expect(longFromDraw(Uint8Array.from(Buffer.from(draw("0000000Z"), "hex")))).toBe("0000000ZZ");
    expect(longFromDraw(Uint8Array.from(Buffer.from(draw("00000015"), "hex")))).toBe("000000150");
    const r = stream(
      ["00000010", "00000011", "00000012", "00000013", "00000014", "7K4Q92XM"].map(draw).join(""),
    );
    expect(generateCode("long", r)).toBe("7K4Q92XMJ");
    expect(r.used()).toBe(30);
  });

  it("still accepts a typed code whose check symbol is one of them (the check scheme is unchanged)", () => {
    expect(normaliseCode("OCL-0000-0010-*", "long")).toBe("00000010*");
    expect(normaliseCode("ocl-0000-0014-u", "long")).toBe("00000014U");
  });

  it("normalises case, separators, the OCL prefix and look-alikes", () => {
    for (const typed of [
      "OCL-7K4Q-92XM-J",
      "ocl-7k4q-92xm-j",
      "7K4Q92XMJ",
      "7k4q 92xm j",
      "0CL_7K4Q.92XM.J",
      "OC1-7K4Q-92XM-J",
      "  ocl 7K4Q-92XMj\n",
    ]) {
      expect(normaliseCode(typed, "long")).toBe("7K4Q92XMJ");
    }
    // O→0, I/L→1 inside the data: 1O0LI0OO has the same canonical form as 10011000.
    const canonical = `10011000${checkSymbol("10011000")}`;
    expect(normaliseCode(`1O0LI0OO${checkSymbol("10011000")}`, "long")).toBe(canonical);
    // A code that itself starts with 0C1 is not mistaken for the prefix.
    const c = `0C1ABCDE${checkSymbol("0C1ABCDE")}`;
    expect(normaliseCode(c, "long")).toBe(c);
    expect(normaliseCode(`OCL-${c}`, "long")).toBe(c);
  });

  it("reports a wrong check symbol as BAD_CHECK_CHARACTER (local, no attempt spent)", () => {
    expect(errorCodeOf(() => normaliseCode("OCL-7K4Q-92XM-R", "long"))).toBe("BAD_CHECK_CHARACTER");
    expect(errorCodeOf(() => normaliseCode("OCL-7K4Q-92XN-J", "long"))).toBe("BAD_CHECK_CHARACTER");
    expect(errorCodeOf(() => normaliseCode("OCL-7K4Q-92XM-U", "long"))).toBe("BAD_CHECK_CHARACTER");
  });

  it("reports wrong length or symbols as MALFORMED_CODE{long}", () => {
    for (const bad of [
      "",
      "7K4Q92XM",
      "7K4Q92XMJJ",
      "7K4U92XMJ",
      "7K4Q92XM#",
      "7K4*92XMJ",
      "OCL7K4Q92XM",
      "x".repeat(65),
    ]) {
      try {
        normaliseCode(bad, "long");
        expect.unreachable(bad);
      } catch (err) {
        if (!isOpenClawError(err)) throw err;
        expect(err.code).toBe("MALFORMED_CODE");
        expect(err.details).toEqual({ expected: "long" });
        // The message comes from the catalogue alone: nothing typed leaks into it.
        expect(err.message).toBe(new OpenClawError("MALFORMED_CODE", { expected: "long" }).message);
      }
    }
  });

  it("accepts U and the symbols *~$= only as the check symbol", () => {
    expect(normaliseCode("00000014U", "long")).toBe("00000014U");
    expect(normaliseCode("OCL-0000-0014-u", "long")).toBe("00000014U");
  });

  it("displays as OCL-XXXX-XXXX-C and refuses non-canonical input", () => {
    expect(displayCode("7K4Q92XMJ", "long")).toBe("OCL-7K4Q-92XM-J");
    expect(errorCodeOf(() => displayCode("7k4q92xmj", "long"))).toBe("MALFORMED_CODE");
    expect(errorCodeOf(() => displayCode("7K4Q92XMR", "long"))).toBe("MALFORMED_CODE");
  });
});

describe("codePassword", () => {
  it("is the ASCII of the canonical form", () => {
    expect(Buffer.from(codePassword("123456")).toString("hex")).toBe("313233343536");
    expect(Buffer.from(codePassword("7K4Q92XMJ")).toString("latin1")).toBe("7K4Q92XMJ");
  });

  it("refuses a non-canonical code rather than derive keys from it", () => {
    expect(errorCodeOf(() => codePassword("123 456"))).toBe("MALFORMED_CODE");
    expect(errorCodeOf(() => codePassword("OCL-7K4Q-92XM-J"))).toBe("MALFORMED_CODE");
    expect(errorCodeOf(() => codePassword("7k4q92xmj"))).toBe("MALFORMED_CODE");
  });
});
