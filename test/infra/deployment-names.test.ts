/**
 * Deployments that synth cannot see side by side still never share a name: the default `name`
 * differs per region (a dashboard's name is global in an account, so the same stack deployed to
 * two regions would otherwise collide), and it is the same value everywhere it goes: the
 * dashboard, the function's `Deployment` dimension and the metrics the construct hands out.
 * Two constructs given the same explicit `name` in one app fail the synth, in one line.
 */
import { App, Stack, type StackProps, Stage } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { CyberArkTokenVending } from "../../infra/token-vending.js";
import { EXAMPLE_API_ACCESS, EXAMPLE_PROFILES } from "../support/stack.js";

const PROPS = { ...EXAMPLE_PROFILES, apiAccess: EXAMPLE_API_ACCESS };
const newApp = () => new App({ context: { "aws:cdk:bundling-stacks": [] } });

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

/** Where the deployment's name ends up in one stack, as the template writes each. */
function namesIn(stack: Stack, vending: CyberArkTokenVending) {
  const resources = Object.values(Template.fromStack(stack).toJSON().Resources as Resources);
  const only = (type: string) => {
    const found = resources.filter((resource) => resource.Type === type);
    expect(found, type).toHaveLength(1);
    return found[0]?.Properties ?? {};
  };
  const fn = only("AWS::Lambda::Function") as {
    Environment: { Variables: Record<string, unknown> };
  };
  const upstreamAlarm = resources.find(
    (resource) =>
      resource.Type === "AWS::CloudWatch::Alarm" &&
      resource.Properties.MetricName === "UpstreamErrors",
  );
  const dimensions = upstreamAlarm?.Properties.Dimensions as { Name: string; Value: unknown }[];
  return {
    dashboard: only("AWS::CloudWatch::Dashboard").DashboardName,
    emitted: fn.Environment.Variables.DEPLOYMENT_NAME,
    alarmDimension: dimensions.find((dimension) => dimension.Name === "Deployment")?.Value,
    metricDimension: stack.resolve(vending.metricVended().dimensions)?.Deployment,
  };
}

function deployed(app: App, props: StackProps = {}, stackId = "Platform") {
  const stack = new Stack(app, stackId, props);
  const vending = new CyberArkTokenVending(stack, "Tokens", PROPS);
  return { stack, vending, names: namesIn(stack, vending) };
}

describe("the default name", () => {
  it("differs between the same stack deployed to two regions of one account", () => {
    const account = "111122223333";
    const ireland = deployed(newApp(), { env: { account, region: "eu-west-1" } });
    const virginia = deployed(newApp(), { env: { account, region: "us-east-1" } });

    expect(ireland.names.dashboard).not.toEqual(virginia.names.dashboard);
    expect(ireland.names.emitted).not.toEqual(virginia.names.emitted);
    expect(ireland.names.dashboard).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(virginia.names.dashboard).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
  });

  it("in a stack without a region, takes the region at deploy time", () => {
    const { names } = deployed(newApp());

    expect(JSON.stringify(names.dashboard)).toContain('{"Ref":"AWS::Region"}');
  });

  it("is one value everywhere: dashboard, the function's Deployment dimension, alarms, metricXxx()", () => {
    for (const env of [undefined, { account: "111122223333", region: "eu-west-1" }]) {
      const { names } = deployed(newApp(), env ? { env } : {});
      expect(names.emitted).toEqual(names.dashboard);
      expect(names.alarmDimension).toEqual(names.dashboard);
      expect(names.metricDimension).toEqual(names.dashboard);
    }
  });

  it("keeps within 64 characters with the longest stack and construct names", () => {
    const app = newApp();
    const stack = new Stack(app, "A".repeat(120), { env: { region: "ap-southeast-4" } });
    const vending = new CyberArkTokenVending(stack, "B".repeat(80), PROPS);

    expect(vending.name).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(vending.name).toMatch(/-ap-southeast-4$/);
  });
});

describe("an explicit name", () => {
  it("given to two constructs in one app fails the synth with one line naming it", () => {
    const app = newApp();
    new CyberArkTokenVending(new Stack(app, "Eu"), "Tokens", { ...PROPS, name: "platform" });

    let error: unknown;
    try {
      new CyberArkTokenVending(new Stack(app, "Us"), "Tokens", { ...PROPS, name: "platform" });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toContain('"platform"');
    expect(message).toContain("Eu/Tokens");
    expect(message.split("\n")).toHaveLength(1);
  });

  it("given to constructs of one app deployed to two accounts is each one's own (a dashboard's name is global in its account only)", () => {
    const app = newApp();
    for (const [stage, account] of [
      ["Dev", "111122223333"],
      ["Prod", "444455556666"],
    ] as const) {
      const stack = new Stack(
        new Stage(app, stage, { env: { account, region: "eu-west-1" } }),
        "Svc",
      );
      expect(new CyberArkTokenVending(stack, "Tokens", { ...PROPS, name: "platform" }).name).toBe(
        "platform",
      );
    }
  });

  it("given to constructs of one app in one account, two regions apart, still fails the synth", () => {
    const app = newApp();
    const account = "111122223333";
    new CyberArkTokenVending(
      new Stack(app, "Eu", { env: { account, region: "eu-west-1" } }),
      "Tokens",
      {
        ...PROPS,
        name: "platform",
      },
    );
    expect(
      () =>
        new CyberArkTokenVending(
          new Stack(app, "Us", { env: { account, region: "us-east-1" } }),
          "Tokens",
          { ...PROPS, name: "platform" },
        ),
    ).toThrow(/"platform" is already the name of Eu\/Tokens/);
  });

  it("given to one construct in each of two apps is that construct's own", () => {
    const first = new Stack(newApp(), "Eu");
    const second = new Stack(newApp(), "Eu");
    expect(new CyberArkTokenVending(first, "Tokens", { ...PROPS, name: "platform" }).name).toBe(
      "platform",
    );
    expect(new CyberArkTokenVending(second, "Tokens", { ...PROPS, name: "platform" }).name).toBe(
      "platform",
    );
  });
});

describe("API Gateway's account-wide CloudWatch role", () => {
  const count = (stack: Stack) =>
    Object.keys(Template.fromStack(stack).findResources("AWS::ApiGateway::Account")).length;

  it("is created exactly once per stack by default, however many constructs it holds", () => {
    const app = newApp();
    const one = new Stack(app, "One");
    new CyberArkTokenVending(one, "Tokens", PROPS);
    const two = new Stack(app, "Two");
    new CyberArkTokenVending(two, "A", PROPS);
    new CyberArkTokenVending(two, "B", PROPS);

    expect([count(one), count(two)]).toEqual([1, 1]);
  });

  it("is not created at all with cloudWatchRole: false", () => {
    const app = newApp();
    const off = new Stack(app, "Off");
    new CyberArkTokenVending(off, "A", { ...PROPS, cloudWatchRole: false });
    new CyberArkTokenVending(off, "B", { ...PROPS, cloudWatchRole: false });

    expect(count(off)).toBe(0);
  });
});
