import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // moto_server and a test CA, started once for the whole run; see the file for why.
    globalSetup: ["test/support/global-setup.ts"],
    // Forked workers read NODE_EXTRA_CA_CERTS (set by the global setup) when they start.
    pool: "forks",
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
