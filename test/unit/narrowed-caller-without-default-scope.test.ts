/**
 * Review attack on issue 25: a profile that declares `scopes` but no default `scope`. A caller
 * whose own ceiling is narrower than the profile's asks for nothing: the service then sends no
 * `scope` to CyberArk, whose app grants its own defaults, which the service never checked
 * against that caller's ceiling.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { ProfilesConfigError, parseProfilesConfig } from "../../functions/core/profiles.js";
import { createHandler } from "../../functions/vend/app.js";
import { lambdaContext, restEvent, TEST_API } from "../support/events.js";
import { ACCOUNT } from "../support/fakes.js";
import { type VendorHarness, vendorHarness } from "../support/vendor-harness.js";

const REPORT_JOB = `arn:aws:sts::${ACCOUNT}:assumed-role/report-job/nightly`;

function config() {
  return parseProfilesConfig({
    profiles: {
      shared: {
        tenantUrl: "https://abc1234.id.cyberark.cloud",
        secretId: "cyberark/reports",
        applicationId: "deploy_api",
        // No "scope": callers that name none get whatever the app grants by default.
        scopes: ["read", "deploy"],
        allowedCallers: [{ caller: `arn:aws:iam::${ACCOUNT}:role/report-job`, scopes: ["read"] }],
      },
    },
  });
}

let h: VendorHarness;
beforeEach(() => {
  h = vendorHarness();
});

describe("attack: a narrowed caller of a profile without a default scope", () => {
  it("is never handed a token asked without scope (the app's defaults, beyond its ceiling): refused at config or at the request", async () => {
    let parsed: ReturnType<typeof config> | undefined;
    try {
      parsed = config();
    } catch (error) {
      // Refusing the file ("scopes" without "scope", or a narrowed caller without a default
      // inside its ceiling) is one acceptable fix.
      expect(error).toBeInstanceOf(ProfilesConfigError);
      return;
    }
    // CyberArk's app, asked without scope, grants its defaults: here everything.
    h.identity.next.push(() => ({
      accessToken: "app-default-token",
      expiresIn: 3600,
      scope: "deploy read",
    }));
    const vendor = h.newVendor(parsed);
    const handler = createHandler({ vendor, clock: h.clock, logger: h.logger, api: TEST_API });

    const response = await handler(
      restEvent({ profile: "shared", callerArn: REPORT_JOB }),
      lambdaContext(),
    );

    // The other acceptable fix: a 403 telling the caller to ask for a scope explicitly.
    expect(h.identity.requests).toEqual([]);
    expect(response.statusCode).toBe(403);
    expect(response.body).not.toContain("app-default-token");
  });
});
