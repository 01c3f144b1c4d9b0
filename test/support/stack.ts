/**
 * Builds the stack for template tests: bundling skipped, cdk-nag attached, output in a temp dir.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Validations } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { TokenVendingStack, type TokenVendingStackProps } from "../../infra/token-vending-stack.js";

/** A synthesized stack: its template, the app's output dir and the validation report. */
export interface SynthesizedStack {
  readonly stack: TokenVendingStack;
  readonly template: Template;
  readonly outdir: string;
  readonly validationReport: () => ValidationReport;
}

/** The parts of CDK's validation-report.json the tests read. */
export interface ValidationReport {
  pluginReports: {
    pluginName: string;
    conclusion: string;
    violations: {
      ruleName: string;
      severity: string;
      violatingConstructs: { constructPath: string }[];
    }[];
    suppressedViolations: { ruleName: string; reason: string }[];
  }[];
}

/**
 * Synthesizes {@link TokenVendingStack} with the example profiles unless told otherwise;
 * `extend` may add constructs before synthesis.
 */
export function synthesizeStack(
  props: Partial<TokenVendingStackProps> = {},
  extend: (stack: TokenVendingStack) => void = () => {},
): SynthesizedStack {
  const outdir = mkdtempSync(join(tmpdir(), "ctv-cdk-"));
  const app = new App({ outdir, context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new TokenVendingStack(app, "CyberArkTokenVending", {
    profilesFile: "examples/profiles.json",
    ...props,
  });
  extend(stack);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const template = Template.fromStack(stack);
  return {
    stack,
    template,
    outdir,
    validationReport: () =>
      JSON.parse(readFileSync(join(outdir, "validation-report.json"), "utf8")),
  };
}

/** Settings that change the template's shape: every check runs on each. */
export const STACK_VARIANTS: [string, Partial<TokenVendingStackProps>][] = [
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
