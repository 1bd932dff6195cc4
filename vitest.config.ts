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
    // Fail the run if a test leaves a handle open instead of hanging CI.
    dangerouslyIgnoreUnhandledErrors: false,
  },
});
