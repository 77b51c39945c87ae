import { defineConfig } from "vitest/config";

// The slow reliability scenarios (npm run test:reliability); the fast ones run in npm test.
export default defineConfig({
  test: {
    include: ["test/reliability-slow/**/*.test.ts"],
    testTimeout: 900_000,
    hookTimeout: 120_000,
    globalSetup: ["./test/harness/global-setup.ts"],
    fileParallelism: false,
  },
});
