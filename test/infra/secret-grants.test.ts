/**
 * The function may read exactly the secrets its profiles name: a full ARN (ending in the six
 * characters Secrets Manager appends) is granted as written, and nothing beside it; a name, or an
 * ARN without those six characters, is granted with `-??????`, which matches that suffix and
 * nothing longer.
 */
import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { CyberArkTokenVending, type ProfilesDefinition } from "../../infra/token-vending.js";

const TENANT = "https://abc1234.id.cyberark.cloud";
const ARN = "arn:aws:secretsmanager:eu-west-1:111122223333:secret";

/** The resources of the one statement that allows `secretsmanager:GetSecretValue`. */
function secretResources(secretIds: string[]): unknown[] {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new Stack(app, "Platform", {
    env: { account: "111122223333", region: "eu-west-1" },
  });
  const profiles: ProfilesDefinition["profiles"] = Object.fromEntries(
    secretIds.map((secretId, index) => [
      `p${index}`,
      { tenantUrl: TENANT, secretId, allowedCallers: ["arn:aws:iam::111122223333:role/ci"] },
    ]),
  );
  new CyberArkTokenVending(stack, "Tokens", { profiles });
  const policies = Template.fromStack(stack).findResources("AWS::IAM::Policy");
  const statements = Object.values(policies).flatMap(
    (policy) =>
      policy.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[],
  );
  const reads = statements.filter((s) => s.Action === "secretsmanager:GetSecretValue");
  expect(reads).toHaveLength(1);
  return [reads[0]?.Resource].flat().map(rendered);
}

/** A resource as IAM sees it in the `aws` partition (the template joins in `AWS::Partition`). */
function rendered(value: unknown): unknown {
  const join = (value as { "Fn::Join"?: [string, unknown[]] })["Fn::Join"];
  if (!join) return value;
  const parts = join[1].map((part) =>
    JSON.stringify(part) === JSON.stringify({ Ref: "AWS::Partition" }) ? "aws" : part,
  );
  return parts.every((part) => typeof part === "string") ? parts.join(join[0]) : value;
}

describe("the function's grant on the profiles' secrets", () => {
  it("a full ARN, with its six-character suffix, is granted exactly as written", () => {
    expect(secretResources([`${ARN}:cyberark/reports-AbCdEf`])).toEqual([
      `${ARN}:cyberark/reports-AbCdEf`,
    ]);
  });

  it("a name is granted with -?????? (the suffix Secrets Manager appends)", () => {
    expect(secretResources(["cyberark/ci-deployer"])).toEqual([
      `${ARN}:cyberark/ci-deployer-??????`,
    ]);
  });

  it("an ARN without the suffix (a partial ARN) is granted with -??????, not as written", () => {
    expect(secretResources([`${ARN}:cyberark/reports`])).toEqual([
      `${ARN}:cyberark/reports-??????`,
    ]);
  });

  it("one resource per secret, however many profiles share it", () => {
    expect(
      secretResources([`${ARN}:shared-Ab12Cd`, `${ARN}:shared-Ab12Cd`, "cyberark/ci"]),
    ).toEqual([`${ARN}:shared-Ab12Cd`, `${ARN}:cyberark/ci-??????`]);
  });
});
