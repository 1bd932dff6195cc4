import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration tests spawn compiled programs (real noble/bleno in child processes): build dist once first.
    globalSetup: ["test/helpers/global-setup.ts"],
    pool: "forks",
    testTimeout: 20_000,
    hookTimeout: 20_000,
    teardownTimeout: 10_000,
    // "hanging-process" names any handle (socket, child, timer) still open when the run ends.
    // Under CI a JSON report too, from which .ci/run prints the closing "N passed, N failed" line.
    reporters: process.env["CI"] ? ["default", "hanging-process", "json"] : ["default", "hanging-process"],
    outputFile: { json: ".tmp/vitest-report.json" },
  },
});
