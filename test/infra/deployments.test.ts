/**
 * Several deployments in one account, and the construct's conventions: names, the alarm topic,
 * outputs, props, grantees in other stacks and the synth-time caller check.
 */
import { App, RemovalPolicy, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as iam from "aws-cdk-lib/aws-iam";
import * as sns from "aws-cdk-lib/aws-sns";
import { describe, expect, it } from "vitest";
import { CallerAccountError } from "../../infra/caller-accounts.js";
import { CyberArkTokenVending } from "../../infra/token-vending.js";
import { EXAMPLE_API_ACCESS, EXAMPLE_PROFILES } from "../support/stack.js";

const PROPS = { ...EXAMPLE_PROFILES, apiAccess: EXAMPLE_API_ACCESS };
const newApp = () => new App({ context: { "aws:cdk:bundling-stacks": [] } });

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;
const resourcesOf = (stack: Stack) =>
  Template.fromStack(stack).toJSON().Resources as unknown as Resources;

/** Every name a resource of these types takes in the account (region), with where it came from. */
function physicalNames(stacks: Stack[]): string[] {
  const nameFields: Record<string, string> = {
    "AWS::ApiGateway::RestApi": "Name",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::Logs::QueryDefinition": "Name",
  };
  return stacks.flatMap((stack) =>
    Object.values(resourcesOf(stack)).flatMap((resource) => {
      const field = nameFields[resource.Type];
      return field ? [`${resource.Type} ${JSON.stringify(resource.Properties?.[field])}`] : [];
    }),
  );
}

/** What each alarm watches: namespace, metric and dimensions (or its metric query). */
function alarmTargets(stacks: Stack[]): string[] {
  return stacks.flatMap((stack) =>
    Object.values(resourcesOf(stack))
      .filter((resource) => resource.Type === "AWS::CloudWatch::Alarm")
      .map((alarm) => {
        const { Namespace, MetricName, Dimensions, Metrics } = alarm.Properties ?? {};
        // A Ref names a resource of its stack, whose physical name starts with the stack's.
        return JSON.stringify({ Namespace, MetricName, Dimensions, Metrics }, (_, value) =>
          value && typeof value === "object" && "Ref" in value
            ? `${stack.stackName}/${value.Ref}`
            : value,
        );
      }),
  );
}

/** The `Deployment` each function's metrics carry. */
function deployments(stacks: Stack[]): string[] {
  return stacks.flatMap((stack) =>
    Object.values(resourcesOf(stack))
      .filter((resource) => resource.Type === "AWS::Lambda::Function")
      .map((fn) => {
        const environment = fn.Properties?.Environment as { Variables: Record<string, unknown> };
        return JSON.stringify(environment.Variables.DEPLOYMENT_NAME);
      }),
  );
}

const duplicates = (values: string[]) => values.filter((v, i) => values.indexOf(v) !== i);
const count = (stack: Stack, type: string) =>
  Object.values(resourcesOf(stack)).filter((resource) => resource.Type === type).length;

describe("many deployments in one account", () => {
  it("two constructs in one stack share no name, alarm target or metric dimensions", () => {
    const stack = new Stack(newApp(), "Platform");
    new CyberArkTokenVending(stack, "Dev", PROPS);
    new CyberArkTokenVending(stack, "Prod", PROPS);

    expect(physicalNames([stack])).toHaveLength(2 * (1 + 1 + 4 + 3));
    expect(duplicates(physicalNames([stack]))).toEqual([]);
    expect(duplicates(alarmTargets([stack]))).toEqual([]);
    expect(duplicates(deployments([stack]))).toEqual([]);
    expect(deployments([stack])).toHaveLength(2);
  });

  it("two stacks in one app share no name, alarm target or metric dimensions", () => {
    const app = newApp();
    const dev = new Stack(app, "TokensDev");
    const prod = new Stack(app, "TokensProd");
    new CyberArkTokenVending(dev, "Tokens", PROPS);
    new CyberArkTokenVending(prod, "Tokens", PROPS);

    expect(duplicates(physicalNames([dev, prod]))).toEqual([]);
    expect(duplicates(alarmTargets([dev, prod]))).toEqual([]);
    expect(duplicates(deployments([dev, prod]))).toEqual([]);
  });

  it("names the API, dashboard, alarms and metrics after the name prop", () => {
    const stack = new Stack(newApp(), "Platform");
    const vending = new CyberArkTokenVending(stack, "Tokens", { ...PROPS, name: "tokens-prod" });
    const template = Template.fromStack(stack);

    expect(vending.name).toBe("tokens-prod");
    template.hasResourceProperties("AWS::ApiGateway::RestApi", { Name: "tokens-prod" });
    template.hasResourceProperties("AWS::CloudWatch::Dashboard", { DashboardName: "tokens-prod" });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", { AlarmName: "tokens-prod-Api5xx" });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "5XXError",
      Dimensions: [{ Name: "ApiName", Value: "tokens-prod" }],
    });
    expect(deployments([stack])).toEqual(['"tokens-prod"']);
    expect(() => new CyberArkTokenVending(stack, "Bad", { ...PROPS, name: "has space" })).toThrow(
      /name "has space" must be 1 to 64 letters, digits/,
    );
  });

  it("sets API Gateway's account CloudWatch role once per stack, and not at all with cloudWatchRole: false", () => {
    const app = newApp();
    const two = new Stack(app, "Two");
    new CyberArkTokenVending(two, "A", PROPS);
    new CyberArkTokenVending(two, "B", PROPS);
    const off = new Stack(app, "Off");
    new CyberArkTokenVending(off, "A", { ...PROPS, cloudWatchRole: false });

    expect(count(two, "AWS::ApiGateway::Account")).toBe(1);
    // The second API's stage waits for the account's role, which its logging needs.
    const [account] = Object.keys(
      Template.fromStack(two).findResources("AWS::ApiGateway::Account"),
    );
    const stages = Template.fromStack(two).findResources("AWS::ApiGateway::Stage");
    for (const stage of Object.values(stages)) {
      const dependsOn = [stage.DependsOn ?? []].flat();
      expect(dependsOn).toContain(account);
    }
    expect(count(off, "AWS::ApiGateway::Account")).toBe(0);
    expect(count(off, "AWS::IAM::Role")).toBe(1); // the function's role only
  });
});

describe("the alarm topic", () => {
  it("without alarmTopic: an encrypted topic of its own, which every alarm and the key-change rule notify", () => {
    const stack = new Stack(newApp(), "Platform");
    const vending = new CyberArkTokenVending(stack, "Tokens", PROPS);
    const template = Template.fromStack(stack);
    const topicRef = stack.resolve(vending.alarmTopic.topicArn);

    template.resourceCountIs("AWS::SNS::Topic", 1);
    template.hasResourceProperties("AWS::SNS::Topic", {
      KmsMasterKeyId: { "Fn::GetAtt": [Match.stringLikeRegexp("AlarmTopicKey"), "Arn"] },
    });
    const alarms = Object.values(template.findResources("AWS::CloudWatch::Alarm"));
    expect(alarms).toHaveLength(4);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([topicRef]);
      expect(alarm.Properties.OKActions).toEqual([topicRef]);
    }
    const [rule] = Object.values(template.findResources("AWS::Events::Rule"));
    expect(rule?.Properties.Targets).toEqual([expect.objectContaining({ Arn: topicRef })]);
    // CloudWatch and EventBridge may use the topic's key, or their messages would be dropped.
    template.hasResourceProperties("AWS::KMS::Key", {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: "cloudwatch.amazonaws.com" } }),
          Match.objectLike({ Principal: { Service: "events.amazonaws.com" } }),
        ]),
      },
    });
  });

  it("with alarmTopic: that topic everywhere, and none created", () => {
    const stack = new Stack(newApp(), "Platform");
    const topic = sns.Topic.fromTopicArn(stack, "Alerts", "arn:aws:sns:eu-west-1:111122223333:x");
    const vending = new CyberArkTokenVending(stack, "Tokens", { ...PROPS, alarmTopic: topic });
    const template = Template.fromStack(stack);

    expect(vending.alarmTopic).toBe(topic);
    template.resourceCountIs("AWS::SNS::Topic", 0);
    for (const alarm of Object.values(template.findResources("AWS::CloudWatch::Alarm"))) {
      expect(alarm.Properties.AlarmActions).toEqual([topic.topicArn]);
    }
  });
});

describe("construct conventions", () => {
  it("emits no outputs of its own", () => {
    const stack = new Stack(newApp(), "Platform");
    new CyberArkTokenVending(stack, "Tokens", PROPS);
    expect(Template.fromStack(stack).toJSON().Outputs).toBeUndefined();
  });

  it("takes removalPolicy (default RETAIN), reservedConcurrency and memorySize", () => {
    const retained = new Stack(newApp(), "Retained");
    new CyberArkTokenVending(retained, "Tokens", PROPS);
    const destroyed = new Stack(newApp(), "Destroyed");
    new CyberArkTokenVending(destroyed, "Tokens", {
      ...PROPS,
      removalPolicy: RemovalPolicy.DESTROY,
      reservedConcurrency: 20,
      memorySize: 512,
    });
    const stateful = ["AWS::DynamoDB::Table", "AWS::KMS::Key", "AWS::Logs::LogGroup"];
    const policies = (stack: Stack) =>
      Object.values(Template.fromStack(stack).toJSON().Resources as Record<string, never>)
        .filter((r: { Type: string }) => stateful.includes(r.Type))
        .map((r: { DeletionPolicy?: string }) => r.DeletionPolicy);

    expect(new Set(policies(retained))).toEqual(new Set(["Retain"]));
    expect(new Set(policies(destroyed))).toEqual(new Set(["Delete"]));
    Template.fromStack(destroyed).hasResourceProperties("AWS::Lambda::Function", {
      MemorySize: 512,
      ReservedConcurrentExecutions: 20,
    });
    Template.fromStack(retained).hasResourceProperties("AWS::Lambda::Function", {
      MemorySize: 256,
      ReservedConcurrentExecutions: Match.absent(),
    });
  });

  it("profilesFromFile returns the profiles and the admin callers, to spread into the props", () => {
    const fromFile = CyberArkTokenVending.profilesFromFile("examples/profiles.json");
    expect(Object.keys(fromFile).sort()).toEqual(["adminCallers", "profiles"]);
    expect(Object.keys(fromFile.profiles).sort()).toEqual(["ci-deployer", "reports-app"]);
    expect(fromFile.adminCallers).toEqual(["arn:aws:iam::111122223333:role/platform-admin"]);
  });

  it("refuses a grantee role created in another stack in one line, and takes one imported by name", () => {
    const app = newApp();
    const tokens = new Stack(app, "Tokens");
    const vending = new CyberArkTokenVending(tokens, "Vending", PROPS);
    const other = new Stack(app, "Reports");
    const role = new iam.Role(other, "ReportsRole", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      roleName: "reports-fn",
    });

    expect(() => vending.grantGetToken(role, "reports-app")).toThrow(
      /^grantGetToken: the grantee's role is in stack Reports and the token vending in Tokens, which would then depend on each other; give the role a fixed name and grant iam\.Role\.fromRoleName\(/,
    );
    const imported = iam.Role.fromRoleName(tokens, "ReportsFn", "reports-fn");
    expect(vending.grantGetToken(imported, "reports-app").success).toBe(true);
    app.synth(); // no dependency cycle
  });
});

describe("callers the API would never admit", () => {
  const stackIn = (account?: string) =>
    new Stack(newApp(), "Platform", account ? { env: { account, region: "eu-west-1" } } : {});

  it("synth refuses each caller of an account outside apiAccess, naming it", () => {
    const error = (() => {
      try {
        new CyberArkTokenVending(stackIn(), "Tokens", {
          ...EXAMPLE_PROFILES,
          apiAccess: { accounts: ["111122223333"] },
        });
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(CallerAccountError);
    expect((error as CallerAccountError).problems).toEqual([
      'profile "reports-app": caller 444455556666 (account 444455556666) can never reach the API: apiAccess admits only accounts 111122223333; add 444455556666 to apiAccess.accounts (-c apiAccounts=...) or remove the caller',
    ]);
  });

  it("by default (the deploying account), refuses callers of any other account", () => {
    expect(
      () => new CyberArkTokenVending(stackIn("111122223333"), "Tokens", EXAMPLE_PROFILES),
    ).toThrow(
      /^profile "reports-app": caller 444455556666 \(account 444455556666\) can never reach the API: by default it admits only the deploying account 111122223333/,
    );
    // An environment-agnostic stack: the callers name two accounts, only one can be the deploying one.
    expect(() => new CyberArkTokenVending(stackIn(), "Tokens", EXAMPLE_PROFILES)).toThrow(
      /the callers name 2 accounts \(111122223333, 444455556666\)/,
    );
  });

  it("accepts every caller when apiAccess is an organization (membership is not known at synth)", () => {
    expect(
      () =>
        new CyberArkTokenVending(stackIn(), "Tokens", {
          ...EXAMPLE_PROFILES,
          apiAccess: { organizationId: "o-abcdefghij" },
        }),
    ).not.toThrow();
  });
});
