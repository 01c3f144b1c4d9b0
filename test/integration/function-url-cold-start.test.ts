/**
 * The Lambda entry behind the function URL door: it starts without knowing its URL (nothing in its
 * environment names it), looks the URL up from Lambda's API at the first event (here a stand-in on
 * 127.0.0.1, reached through AWS_ENDPOINT_URL_LAMBDA), answers 503 while it cannot, and then only
 * events of that URL's host.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { captureOutput, type OutputCapture } from "../support/capture-output.js";
import {
  functionUrlEvent,
  lambdaContext,
  TEST_URL,
  TEST_URL_CONFIG,
  type UrlEventOptions,
} from "../support/events.js";

const ACCOUNT = "111122223333";
const GRANTED_ROLE = `arn:aws:iam::${ACCOUNT}:role/PlatformStack-ReportsRole-1AB2C3`;
const CALLER = `arn:aws:sts::${ACCOUNT}:assumed-role/PlatformStack-ReportsRole-1AB2C3/fn`;

let lambdaApi: Server;
let lookups: string[];
let answers: number[];
let output: OutputCapture;
const saved = { ...process.env };

beforeAll(async () => {
  lambdaApi = createServer((request, response) => {
    lookups.push(request.url ?? "");
    const status = answers.shift() ?? 200;
    response.writeHead(status, { "content-type": "application/json" });
    response.end(
      JSON.stringify(
        status === 200
          ? { FunctionUrl: TEST_URL_CONFIG.functionUrl, AuthType: "AWS_IAM" }
          : { Message: "Rate exceeded" },
      ),
    );
  });
  await new Promise<void>((resolve) => lambdaApi.listen(0, "127.0.0.1", resolve));
});

afterAll(async () => {
  await new Promise((resolve) => lambdaApi.close(resolve));
});

beforeEach(() => {
  lookups = [];
  answers = [];
  const directory = mkdtempSync(join(tmpdir(), "ctv-url-cold-start-"));
  const profilesFile = join(directory, "profiles.json");
  // The profile's secret does not exist: a caller the door admits gets configuration_error.
  writeFileSync(
    profilesFile,
    JSON.stringify({
      profiles: {
        "ci-deployer": {
          tenantUrl: "https://abc1234.id.cyberark.cloud",
          secretId: `url-cold-start-missing-${Date.now()}`,
        },
      },
    }),
  );
  Object.assign(process.env, {
    PROFILES_FILE: profilesFile,
    TABLE_NAME: "url-cold-start-table",
    KMS_KEY_ID: "alias/url-cold-start",
    DEPLOYMENT_NAME: "url-cold-start",
    FRONT_DOOR: "function-url",
    AWS_LAMBDA_FUNCTION_NAME: "vend-fn",
    AWS_REGION: "eu-west-1",
    AWS_ENDPOINT_URL_LAMBDA: `http://127.0.0.1:${(lambdaApi.address() as AddressInfo).port}`,
    GRANTED_CALLERS: JSON.stringify({ profiles: { "ci-deployer": [GRANTED_ROLE] } }),
  });
  delete process.env.API_ID;
  delete process.env.API_STAGE;
  vi.resetModules();
  output = captureOutput();
});

afterEach(() => {
  output.stop();
  process.env = { ...saved };
});

type Entry = typeof import("../../functions/vend/handler.js").handler;

async function call(handler: Entry, options: UrlEventOptions = {}) {
  const event = functionUrlEvent({ callerArn: CALLER, ...options });
  const response = await handler(event, lambdaContext());
  return {
    status: response.statusCode,
    error: JSON.parse(response.body).error,
    retryAfter: response.headers?.["Retry-After"],
  };
}

describe("Lambda entry behind the function URL door", () => {
  it("starts without its URL, and looks it up once, at the first event", async () => {
    const { handler } = await import("../../functions/vend/handler.js");
    expect(lookups).toEqual([]);

    const first = await call(handler);
    const second = await call(handler);

    expect(first).toMatchObject({ status: 500, error: "configuration_error" });
    expect(second).toMatchObject({ status: 500, error: "configuration_error" });
    expect(lookups).toEqual(["/2021-10-31/functions/vend-fn/url"]);
  });

  it("answers 503 with Retry-After while Lambda's API fails, then serves once it answers", async () => {
    answers = [500];
    const { handler } = await import("../../functions/vend/handler.js");

    const failed = await call(handler);
    const retried = await call(handler);

    expect(failed).toMatchObject({ status: 503, error: "upstream_unavailable" });
    expect(failed.retryAfter).toMatch(/^[1-9]\d*$/);
    expect(retried).toMatchObject({ status: 500, error: "configuration_error" });
    expect(lookups).toHaveLength(2);
  });

  it("refuses an event of another host with 403", async () => {
    const { handler } = await import("../../functions/vend/handler.js");

    const forged = await call(handler, { domainName: `${TEST_URL.urlId}.example.com` });

    expect(forged).toMatchObject({ status: 403, error: "access_denied" });
  });
});
