/**
 * The threat model's service control policy refuses, to everyone but the operators, each call the
 * threat model says it refuses: the table settings that starve the function, handing the
 * function's role to another function or service, and each call that silences the alerts.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { actionCovers } from "../support/resource-policy.js";

interface ScpStatement {
  Sid: string;
  Effect: string;
  Action: string[];
  Resource: string;
  Condition: { ArnNotLike: { "aws:PrincipalArn": string | string[] } };
}

const threatModel = readFileSync("docs/threat-model.md", "utf8");
const scp = JSON.parse(/```json\n([\s\S]*?)\n```/.exec(threatModel)?.[1] ?? "{}") as {
  Statement: ScpStatement[];
};

/** Whether a Deny statement of the SCP covers `action` for a principal that is no operator. */
function deniedToNonOperators(action: string): boolean {
  return scp.Statement.some((statement) => {
    const exempt = [statement.Condition.ArnNotLike["aws:PrincipalArn"]].flat();
    return (
      statement.Effect === "Deny" &&
      statement.Resource.endsWith("*") &&
      exempt.includes("arn:aws:iam::ACCOUNT:role/OperatorRole*") &&
      statement.Action.some((pattern) => actionCovers(pattern, action))
    );
  });
}

describe("the threat model's SCP", () => {
  it.each([
    // The table's settings: a throughput cap or tiny capacity starves the function.
    "dynamodb:UpdateTable",
    "dynamodb:UpdateTimeToLive",
    // The function's role handed to another function, a pipe, a state machine.
    "iam:PassRole",
    "lambda:InvokeFunction",
    // The alerts switched off.
    "events:DisableRule",
    "events:DeleteRule",
    "events:RemoveTargets",
    "events:PutRule",
    "events:PutTargets",
    "sns:Unsubscribe",
    "sns:SetTopicAttributes",
    "sns:DeleteTopic",
    "sns:RemovePermission",
    "cloudtrail:StopLogging",
    "cloudtrail:DeleteTrail",
    "cloudtrail:UpdateTrail",
    "cloudtrail:PutEventSelectors",
  ])("denies %s to everyone but the operators", (action) => {
    expect(deniedToNonOperators(action)).toBe(true);
  });

  it("does not deny what no statement names", () => {
    expect(deniedToNonOperators("dynamodb:GetItem")).toBe(false);
  });
});
