import { beforeEach, describe, expect, it } from "vitest";
import { AccessDeniedError } from "../../functions/core/errors.js";
import type { MetricName } from "../../functions/core/metrics.js";
import type { Metrics } from "../../functions/core/ports.js";
import { type ProfilesConfig, parseProfilesConfig } from "../../functions/core/profiles.js";
import { type ScopeSet, scopeSetOf } from "../../functions/core/scope-set.js";
import { createHandler } from "../../functions/vend/app.js";
import { lambdaContext, restEvent, TEST_API } from "../support/events.js";
import { ACCOUNT, caller } from "../support/fakes.js";
import { type VendorHarness, vendorHarness } from "../support/vendor-harness.js";

const REPORT_JOB = `arn:aws:sts::${ACCOUNT}:assumed-role/report-job/nightly`;
const DEPLOY_JOB = `arn:aws:sts::${ACCOUNT}:assumed-role/deploy-job/run-7`;

class RecordingMetrics implements Metrics {
  readonly added: { metric: MetricName; profile: string }[] = [];
  add(metric: MetricName, profile: string): void {
    this.added.push({ metric, profile });
  }
}

// One service user shared by a read-only report job and a deploy job.
function sharedConfig(): ProfilesConfig {
  return parseProfilesConfig({
    profiles: {
      shared: {
        tenantUrl: "https://abc1234.id.cyberark.cloud",
        secretId: "cyberark/reports",
        applicationId: "deploy_api",
        scope: "read",
        scopes: ["read", "deploy"],
        allowedCallers: [
          { caller: `arn:aws:iam::${ACCOUNT}:role/report-job`, scopes: ["read"] },
          { caller: `arn:aws:iam::${ACCOUNT}:role/deploy-job`, scopes: ["read", "deploy"] },
        ],
      },
    },
  });
}

const set = (text: string): ScopeSet => scopeSetOf(text.split(" "));
const get = (arn: string, scope?: ScopeSet) => ({
  profile: "shared",
  caller: caller(arn),
  minValiditySeconds: 300,
  ...(scope === undefined ? {} : { scope }),
});

let h: VendorHarness;
let metrics: RecordingMetrics;

beforeEach(() => {
  h = vendorHarness();
  metrics = new RecordingMetrics();
});

describe("TokenVendor.getToken: the caller's scope ceiling", () => {
  it("refuses an ask outside the caller's ceiling before any CyberArk request, naming the scope", async () => {
    const vendor = h.newVendor(sharedConfig(), metrics);

    const refused = await vendor.getToken(get(REPORT_JOB, set("deploy read"))).then(
      () => undefined,
      (error: unknown) => error,
    );

    expect(refused).toBeInstanceOf(AccessDeniedError);
    expect((refused as AccessDeniedError).description).toBe(
      'The caller may not ask for the scope "deploy" of this profile.',
    );
    expect(h.identity.requests).toEqual([]);
    expect(metrics.added).toEqual([{ metric: "Denied", profile: "shared" }]);
  });

  it("serves an ask within the caller's ceiling, and the default to a caller that names none", async () => {
    const vendor = h.newVendor(sharedConfig(), metrics);

    await expect(vendor.getToken(get(DEPLOY_JOB, set("read deploy")))).resolves.toMatchObject({
      cache: "upstream",
    });
    await expect(vendor.getToken(get(REPORT_JOB))).resolves.toBeDefined();
    expect(metrics.added.filter((added) => added.metric === "Denied")).toEqual([]);
  });
});

describe("GET /tokens/{profile}?scope= through the handler", () => {
  function handlerOf() {
    const vendor = h.newVendor(sharedConfig());
    return createHandler({ vendor, clock: h.clock, logger: h.logger, api: TEST_API });
  }
  async function call(handler: ReturnType<typeof handlerOf>, arn: string, scope?: string) {
    const event = restEvent({
      profile: "shared",
      callerArn: arn,
      ...(scope === undefined ? {} : { query: { scope: [scope] } }),
    });
    const response = await handler(event, lambdaContext());
    return { ...response, json: response.body ? JSON.parse(response.body) : undefined };
  }

  it("answers an ask outside the ceiling with the contract's 403 JSON naming the scope", async () => {
    const handler = handlerOf();

    const response = await call(handler, REPORT_JOB, "read deploy");

    expect(response.statusCode).toBe(403);
    expect(response.json).toEqual({
      error: "access_denied",
      error_description: 'The caller may not ask for the scope "deploy" of this profile.',
      request_id: "req-1",
    });
  });

  it("logs the refused ask with the scope in its audit line, and no line ever holds a token", async () => {
    const handler = handlerOf();
    h.identity.next.push(() => ({ accessToken: "deploy-token-secret", expiresIn: 3600 }));

    const granted = await call(handler, DEPLOY_JOB, "deploy read");
    await call(handler, REPORT_JOB, "deploy");

    expect(granted.json.access_token).toBe("deploy-token-secret");
    const audit = h.logger.lines.filter((line) => line.message === "token request");
    expect(audit.map((line) => line.attributes)).toEqual([
      expect.objectContaining({ caller: DEPLOY_JOB, status: 200, outcome: "ok" }),
      expect.objectContaining({
        caller: REPORT_JOB,
        status: 403,
        outcome: "access_denied",
        reason: 'caller may not ask for the scope "deploy" of profile "shared" (asked "deploy")',
      }),
    ]);
    expect(JSON.stringify(h.logger.lines)).not.toContain("deploy-token-secret");
  });

  it("answers a malformed scope with 400 invalid_request before the ceiling is consulted", async () => {
    const response = await call(handlerOf(), DEPLOY_JOB, 'read "deploy"');

    expect(response.statusCode).toBe(400);
    expect(response.json).toMatchObject({ error: "invalid_request" });
    expect(response.json.error_description).not.toContain('"deploy"');
  });
});
