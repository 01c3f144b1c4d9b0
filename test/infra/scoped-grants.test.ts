import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import * as iam from "aws-cdk-lib/aws-iam";
import { describe, expect, it } from "vitest";
import { parseCaller } from "../../functions/core/callers.js";
import { AccessDeniedError } from "../../functions/core/errors.js";
import { withGrantedCallers } from "../../functions/core/granted-callers.js";
import { ProfilesConfigError, parseProfilesConfig } from "../../functions/core/profiles.js";
import { askFor } from "../../functions/core/scope-ceilings.js";
import { type ScopeSet, scopeSetOf } from "../../functions/core/scope-set.js";
import { CyberArkTokenVending, type ProfilesDefinition } from "../../infra/token-vending.js";
import { synthesizeStack } from "../support/stack.js";

const ACCOUNT = "111122223333";
const tenantUrl = "https://abc1234.id.cyberark.cloud";

// One service user shared by a read-only report job and a deploy job.
const SHARED: ProfilesDefinition = {
  profiles: {
    shared: {
      tenantUrl,
      secretId: "cyberark/shared",
      applicationId: "deploy_api",
      scope: "read",
      scopes: ["read", "deploy"],
      allowedCallers: [
        { caller: `arn:aws:iam::${ACCOUNT}:role/report-job`, scopes: ["read"] },
        { caller: `arn:aws:iam::${ACCOUNT}:role/deploy-job`, scopes: ["read", "deploy"] },
      ],
    },
    platform: { tenantUrl, secretId: "cyberark/platform", allowedCallers: [ACCOUNT] },
  },
};

function consumer(profiles: ProfilesDefinition = SHARED) {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new Stack(app, "Consumer", { env: { account: ACCOUNT, region: "eu-west-1" } });
  const vending = new CyberArkTokenVending(stack, "Tokens", profiles);
  // Roles of fixed names, so the granted callers are plain ARNs in the template.
  const role = (name: string) =>
    iam.Role.fromRoleArn(stack, name, `arn:aws:iam::${ACCOUNT}:role/${name}`);
  return { stack, vending, role };
}

function grantedCallersOf(template: Template): string {
  const [fn] = Object.values(template.findResources("AWS::Lambda::Function"));
  return fn?.Properties.Environment.Variables.GRANTED_CALLERS;
}

const set = (text: string): ScopeSet => scopeSetOf(text.split(" "));
const session = (role: string) => parseCaller(`arn:aws:sts::${ACCOUNT}:assumed-role/${role}/s1`);

describe("a profile with scopes and caller ceilings", () => {
  it("synthesizes in the repository's stack with no cdk-nag error", () => {
    const { template, validationReport } = synthesizeStack({
      ...SHARED,
      apiAccess: { accounts: [ACCOUNT] },
    });

    template.resourceCountIs("AWS::Lambda::Function", 1);
    const nag = validationReport().pluginReports.flatMap((report) => report.violations);
    expect(nag.filter((violation) => violation.severity === "error")).toEqual([]);
  });

  it("carries a grant's ceiling to the function's environment, where the function enforces it", () => {
    const { stack, vending, role } = consumer();
    vending.grantGetToken(role("nightly-report"), "shared", { scopes: ["read"] });
    vending.grantGetToken(role("release-job"), "shared");

    const value = grantedCallersOf(Template.fromStack(stack));
    expect(JSON.parse(value).profiles.shared).toEqual([
      { caller: `arn:aws:iam::${ACCOUNT}:role/nightly-report`, scopes: ["read"] },
      `arn:aws:iam::${ACCOUNT}:role/release-job`,
    ]);
    const shared = withGrantedCallers(parseProfilesConfig(SHARED), value).profiles.get("shared");
    if (!shared) throw new Error("no profile");
    expect(askFor(shared, session("nightly-report"), set("read"))).toBe("read");
    expect(() => askFor(shared, session("nightly-report"), set("deploy"))).toThrow(
      AccessDeniedError,
    );
    expect(askFor(shared, session("release-job"), set("deploy read"))).toBe("deploy read");
  });
});

describe("synth refuses a bad ceiling with one line naming it", () => {
  it("refuses a profiles definition whose caller asks beyond the profile's scopes", () => {
    const bad: ProfilesDefinition = {
      profiles: {
        shared: {
          ...SHARED.profiles.shared,
          tenantUrl,
          secretId: "cyberark/shared",
          allowedCallers: [
            { caller: `arn:aws:iam::${ACCOUNT}:role/report-job`, scopes: ["admin"] },
          ],
        },
      },
    };
    expect(() => consumer(bad)).toThrow(ProfilesConfigError);
    expect(() => consumer(bad)).toThrow(
      `profile "shared" field "allowedCallers": entry 0 (caller "arn:aws:iam::${ACCOUNT}:role/report-job") "scopes": scope "admin" is not in the profile's "scopes"`,
    );
  });

  it("refuses a grant beyond the profile's scopes, or on a profile without scopes", () => {
    const { vending, role } = consumer();
    expect(() =>
      vending.grantGetToken(role("r1"), "shared", { scopes: ["read", "admin"] }),
    ).toThrow(
      'grantGetToken: profile "shared" "scopes": scope "admin" is not in the profile\'s "scopes"',
    );
    expect(() => vending.grantGetToken(role("r2"), "shared", { scopes: [] })).toThrow(
      'grantGetToken: profile "shared" "scopes" must be a non-empty array of scope names',
    );
    expect(() => vending.grantGetToken(role("r3"), "platform", { scopes: ["read"] })).toThrow(
      'grantGetToken: profile "platform" declares no "scopes" (its callers can only get its default scope), so a grant cannot give a caller a ceiling of its own',
    );
  });

  it("reports the new problems from profilesFromFile, naming the file", () => {
    const file = join(mkdtempSync(join(tmpdir(), "ctv-scopes-")), "profiles.json");
    writeFileSync(
      file,
      JSON.stringify({
        profiles: {
          platform: { tenantUrl, secretId: "s", scopes: ["read"] },
          shared: { ...SHARED.profiles.shared, scope: "admin" },
        },
      }),
    );
    expect(() => CyberArkTokenVending.profilesFromFile(file)).toThrow(ProfilesConfigError);
    try {
      CyberArkTokenVending.profilesFromFile(file);
    } catch (error) {
      expect((error as ProfilesConfigError).problems).toEqual([
        `${file}: profile "platform" field "scopes": is allowed only on a custom-app profile (one with an "applicationId"); platform tokens are not narrowed by scope`,
        `${file}: profile "shared" field "scope": scope "admin" is not in the profile's "scopes"`,
      ]);
    }
  });
});
