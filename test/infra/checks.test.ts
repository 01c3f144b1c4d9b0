import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import * as iam from "aws-cdk-lib/aws-iam";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { describe, expect, it } from "vitest";
import type { TokenVendingStack, TokenVendingStackProps } from "../../infra/token-vending-stack.js";
import { synthesizeStack } from "../support/stack.js";

const run = promisify(execFile);

type Extend = (stack: TokenVendingStack) => void;

// Roles granted through the construct, as an app would grant its own functions.
const withGrants: Extend = (stack) => {
  const role = (id: string) =>
    new iam.Role(stack, id, { assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com") });
  stack.vending.grantGetToken(role("ReportsRole"), "reports-app");
  stack.vending.grantInvalidate(role("OpsRole"));
};

const variants: [string, Partial<TokenVendingStackProps>, Extend?][] = [
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
  ["roles granted in code", {}, withGrants],
];

describe("cdk-nag AwsSolutionsChecks", () => {
  it.each(variants)("finds nothing unacknowledged (%s)", (_, props, extend) => {
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

describe("cfn-lint", () => {
  it.each(variants)(
    "reports no error or warning on the template (%s; W3005 ignored)",
    async (_, props, extend) => {
      const { outdir } = synthesizeStack(props, extend);
      const templates = readdirSync(outdir).filter((file) => file.endsWith(".template.json"));
      expect(templates).toHaveLength(1);

      const result = await run("cfn-lint", [
        "--ignore-checks",
        "W3005",
        "--",
        ...templates.map((t) => join(outdir, t)),
      ])
        .then(() => ({ code: 0, stdout: "" }))
        .catch((error: NodeJS.ErrnoException & { stdout?: string }) => {
          if (error.code === "ENOENT")
            throw new Error("cfn-lint is required: pip install cfn-lint");
          return { code: Number(error.code), stdout: error.stdout ?? "" };
        });

      expect(result.stdout).toBe("");
      expect(result.code).toBe(0);
    },
  );
});
