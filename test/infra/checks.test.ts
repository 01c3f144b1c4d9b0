import * as sqs from "aws-cdk-lib/aws-sqs";
import { describe, expect, it } from "vitest";
import type { TokenVendingStackProps } from "../../infra/token-vending-stack.js";
import { synthesizeStack } from "../support/stack.js";

const variants: [string, Partial<TokenVendingStackProps>][] = [
  ["defaults", {}],
  [
    "tracing, organization and alarm topic",
    {
      tracing: true,
      apiAccess: { organizationId: "o-abcdefghij" },
      alarmTopicArn: "arn:aws:sns:eu-west-1:111122223333:alerts",
    },
  ],
  [
    "private endpoint",
    { endpoint: { type: "PRIVATE", vpcEndpointIds: ["vpce-0123456789abcdef0"] } },
  ],
];

describe("cdk-nag AwsSolutionsChecks", () => {
  it.each(variants)("finds nothing unacknowledged (%s)", (_, props) => {
    const report = synthesizeStack(props).validationReport();
    const nag = report.pluginReports.find((plugin) => plugin.pluginName === "AwsSolutions");

    expect(nag?.conclusion).toBe("success");
    expect(nag?.violations).toEqual([]);
    for (const acknowledged of nag?.suppressedViolations ?? []) {
      expect(acknowledged.reason.length, acknowledged.ruleName).toBeGreaterThan(60);
    }
  });

  it("is really running: an unacknowledged finding fails the synth", () => {
    expect(() => synthesizeStack({}, (stack) => new sqs.Queue(stack, "QueueWithoutDlq"))).toThrow(
      /SQS queue/,
    );
  });
});
