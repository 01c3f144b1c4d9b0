/**
 * The repository's command lines answer usage questions and set-up mistakes with a message that
 * says what to do: `npm run sim -- --help` prints its usage, and the local server with `--profiles`
 * names the missing region or credentials and how to provide them. Never a stack trace.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { withoutAwsCredentials } from "../support/no-aws-credentials.js";

const run = promisify(execFile);
const TSX = "node_modules/.bin/tsx";

async function exitOf(args: string[], env: NodeJS.ProcessEnv = process.env) {
  return run(TSX, args, { env: { ...env, NODE_NO_WARNINGS: "1" }, timeout: 60_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

const STACK_TRACE = /\n\s+at /;

describe("npm run sim", () => {
  it("--help prints the usage and exits 0", async () => {
    const result = await exitOf(["test/sim/main.ts", "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: npm run sim -- /);
    expect(result.stdout).toContain("--seeds N");
  });

  it("an unknown option gets one error line and the usage, exit 2, no stack trace", async () => {
    const result = await exitOf(["test/sim/main.ts", "--bogus"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: Unknown option '--bogus'/);
    expect(result.stderr).toContain("Usage: npm run sim");
    expect(result.stderr).not.toMatch(STACK_TRACE);
  });
});

describe("npm start -- --profiles", () => {
  const start = ["functions/local/main.ts", "--profiles", "examples/profiles.json", "--port", "0"];

  it("names the missing region and how to set it", async () => {
    const result = await exitOf(start, withoutAwsCredentials());
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      "error: cannot use DynamoDB: no AWS region: set AWS_REGION (e.g. AWS_REGION=eu-west-1), or choose a profile with a region (AWS_PROFILE=...)",
    );
  });

  it("names the missing credentials and the ways to provide them", async () => {
    const result = await exitOf(start, { ...withoutAwsCredentials(), AWS_REGION: "eu-west-1" });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(
      /^error: cannot use DynamoDB: no AWS credentials: set AWS_PROFILE .* or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/,
    );
    expect(result.stderr).not.toMatch(STACK_TRACE);
  });
});
