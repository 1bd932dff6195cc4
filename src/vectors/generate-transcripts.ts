/**
 * Builds hardware/vectors/transcripts.json by replaying the scenarios below (src/vectors/transcripts.ts
 * records every value and message). Regenerate after a deliberate protocol change only, and review the
 * diff: firmware authors implement against this file.
 *
 *   npx tsc -p tsconfig.build.json && node dist/src/vectors/generate-transcripts.js > hardware/vectors/transcripts.json
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  runTranscript,
  TRANSCRIPTS_FORMAT,
  TRANSCRIPTS_KIND,
  type TranscriptInputs,
  type TranscriptVector,
} from "./transcripts.js";

const base = {
  profile: { name: "OpenClaw-7A3F", model: "OpenClaw Claw 1", firmware: "1.0.0" },
  controllerName: "alice-laptop",
  ttlMs: 120_000,
  iterations: 1000,
  openAt: 1000,
  attemptGapMs: 5000,
  stepMs: 40,
} satisfies Partial<TranscriptInputs>;

export const SCENARIOS: Array<{ name: string; description: string; inputs: TranscriptInputs }> = [
  {
    name: "passkey, first bond (admin)",
    description:
      "A 6-digit passkey window; the controller types the code as displayed ('123 456') and pair-setup completes in two round trips: Start, Challenge, Finish, Done. The first bond is admin and provisional on the device.",
    inputs: {
      ...base,
      accessorySeed: "openclaw transcript 1 accessory",
      controllerSeed: "openclaw transcript 1 controller",
      format: "passkey",
      attempts: [{ typed: "{display}" }],
    },
  },
  {
    name: "long code typed sloppily",
    description:
      "A long code window; the person types the code in lower case with spaces instead of dashes. Normalisation gives the canonical code, which is the PBKDF2 password.",
    inputs: {
      ...base,
      accessorySeed: "openclaw transcript 2 accessory",
      controllerSeed: "openclaw transcript 2 controller",
      format: "long",
      ttlMs: 300_000,
      attempts: [{ typed: "{sloppy}" }],
    },
  },
  {
    name: "wrong code, then the right one",
    description:
      "First attempt with a wrong passkey: the device counts the attempt when it sends confirmV; the controller finds confirmV wrong and sends PairSetupAbort{WRONG_CODE}; the device answers Error WRONG_CODE{attemptsLeft 4}. The second attempt (fresh x, y, static key) succeeds and the refund leaves the window used.",
    inputs: {
      ...base,
      accessorySeed: "openclaw transcript 3 accessory",
      controllerSeed: "openclaw transcript 3 controller",
      format: "passkey",
      attempts: [{ typed: "000 001" }, { typed: "{code}" }],
    },
  },
  {
    name: "pair-setup, then verify and a first session request",
    description:
      "Pair-setup as in the first transcript, then on a new link: VerifyStart (Noise KK message 1), VerifyAccept (message 2), which makes the provisional bond permanent, then one encrypted session request (status) and its answer. See section 9 of hardware/PROTOCOL.md for the verify payloads and session framing.",
    inputs: {
      ...base,
      accessorySeed: "openclaw transcript 4 accessory",
      controllerSeed: "openclaw transcript 4 controller",
      format: "passkey",
      attempts: [{ typed: "{display}" }],
      verify: { request: "status" },
    },
  },
];

export function generateTranscripts(): {
  format: string;
  kind: string;
  description: string;
  vectors: TranscriptVector[];
} {
  return {
    format: TRANSCRIPTS_FORMAT,
    kind: TRANSCRIPTS_KIND,
    description:
      "OpenClaw Pair v1 pair-setup transcripts with fixed randomness (seededRandom: SHA-256(seed || u32 BE counter) blocks, src/protocol/random.ts). See hardware/PROTOCOL.md for every format; src/vectors/transcripts.ts for the random draw order. Hex is lowercase; 'at' is the device's monotonic time in ms when a message is handled.",
    vectors: SCENARIOS.map((s) => {
      const r = runTranscript(s.inputs);
      return { name: s.name, description: s.description, inputs: s.inputs, ...r };
    }),
  };
}

const isMain = (() => {
  try {
    return (
      process.argv[1] !== undefined &&
      realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))
    );
  } catch {
    return false;
  }
})();

if (isMain) process.stdout.write(`${JSON.stringify(generateTranscripts(), null, 2)}\n`);
