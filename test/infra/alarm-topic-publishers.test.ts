/**
 * The alarm topic and its key admit AWS services only on behalf of this account: every statement
 * of the topic policy and the key policy whose principal is a service carries `aws:SourceAccount`
 * (or `aws:SourceArn`) naming the deploying account. EventBridge rule targets add statements of
 * their own to a topic; none of them may be left without that condition.
 */
import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as sns from "aws-cdk-lib/aws-sns";
import { describe, expect, it } from "vitest";
import { CyberArkTokenVending } from "../../infra/token-vending.js";
import { EXAMPLE_API_ACCESS, EXAMPLE_PROFILES } from "../support/stack.js";

const PROPS = { ...EXAMPLE_PROFILES, apiAccess: EXAMPLE_API_ACCESS };
const newApp = () => new App({ context: { "aws:cdk:bundling-stacks": [] } });

interface Statement {
  Sid?: string;
  Effect: string;
  Principal?: { Service?: string | string[] } | string;
  Action: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}
type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

/** The account the stack deploys to, as the template names it. */
const THIS_ACCOUNT = [{ Ref: "AWS::AccountId" }, "111122223333"];

/** Whether the condition names this account in `aws:SourceAccount` or in `aws:SourceArn`. */
function namesThisAccount(condition: Statement["Condition"]): boolean {
  return Object.entries(condition ?? {}).some(([operator, keys]) => {
    if (!/^(StringEquals|ArnEquals|ArnLike|StringLike)$/.test(operator)) return false;
    return Object.entries(keys).some(([key, value]) => {
      const values = [value].flat();
      if (key.toLowerCase() === "aws:sourceaccount") {
        return values.length > 0 && values.every((v) => THIS_ACCOUNT.some((a) => eq(a, v)));
      }
      if (key.toLowerCase() === "aws:sourcearn") {
        return values.length > 0 && values.every((v) => JSON.stringify(v).includes("AccountId"));
      }
      return false;
    });
  });
}
const eq = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The statements of every topic policy and key policy of the template whose principal is a service. */
function serviceStatements(stack: Stack): { where: string; statement: Statement }[] {
  const resources = Template.fromStack(stack).toJSON().Resources as Resources;
  return Object.entries(resources).flatMap(([id, resource]) => {
    const document =
      resource.Type === "AWS::SNS::TopicPolicy"
        ? resource.Properties.PolicyDocument
        : resource.Type === "AWS::KMS::Key"
          ? resource.Properties.KeyPolicy
          : undefined;
    const statements = ((document as { Statement?: Statement[] } | undefined)?.Statement ??
      []) as Statement[];
    return statements
      .filter((statement) => typeof statement.Principal === "object" && statement.Principal.Service)
      .map((statement) => ({ where: id, statement }));
  });
}

function unconditioned(stack: Stack): string[] {
  return serviceStatements(stack)
    .filter(({ statement }) => !namesThisAccount(statement.Condition))
    .map(
      ({ where, statement }) =>
        `${where}: ${JSON.stringify((statement.Principal as { Service: unknown }).Service)} ${JSON.stringify(statement.Action)}`,
    );
}

describe("the alarm topic's publishers", () => {
  it("every service statement of the topic policy and its key policy names this account", () => {
    const stack = new Stack(newApp(), "Platform");
    new CyberArkTokenVending(stack, "Tokens", PROPS);

    const services = serviceStatements(stack).map(({ statement }) => statement.Principal);
    // EventBridge and CloudWatch on the topic and on its key.
    expect(new Set(services.map((s) => JSON.stringify(s)))).toEqual(
      new Set(
        ["events.amazonaws.com", "cloudwatch.amazonaws.com"].map((service) =>
          JSON.stringify({ Service: service }),
        ),
      ),
    );
    expect(unconditioned(stack)).toEqual([]);
  });

  it("also with the function URL door and a renewal schedule (every rule of the construct)", () => {
    const stack = new Stack(newApp(), "Platform");
    const profiles = Object.fromEntries(
      Object.entries(PROPS.profiles).map(([name, p]) => [name, { ...p, prewarm: true }]),
    );
    new CyberArkTokenVending(stack, "Tokens", { ...PROPS, profiles, frontDoor: "function-url" });

    expect(serviceStatements(stack).length).toBeGreaterThan(0);
    expect(unconditioned(stack)).toEqual([]);
  });

  it("in a stack with an account of its own, the condition names that account", () => {
    const stack = new Stack(newApp(), "Platform", {
      env: { account: "111122223333", region: "eu-west-1" },
    });
    new CyberArkTokenVending(stack, "Tokens", PROPS);

    expect(unconditioned(stack)).toEqual([]);
  });

  it("a topic of the app's own, given as alarmTopic, gets no unconditioned grant from the construct", () => {
    const stack = new Stack(newApp(), "Platform");
    const key = new kms.Key(stack, "AlertsKey");
    const topic = new sns.Topic(stack, "Alerts", { masterKey: key });
    new CyberArkTokenVending(stack, "Tokens", { ...PROPS, alarmTopic: topic });

    expect(unconditioned(stack)).toEqual([]);
  });

  it("the check itself finds a statement without the condition", () => {
    const stack = new Stack(newApp(), "Platform");
    const topic = new sns.Topic(stack, "Open");
    topic.grantPublish(new iam.ServicePrincipal("events.amazonaws.com"));

    expect(unconditioned(stack)).toEqual([expect.stringContaining("events.amazonaws.com")]);
  });
});
