/**
 * The Lambda entry at cold start: callers granted in CDK code (GRANTED_CALLERS) join the profiles
 * file's, and a malformed value stops the start with a message naming the variable.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { captureOutput, type OutputCapture } from "../support/capture-output.js";
import { lambdaContext, restEvent } from "../support/events.js";

const ACCOUNT = "111122223333";
const GRANTED_ROLE = `arn:aws:iam::${ACCOUNT}:role/PlatformStack-ReportsRole-1AB2C3`;
const API_ID = "a1b2c3d4e5";
const STAGE = "v1";

let output: OutputCapture;
const saved = { ...process.env };

beforeEach(() => {
  const directory = mkdtempSync(join(tmpdir(), "ctv-cold-start-"));
  const profilesFile = join(directory, "profiles.json");
  // The profile lists no caller of its own: only a grant can let anyone in. Its secret does not
  // exist, so an admitted caller gets configuration_error, and a refused one access_denied.
  writeFileSync(
    profilesFile,
    JSON.stringify({
      profiles: {
        "reports-app": {
          tenantUrl: "https://abc1234.id.cyberark.cloud",
          secretId: `cold-start-missing-${Date.now()}`,
        },
      },
    }),
  );
  Object.assign(process.env, {
    PROFILES_FILE: profilesFile,
    TABLE_NAME: "cold-start-table",
    KMS_KEY_ID: "alias/cold-start",
    API_ID,
    API_STAGE: STAGE,
    DEPLOYMENT_NAME: "cold-start",
    GRANTED_CALLERS: JSON.stringify({ profiles: { "reports-app": [GRANTED_ROLE] } }),
  });
  vi.resetModules();
  output = captureOutput();
});

afterEach(() => {
  output.stop();
  process.env = { ...saved };
});

async function getToken(callerArn: string) {
  const { handler } = await import("../../functions/vend/handler.js");
  const event = restEvent({ profile: "reports-app", callerArn });
  Object.assign(event.requestContext, { apiId: API_ID, stage: STAGE });
  const response = await handler(event, lambdaContext());
  return { status: response.statusCode, error: JSON.parse(response.body).error };
}

describe("Lambda entry at cold start", () => {
  it("admits a role granted in CDK code to the profile it was granted", async () => {
    const granted = await getToken(
      `arn:aws:sts::${ACCOUNT}:assumed-role/PlatformStack-ReportsRole-1AB2C3/fn`,
    );
    const other = await getToken(`arn:aws:sts::${ACCOUNT}:assumed-role/SomeoneElse/fn`);

    expect(granted).toEqual({ status: 500, error: "configuration_error" });
    expect(other).toEqual({ status: 403, error: "access_denied" });
  });

  it("refuses to start with a malformed GRANTED_CALLERS, naming the variable", async () => {
    process.env.GRANTED_CALLERS = JSON.stringify({ profiles: { "reports-app": ["role/x"] } });

    await expect(import("../../functions/vend/handler.js")).rejects.toThrow(
      /GRANTED_CALLERS: profile "reports-app" entry 0/,
    );
  });
});
