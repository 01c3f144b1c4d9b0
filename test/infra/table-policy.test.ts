/**
 * The token table's resource policy: nobody but the function's role (and the break-glass role,
 * when named) writes items, whatever their IAM policies say; CloudFormation keeps managing the
 * table and the policy, readers and DynamoDB's own TTL sweeper are not affected.
 */
import { App, Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import { describe, expect, it } from "vitest";
import { TABLE_WRITE_ACTIONS, WRITERS_SID } from "../../infra/table-policy.js";
import { denies } from "../support/resource-policy.js";
import { STACK_VARIANTS, synthesizeStack } from "../support/stack.js";
import { ACCOUNT, TemplateValues } from "../support/template-values.js";

const BREAK_GLASS = `arn:aws:iam::${ACCOUNT}:role/token-table-break-glass`;

function tablePolicy(props: Parameters<typeof synthesizeStack>[0] = {}) {
  const { template } = synthesizeStack(props);
  const values = new TemplateValues(template);
  const tableId = values.logicalId("AWS::DynamoDB::Table", "TokenTable");
  const table = template.toJSON().Resources[tableId];
  return {
    policy: values.resolve(table.Properties.ResourcePolicy.PolicyDocument) as {
      Statement: { Effect: "Allow" | "Deny"; Sid?: string }[];
    },
    functionRole: values.arn(values.logicalId("AWS::IAM::Role", "VendFunctionRole")),
  };
}

const { policy, functionRole } = tablePolicy();
const asRole = (principalArn: string, action: string) => ({
  action,
  principalArn,
  principalIsAwsService: false,
});
// Every data-plane write, in the spellings IAM evaluates (a transaction is authorized per item).
const WRITES = [...TABLE_WRITE_ACTIONS];
const ADMIN = `arn:aws:iam::${ACCOUNT}:role/AdministratorAccess`;
const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
const CFN_EXEC = `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-eu-west-1`;

describe("token table resource policy", () => {
  it.each(WRITES)(
    "denies %s to an administrator, the account root and CloudFormation's role",
    (action) => {
      for (const principal of [ADMIN, ROOT, CFN_EXEC]) {
        expect(denies(policy, asRole(principal, action)), principal).toBe(true);
      }
    },
  );

  it.each(WRITES)("does not deny %s to the function's role", (action) => {
    expect(denies(policy, asRole(functionRole, action))).toBe(false);
  });

  it("leaves CloudFormation able to manage the table and this policy, and everyone able to read", () => {
    const controlPlane = [
      "dynamodb:CreateTable",
      "dynamodb:UpdateTable",
      "dynamodb:DeleteTable",
      "dynamodb:DescribeTable",
      "dynamodb:UpdateTimeToLive",
      "dynamodb:UpdateContinuousBackups",
      "dynamodb:PutResourcePolicy",
      "dynamodb:DeleteResourcePolicy",
      "dynamodb:GetResourcePolicy",
      "dynamodb:TagResource",
    ];
    const reads = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"];
    for (const action of [...controlPlane, ...reads]) {
      expect(denies(policy, asRole(CFN_EXEC, action)), action).toBe(false);
    }
  });

  it("does not apply to AWS services acting for themselves (DynamoDB's TTL sweeper)", () => {
    const sweeper = { action: "dynamodb:DeleteItem", principalIsAwsService: true };
    expect(denies(policy, sweeper)).toBe(false);
  });

  it("only denies: it grants nobody anything", () => {
    expect(policy.Statement.map((statement) => statement.Effect)).toEqual(["Deny"]);
    expect(policy.Statement[0]?.Sid).toBe(WRITERS_SID);
  });

  it("lets the break-glass role write too, when one is named", () => {
    // An imported role: only its ARN is used, so the scope it is imported into does not matter.
    const breakGlassRole = iam.Role.fromRoleArn(new Stack(new App()), "BreakGlass", BREAK_GLASS);
    const { policy: withBreakGlass, functionRole: role } = tablePolicy({ breakGlassRole });
    for (const action of WRITES) {
      expect(denies(withBreakGlass, asRole(BREAK_GLASS, action))).toBe(false);
      expect(denies(withBreakGlass, asRole(role, action))).toBe(false);
      expect(denies(withBreakGlass, asRole(ADMIN, action))).toBe(true);
    }
  });

  it.each(STACK_VARIANTS)("is on the table in every variant (%s)", (_name, props, extend) => {
    const { template } = synthesizeStack(props, extend);
    const values = new TemplateValues(template);
    const table =
      template.toJSON().Resources[values.logicalId("AWS::DynamoDB::Table", "TokenTable")];
    expect(table.Properties.ResourcePolicy.PolicyDocument.Statement).toHaveLength(1);
  });
});
