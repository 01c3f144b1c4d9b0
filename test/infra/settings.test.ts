import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { SettingsError, settingsFromContext } from "../../infra/settings.js";

const from = (context: Record<string, unknown>) => settingsFromContext((key) => context[key]);

describe("stack settings from CDK context", () => {
  it("needs a profiles file and defaults everything else", () => {
    expect(from({ profiles: "examples/profiles.json" })).toEqual({
      profilesFile: resolve("examples/profiles.json"),
      endpoint: { type: "REGIONAL" },
      tracing: false,
    });
  });

  it("reads every setting", () => {
    expect(
      from({
        profiles: "p.json",
        apiAccounts: "111122223333, 444455556666",
        endpointType: "private",
        vpcEndpointIds: "vpce-0123456789abcdef0",
        alarmTopicArn: "arn:aws:sns:eu-west-1:111122223333:alerts",
        tracing: "true",
        logRetentionDays: "90",
      }),
    ).toEqual({
      profilesFile: resolve("p.json"),
      apiAccess: { accounts: ["111122223333", "444455556666"] },
      endpoint: { type: "PRIVATE", vpcEndpointIds: ["vpce-0123456789abcdef0"] },
      alarmTopicArn: "arn:aws:sns:eu-west-1:111122223333:alerts",
      tracing: true,
      logRetention: 90,
    });
  });

  it("accepts values from cdk.json as JSON types", () => {
    expect(
      from({ profiles: "p.json", apiAccounts: ["111122223333"], tracing: true }),
    ).toMatchObject({
      apiAccess: { accounts: ["111122223333"] },
      tracing: true,
    });
  });

  it.each([
    [{}, "no profiles file: pass -c profiles=path/to/profiles.json"],
    [{ apiAccounts: "12345" }, 'apiAccounts: "12345" is not a 12-digit account ID'],
    [
      { apiAccounts: "111122223333", organizationId: "o-abcdefghij" },
      "apiAccounts and organizationId are exclusive",
    ],
    [{ organizationId: "org-1" }, 'organizationId: "org-1" is not an organization ID'],
    [{ endpointType: "EDGE" }, 'endpointType: "EDGE" must be REGIONAL or PRIVATE'],
    [{ endpointType: "PRIVATE" }, "endpointType PRIVATE needs vpcEndpointIds"],
    [
      { endpointType: "PRIVATE", vpcEndpointIds: "vpc-1" },
      'vpcEndpointIds: "vpc-1" is not a VPC endpoint ID',
    ],
    [{ alarmTopicArn: "alerts" }, 'alarmTopicArn: "alerts" is not an SNS topic ARN'],
    [{ tracing: "yes" }, 'tracing: "yes" must be true or false'],
    [{ logRetentionDays: "42" }, 'logRetentionDays: "42" is not a CloudWatch Logs retention'],
  ])("refuses %j with a message naming the key", (context, message) => {
    const profiles =
      "profiles" in context || Object.keys(context).length === 0 ? {} : { profiles: "p.json" };
    expect(() => from({ ...profiles, ...context })).toThrow(SettingsError);
    expect(() => from({ ...profiles, ...context })).toThrow(message);
  });

  it("reads frontDoor, and refuses a PRIVATE endpoint for the function URL door", () => {
    expect(from({ profiles: "p.json", frontDoor: "function-url" })).toMatchObject({
      frontDoor: "function-url",
    });
    expect(from({ profiles: "p.json", frontDoor: "rest-api" })).toMatchObject({
      frontDoor: "rest-api",
    });
    expect(() => from({ profiles: "p.json", frontDoor: "lambda" })).toThrow(
      /frontDoor: "lambda" must be rest-api or function-url/,
    );
    expect(() =>
      from({
        profiles: "p.json",
        frontDoor: "function-url",
        endpointType: "PRIVATE",
        vpcEndpointIds: "vpce-0123456789abcdef0",
      }),
    ).toThrow(/a function URL has no private endpoint/);
  });
});
