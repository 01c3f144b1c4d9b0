import { Match } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { isRenewalEvent, RENEWAL_EVENT } from "../../functions/vend/renewal-event.js";
import { EXAMPLE_API_ACCESS, PREWARM_PROFILES, synthesizeStack } from "../support/stack.js";

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

interface ScheduleTarget {
  Input: string;
  RoleArn: { "Fn::GetAtt": [string, string] };
}

function prewarmStack() {
  const { template } = synthesizeStack({ ...PREWARM_PROFILES, apiAccess: EXAMPLE_API_ACCESS });
  const resources = template.toJSON().Resources as Resources;
  const [schedule] = Object.values(template.findResources("AWS::Scheduler::Schedule"));
  if (!schedule) throw new Error("no schedule in the template");
  const target = schedule.Properties.Target as ScheduleTarget;
  const [functionId] = Object.keys(
    template.findResources("AWS::Lambda::Function", {
      Properties: { Description: "Vends CyberArk Identity tokens to allowed IAM callers" },
    }),
  );
  return { template, resources, target, roleId: target.RoleArn["Fn::GetAtt"][0], functionId };
}

describe("renewal schedule", () => {
  it("invokes the vending function every minute with the renewal event", () => {
    const { template, functionId } = prewarmStack();

    template.resourceCountIs("AWS::Scheduler::Schedule", 1);
    template.hasResourceProperties("AWS::Scheduler::Schedule", {
      ScheduleExpression: "rate(1 minute)",
      State: "ENABLED",
      FlexibleTimeWindow: { Mode: "OFF" },
      Target: {
        Arn: { "Fn::GetAtt": [functionId, "Arn"] },
        Input: JSON.stringify(RENEWAL_EVENT),
        RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
      },
    });
  });

  it("sends an input the function takes for a renewal event, not an API request", () => {
    const { target } = prewarmStack();

    expect(isRenewalEvent(JSON.parse(target.Input))).toBe(true);
  });

  it("uses its own role, which only EventBridge Scheduler of this account may assume", () => {
    const { template, resources, roleId } = prewarmStack();

    expect(resources[roleId]?.Type).toBe("AWS::IAM::Role");
    template.hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Effect: "Allow",
            Action: "sts:AssumeRole",
            Principal: { Service: "scheduler.amazonaws.com" },
            Condition: { StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } } },
          },
        ],
      },
      Description: Match.stringLikeRegexp("renewal schedule"),
    });
    expect(resources[roleId]?.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it("lets its role invoke exactly the vending function (and its versions), nothing else", () => {
    const { template, roleId, functionId } = prewarmStack();

    const policies = Object.values(
      template.findResources("AWS::IAM::Policy", {
        Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) },
      }),
    );
    const statements = policies.flatMap(
      (policy) => (policy.Properties.PolicyDocument as { Statement: unknown[] }).Statement,
    );

    expect(statements).toEqual([
      {
        Effect: "Allow",
        Action: "lambda:InvokeFunction",
        Resource: [
          { "Fn::GetAtt": [functionId, "Arn"] },
          { "Fn::Join": ["", [{ "Fn::GetAtt": [functionId, "Arn"] }, ":*"]] },
        ],
      },
    ]);
  });

  it("is not there when no profile has prewarm", () => {
    const { template } = synthesizeStack();

    template.resourceCountIs("AWS::Scheduler::Schedule", 0);
    // Only the change rule still names Scheduler: it reports any schedule aimed at the function.
    const { ScheduleChangeRule39FF8454: changeRule, ...others } = template.toJSON().Resources;
    expect(changeRule?.Type).toBe("AWS::Events::Rule");
    expect(JSON.stringify(others)).not.toContain("scheduler.amazonaws.com");
  });
});
