/**
 * Builds the stack for template tests: bundling skipped, cdk-nag attached, output in a temp dir.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Validations } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import * as iam from "aws-cdk-lib/aws-iam";
import { AwsSolutionsChecks } from "cdk-nag";
import { CyberArkTokenVending, type ProfilesDefinition } from "../../infra/token-vending.js";
import { TokenVendingStack, type TokenVendingStackProps } from "../../infra/token-vending-stack.js";

/** The example profiles file, read once. */
export const EXAMPLE_PROFILES: ProfilesDefinition =
  CyberArkTokenVending.profilesFromFile("examples/profiles.json");

/** The accounts the example profiles name, which the API must admit (synth checks it). */
export const EXAMPLE_API_ACCESS = { accounts: ["111122223333", "444455556666"] };

/** {@link EXAMPLE_PROFILES}, ci-deployer kept warm: a deployment with the renewal schedule. */
export const PREWARM_PROFILES: ProfilesDefinition = {
  ...EXAMPLE_PROFILES,
  profiles: Object.fromEntries(
    Object.entries(EXAMPLE_PROFILES.profiles).map(([name, profile]) => [
      name,
      name === "ci-deployer" ? { ...profile, prewarm: true } : profile,
    ]),
  ),
};

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
  // The example profiles name two accounts, which the API must admit (synth checks it).
  const example = { ...EXAMPLE_PROFILES, apiAccess: EXAMPLE_API_ACCESS };
  const stack = new TokenVendingStack(app, "CyberArkTokenVending", {
    ...(props.profiles ? { profiles: props.profiles } : example),
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

type Extend = (stack: TokenVendingStack) => void;

// Roles granted through the construct, as an app would grant its own functions.
const withGrants: Extend = (stack) => {
  const role = (id: string) =>
    new iam.Role(stack, id, { assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com") });
  stack.vending.grantGetToken(role("ReportsRole"), "reports-app");
  stack.vending.grantInvalidate(role("OpsRole"));
};

/** Settings that change the template's shape: every check runs on each. */
export const STACK_VARIANTS: [string, Partial<TokenVendingStackProps>, Extend?][] = [
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
  ["prewarm profiles (renewal schedule)", { ...PREWARM_PROFILES, apiAccess: EXAMPLE_API_ACCESS }],
  [
    "function URL door, accounts and roles granted in code",
    { frontDoor: "function-url" },
    withGrants,
  ],
  [
    "function URL door, organization, tracing, renewal schedule",
    {
      ...PREWARM_PROFILES,
      frontDoor: "function-url",
      apiAccess: { organizationId: "o-abcdefghij" },
      tracing: true,
    },
  ],
];
