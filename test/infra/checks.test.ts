import * as sqs from "aws-cdk-lib/aws-sqs";
import { describe, expect, it } from "vitest";
import { STACK_VARIANTS, synthesizeStack } from "../support/stack.js";

describe("cdk-nag AwsSolutionsChecks", () => {
  it.each(STACK_VARIANTS)("finds nothing unacknowledged (%s)", (_, props, extend) => {
    const report = synthesizeStack(props, extend).validationReport();
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
