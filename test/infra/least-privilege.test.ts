import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Match } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { synthesizeStack } from "../support/stack.js";

const { template } = synthesizeStack({
  alarmTopicArn: "arn:aws:sns:eu-west-1:111122223333:platform-alerts",
});

interface Statement {
  Effect: string;
  Principal?: { AWS?: unknown };
  Action?: string | string[];
  NotAction?: string | string[];
}

const asList = (value: string | string[] | undefined) =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

// Every KMS action that uses the key's material, and CreateGrant, which lets its holder grant
// itself any of them.
const KEY_USE_ACTIONS = [
  "kms:CreateGrant",
  "kms:Decrypt",
  "kms:Encrypt",
  "kms:GenerateDataKey",
  "kms:GenerateDataKeyWithoutPlaintext",
  "kms:GenerateDataKeyPair",
  "kms:GenerateDataKeyPairWithoutPlaintext",
  "kms:ReEncryptFrom",
  "kms:ReEncryptTo",
];

/** Whether an IAM action pattern (with `*` and `?`) covers the action. */
function covers(pattern: string, action: string): boolean {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  const regex = new RegExp(`^${escaped.replaceAll("*", ".*").replaceAll("?", ".")}$`, "i");
  return regex.test(action);
}

function tokenKeyStatements(): Statement[] {
  const keys = template.findResources("AWS::KMS::Key", {
    Properties: { Description: Match.stringLikeRegexp("Envelope-encrypts tokens") },
  });
  const [key] = Object.values(keys);
  return key?.Properties.KeyPolicy.Statement ?? [];
}

const isFunctionRole = (principal: unknown) =>
  JSON.stringify(principal).includes('"VendFunctionRole');

describe("token key policy", () => {
  it("gives no one but the function's role CreateGrant or any use of the key, not even through a wildcard", () => {
    const statements = tokenKeyStatements();
    expect(statements.length).toBeGreaterThan(0);

    for (const statement of statements) {
      expect(statement.NotAction, "NotAction would allow everything not listed").toBeUndefined();
      if (statement.Effect !== "Allow" || isFunctionRole(statement.Principal?.AWS)) continue;
      for (const pattern of asList(statement.Action)) {
        const allowed = KEY_USE_ACTIONS.filter((action) => covers(pattern, action));
        expect(
          allowed,
          `${pattern} in a statement for ${JSON.stringify(statement.Principal)}`,
        ).toEqual([]);
      }
    }
  });

  it("keeps PutKeyPolicy with the account, so the key can never become unmanageable", () => {
    const admin = tokenKeyStatements().find(
      (statement) => !isFunctionRole(statement.Principal?.AWS),
    );
    expect(asList(admin?.Action)).toContain("kms:PutKeyPolicy");
  });

  it("the covers helper recognises wildcards that include key use", () => {
    expect(covers("kms:*", "kms:Decrypt")).toBe(true);
    expect(covers("kms:Create*", "kms:CreateGrant")).toBe(true);
    expect(covers("kms:Re*", "kms:ReEncryptFrom")).toBe(true);
    expect(covers("kms:Generate*", "kms:GenerateDataKey")).toBe(true);
    expect(covers("kms:CreateAlias", "kms:CreateGrant")).toBe(false);
  });
});

describe("changes to the token key", () => {
  it("are matched by an EventBridge rule on CloudTrail management events for this key", () => {
    const rules = Object.entries(template.findResources("AWS::Events::Rule")).filter(([id]) =>
      id.startsWith("TokenKeyChangeRule"),
    );
    expect(rules).toHaveLength(1);
    const pattern = rules[0]?.[1].Properties.EventPattern;
    expect(pattern.source).toEqual(["aws.kms"]);
    expect(pattern["detail-type"]).toEqual(["AWS API Call via CloudTrail"]);
    expect([...pattern.detail.eventName].sort()).toEqual([
      "CreateGrant",
      "DisableKey",
      "PutKeyPolicy",
      "ScheduleKeyDeletion",
    ]);
    const keyMatchers = JSON.stringify(pattern.detail.$or);
    expect(keyMatchers).toMatch(/"requestParameters":\{"keyId":\[/);
    expect(keyMatchers).toMatch(/"resources":\{"ARN":\[\{"Fn::GetAtt":\["TokenKey/);
  });

  it("notify the alarm topic", () => {
    template.hasResourceProperties("AWS::Events::Rule", {
      Targets: [Match.objectLike({ Arn: "arn:aws:sns:eu-west-1:111122223333:platform-alerts" })],
    });
  });
});

describe("the function's identity of its API", () => {
  it("receives the RestApi id and the stage name in API_ID and API_STAGE", () => {
    template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: {
        Variables: Match.objectLike({
          API_ID: { Ref: Match.stringLikeRegexp("^Api[0-9A-F]{8}$") },
          API_STAGE: "v1",
        }),
      },
    });
  });
});

// The DynamoDB commands the adapters send, read from their source, so a new call without a grant
// (or a grant without a call) fails here.
function dynamoDbActionsCalled(): string[] {
  const directory = join(import.meta.dirname, "../../functions/adapters");
  const actions = new Set<string>();
  for (const file of readdirSync(directory).filter((name) => name.endsWith(".ts"))) {
    const source = readFileSync(join(directory, file), "utf8");
    if (!source.includes('"@aws-sdk/client-dynamodb"')) continue;
    for (const [, command] of source.matchAll(/new (\w+)Command\(/g)) {
      actions.add(`dynamodb:${command}`);
    }
  }
  return [...actions].sort();
}

describe("the function's role", () => {
  it("is granted exactly the DynamoDB actions the adapters call", () => {
    const called = dynamoDbActionsCalled();
    expect(called).toContain("dynamodb:GetItem");

    const policies = template.findResources("AWS::IAM::Policy", {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp("^VendFunctionRole") }] },
    });
    const granted = Object.values(policies)
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[])
      .flatMap((statement) => asList(statement.Action))
      .filter((action) => action.startsWith("dynamodb:"))
      .sort();

    expect(granted).toEqual(called);
  });
});
