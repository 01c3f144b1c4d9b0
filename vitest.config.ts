import { defineConfig } from "vitest/config";

// Tests that need Python tools (moto_server, cfn-lint; pinned in test/requirements.txt) or a
// network listener form the "integration" project; everything else is "unit" and runs on a
// machine with only Node (`npm run test:unit`).
const NEEDS_PYTHON = ["test/integration/**/*.test.ts", "test/infra/cfn-lint.test.ts"];

export default defineConfig({
  test: {
    // Forked workers read NODE_EXTRA_CA_CERTS (set by the integration global setup) when they start.
    pool: "forks",
    testTimeout: 20_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: [
            "test/unit/**/*.test.ts",
            "test/infra/**/*.test.ts",
            "test/protocol/**/*.test.ts",
          ],
          exclude: NEEDS_PYTHON,
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: NEEDS_PYTHON,
          // moto_server and a test CA, started once for the whole run; see the file for why.
          globalSetup: ["test/support/global-setup.ts"],
        },
      },
    ],
  },
});
