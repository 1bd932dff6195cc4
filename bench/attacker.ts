/**
 * The attacker's odds at the default limits: an online guesser who gets a fresh pairing window whenever
 * one closes (the worst case: a device that keeps opening windows, e.g. no bonds yet) and makes a wrong
 * guess as fast as the exchange allows. Drives the real PairingWindow on a fake monotonic clock for 24 h,
 * so the figure follows the code's actual limits (attempts per code, failures per hour, backoff).
 */
import { trivialLongData, trivialPasskeys } from "../src/protocol/codes/index.js";
import { seededRandom } from "../src/protocol/random.js";
import { DEFAULT_POLICY } from "../src/protocol/window/policy.js";
import { PairingWindow } from "../src/protocol/window/window.js";

const DAY_MS = 24 * 60 * 60_000;
/** One pair-setup attempt over the air (2 connection-event round trips + PBKDF2 on a small MCU). */
const ATTEMPT_MS = 500;

function simulateDay(format: "passkey" | "long"): { attempts: number; codes: number; probability: number } {
  const space =
    format === "passkey" ? 10 ** 6 - trivialPasskeys().length : 32 ** 8 - trivialLongData().length;
  const window = new PairingWindow(seededRandom(`attacker-${format}`));
  let now = 0;
  let attempts = 0;
  let codes = 0;
  let guessesOnCode = 0;
  let pFail = 1; // probability that every guess so far missed
  const closeCode = () => {
    if (guessesOnCode > 0) pFail *= 1 - guessesOnCode / space; // k distinct guesses at one uniform code
    guessesOnCode = 0;
  };
  let nonce: Uint8Array | undefined;
  while (now < DAY_MS) {
    window.tick(now);
    const s = window.state;
    if (s.kind === "locked-out") {
      now = s.until;
      continue;
    }
    if (s.kind !== "open") {
      closeCode();
      window.open({ format, reason: "button" }, now);
      codes++;
    }
    const open = window.state;
    if (open.kind !== "open") throw new Error("window did not open");
    if (nonce === undefined || !sameBytes(nonce, open.nonce)) {
      closeCode();
      nonce = open.nonce;
    }
    if (window.admit(open.nonce, now)) continue;
    window.beginAttempt(now);
    now += ATTEMPT_MS;
    window.settle("failure", open.nonce, now);
    attempts++;
    guessesOnCode++;
  }
  closeCode();
  return { attempts, codes, probability: 1 - pFail };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export async function benchAttacker(): Promise<Record<string, unknown>> {
  const passkey = simulateDay("passkey");
  const long = simulateDay("long");
  return {
    limits: `${DEFAULT_POLICY.attemptsPerCode} wrong codes burn a code; ${DEFAULT_POLICY.failuresPerHour} failures/h lock out (${DEFAULT_POLICY.lockoutBaseMs / 1000} s doubling to ${DEFAULT_POLICY.lockoutMaxMs / 60_000} min)`,
    "passkey guesses per day": passkey.attempts,
    "passkey P(success) per day": passkey.probability.toExponential(2),
    "long-code guesses per day": long.attempts,
    "long-code P(success) per day": long.probability.toExponential(2),
    "passkey days to 50% (at this rate)": Math.round(Math.log(0.5) / Math.log(1 - passkey.probability)),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchAttacker());
}
