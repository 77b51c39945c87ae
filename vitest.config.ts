import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "server/test/**/*.test.ts", "test/**/*.test.ts"],
    // the slow scenarios run with npm run test:reliability
    exclude: ["**/node_modules/**", "test/bench/**", "test/reliability-slow/**"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Test files share one PostgreSQL cluster started by the global setup; each file
    // makes its own databases, so files can run in parallel.
    globalSetup: ["./test/harness/global-setup.ts"],
    fileParallelism: true,
    maxWorkers: 2,
  },
});
