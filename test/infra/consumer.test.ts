/**
 * The published package, used as another team would: `npm pack`, installed into a scratch CDK app
 * outside the repository, the construct defined with inline profiles and granted to two roles.
 * Offline-friendly: aws-cdk-lib, constructs and cdk-nag are linked from this repository's
 * node_modules, and the client's own dependencies come from npm's cache.
 */
import { execFile } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Template } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAllowed, parseCaller } from "../../functions/core/callers.js";
import { withGrantedCallers } from "../../functions/core/granted-callers.js";
import { parseProfilesConfig } from "../../functions/core/profiles.js";
import type { ValidationReport } from "../support/stack.js";

const run = promisify(execFile);
const REPOSITORY = realpathSync(join(import.meta.dirname, "../.."));

const PROFILES = {
  profiles: {
    "reports-app": {
      tenantUrl: "https://abc1234.id.cyberark.cloud",
      secretId: "cyberark/reports",
      allowedCallers: ["arn:aws:iam::111122223333:role/legacy-reports"],
    },
    "ci-deployer": { tenantUrl: "https://abc1234.id.cyberark.cloud", secretId: "cyberark/ci" },
  },
};

// The consumer's app, as its README example would write it (plain JavaScript, no build step).
const APP = `
import { App, Stack, Validations } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import { AwsSolutionsChecks } from "cdk-nag";
import { CyberArkTokenVending } from "cyberark-token-vending/cdk";

const app = new App({ outdir: "cdk.out" });
const stack = new Stack(app, "PlatformStack");
const tokens = new CyberArkTokenVending(stack, "Tokens", ${JSON.stringify(PROFILES)});
const lambdaPrincipal = new iam.ServicePrincipal("lambda.amazonaws.com");
const reports = new iam.Role(stack, "ReportsRole", { assumedBy: lambdaPrincipal });
const ops = new iam.Role(stack, "OpsRole", { assumedBy: lambdaPrincipal });
tokens.grantGetToken(reports, "reports-app");
tokens.grantInvalidate(ops);
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
`;

let scratch = "";
let outdir = "";
let template: Template;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "ctv-consumer-"));
  // prepack builds the client, the construct and the function bundle.
  await run("npm", ["pack", "--pack-destination", scratch], { cwd: REPOSITORY });
  const tarball = readdirSync(scratch).find((file) => file.endsWith(".tgz"));
  expect(tarball).toBeDefined();

  const app = join(scratch, "app");
  mkdirSync(app);
  const linked = (name: string) => `file:${realpathSync(join(REPOSITORY, "node_modules", name))}`;
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({
      name: "platform-app",
      private: true,
      type: "module",
      dependencies: {
        "aws-cdk-lib": linked("aws-cdk-lib"),
        constructs: linked("constructs"),
        "cdk-nag": linked("cdk-nag"),
        "cyberark-token-vending": `file:${join(scratch, tarball ?? "")}`,
      },
    }),
  );
  await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"], {
    cwd: app,
  });
  writeFileSync(join(app, "app.mjs"), APP);
  await run("node", ["app.mjs"], { cwd: app });

  outdir = join(app, "cdk.out");
  template = Template.fromJSON(
    JSON.parse(readFileSync(join(outdir, "PlatformStack.template.json"), "utf8")),
  );
}, 300_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

type Statement = { Action: string; Resource: { "Fn::Join": [string, unknown[]] } };

function statementsOf(rolePrefix: string): Statement[] {
  const policies = Object.values(template.findResources("AWS::IAM::Policy")).filter((policy) =>
    JSON.stringify(policy.Properties.Roles).includes(`"${rolePrefix}`),
  );
  return policies.flatMap((policy) => policy.Properties.PolicyDocument.Statement);
}

const resourcePath = (statement: Statement | undefined) =>
  (statement?.Resource["Fn::Join"][1].at(-1) as string | undefined) ?? "";

describe("the construct in another team's CDK app, from the packed package", () => {
  it("gives grantGetToken's role execute-api:Invoke on exactly GET /tokens/<profile>", () => {
    const statements = statementsOf("ReportsRole");
    expect(statements).toHaveLength(1);
    expect(statements[0]?.Action).toBe("execute-api:Invoke");
    expect(resourcePath(statements[0])).toBe("/v1/GET/tokens/reports-app");
    expect(JSON.stringify(statements[0]?.Resource)).toMatch(/"Ref":"TokensApi[0-9A-F]{8}"/);
  });

  it("gives grantInvalidate's role execute-api:Invoke on DELETE /tokens/*", () => {
    const statements = statementsOf("OpsRole");
    expect(statements).toHaveLength(1);
    expect(statements[0]?.Action).toBe("execute-api:Invoke");
    expect(resourcePath(statements[0])).toBe("/v1/DELETE/tokens/*");
  });

  it("hands the grantee's role ARN to the function as an allowed caller of that profile", () => {
    const [fn] = Object.values(template.findResources("AWS::Lambda::Function"));
    const value = fn?.Properties.Environment.Variables.GRANTED_CALLERS;
    // CloudFormation fills in the role ARNs; stand in for it with the roles' logical IDs.
    const resolved = (value["Fn::Join"][1] as unknown[])
      .map((part) =>
        typeof part === "string"
          ? part
          : `arn:aws:iam::111122223333:role/${(part as { "Fn::GetAtt": string[] })["Fn::GetAtt"][0]}`,
      )
      .join("");
    const config = withGrantedCallers(parseProfilesConfig(PROFILES), resolved);
    const roleName = JSON.stringify(value).match(/"(ReportsRole[0-9A-F]{8})"/)?.[1] ?? "";
    const opsName = JSON.stringify(value).match(/"(OpsRole[0-9A-F]{8})"/)?.[1] ?? "";
    const session = (name: string) =>
      parseCaller(`arn:aws:sts::111122223333:assumed-role/${name}/invocation`);

    const reports = config.profiles.get("reports-app")?.allowedCallers ?? [];
    expect(isAllowed(session(roleName), reports)).toBe(true);
    expect(isAllowed(session("legacy-reports"), reports)).toBe(true);
    expect(
      isAllowed(session(roleName), config.profiles.get("ci-deployer")?.allowedCallers ?? []),
    ).toBe(false);
    expect(isAllowed(session(opsName), config.adminCallers)).toBe(true);
  });

  it("packages the prebuilt function with the profiles, without esbuild or Docker", () => {
    const [fn] = Object.values(template.findResources("AWS::Lambda::Function"));
    expect(fn?.Properties).toMatchObject({ Handler: "index.handler", Runtime: "nodejs24.x" });
    const asset = readdirSync(outdir).find(
      (entry) =>
        entry.startsWith("asset.") && readdirSync(join(outdir, entry)).includes("index.mjs"),
    );
    expect(readdirSync(join(outdir, asset ?? "")).sort()).toEqual(["index.mjs", "profiles.json"]);
    expect(JSON.parse(readFileSync(join(outdir, asset ?? "", "profiles.json"), "utf8"))).toEqual(
      PROFILES,
    );
  });

  it("deploys the dashboard", () => {
    template.resourceCountIs("AWS::CloudWatch::Dashboard", 1);
  });

  it("passes cdk-nag's AWS Solutions checks with nothing unacknowledged", () => {
    const report: ValidationReport = JSON.parse(
      readFileSync(join(outdir, "validation-report.json"), "utf8"),
    );
    const nag = report.pluginReports.find((plugin) => plugin.pluginName === "AwsSolutions");
    expect(nag?.violations).toEqual([]);
    expect(nag?.conclusion).toBe("success");
  });
});
