import { App, Duration, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as iam from "aws-cdk-lib/aws-iam";
import { describe, expect, it } from "vitest";
import { isAllowed, parseCaller } from "../../functions/core/callers.js";
import { withGrantedCallers } from "../../functions/core/granted-callers.js";
import { parseProfilesConfig } from "../../functions/core/profiles.js";
import { GRANTED_CALLERS_BUDGET } from "../../infra/granted-callers.js";
import { CyberArkTokenVending } from "../../infra/token-vending.js";
import { EXAMPLE_API_ACCESS, EXAMPLE_PROFILES, synthesizeStack } from "../support/stack.js";

function consumer() {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new Stack(app, "Consumer");
  const vending = new CyberArkTokenVending(stack, "Tokens", {
    ...EXAMPLE_PROFILES,
    apiAccess: EXAMPLE_API_ACCESS,
  });
  const role = (id: string) =>
    new iam.Role(stack, id, { assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com") });
  return { stack, vending, role };
}

// Fn::Join of the GRANTED_CALLERS value, with each role's GetAtt replaced by a plausible ARN.
function resolveGrantedCallers(template: Template): string {
  const [fn] = Object.values(template.findResources("AWS::Lambda::Function"));
  const value = fn?.Properties.Environment.Variables.GRANTED_CALLERS;
  const [, parts] = value["Fn::Join"] as [string, unknown[]];
  return parts
    .map((part) =>
      typeof part === "string"
        ? part
        : `arn:aws:iam::111122223333:role/${(part as { "Fn::GetAtt": string[] })["Fn::GetAtt"][0]}`,
    )
    .join("");
}

describe("grantGetToken", () => {
  it("allows execute-api:Invoke on exactly GET /tokens/<profile> of the stage, and nothing else", () => {
    const { stack, vending, role } = consumer();
    const reports = role("ReportsRole");

    const grant = vending.grantGetToken(reports, "reports-app");

    expect(grant.success).toBe(true);
    const template = Template.fromStack(stack);
    template.hasResourceProperties("AWS::IAM::Policy", {
      Roles: [{ Ref: Match.stringLikeRegexp("^ReportsRole") }],
      PolicyDocument: {
        Statement: [
          {
            Effect: "Allow",
            Action: "execute-api:Invoke",
            Resource: {
              "Fn::Join": [
                "",
                Match.arrayWith([
                  { Ref: Match.stringLikeRegexp("^TokensApi") },
                  "/v1/GET/tokens/reports-app",
                ]),
              ],
            },
          },
        ],
      },
    });
  });

  it("makes the grantee's role an allowed caller of that profile only, at deploy time", () => {
    const { stack, vending, role } = consumer();
    vending.grantGetToken(role("ReportsRole"), "reports-app");
    vending.grantGetToken(role("ReportsRole2"), "reports-app");
    vending.grantInvalidate(role("OpsRole"));

    const value = resolveGrantedCallers(Template.fromStack(stack));
    const config = withGrantedCallers(parseProfilesConfig(EXAMPLE_PROFILES), value);

    const session = (name: string) =>
      parseCaller(`arn:aws:sts::111122223333:assumed-role/${name}/s`);
    const reportsCallers = config.profiles.get("reports-app")?.allowedCallers ?? [];
    const reportsRoleId = JSON.parse(value).profiles["reports-app"][0].split("/")[1];
    expect(reportsRoleId).toMatch(/^ReportsRole[0-9A-F]{8}$/);
    expect(isAllowed(session(reportsRoleId), reportsCallers)).toBe(true);
    expect(
      isAllowed(session(reportsRoleId), config.profiles.get("ci-deployer")?.allowedCallers ?? []),
    ).toBe(false);
    expect(JSON.parse(value).admin).toHaveLength(1);
  });

  it("refuses a profile the profiles do not define, at synth", () => {
    const { vending, role } = consumer();
    expect(() => vending.grantGetToken(role("R"), "nope")).toThrow(
      'grantGetToken: no profile "nope" in the profiles (ci-deployer, reports-app)',
    );
  });

  it("refuses a grantee that is not a role or user, since the function could not recognise it", () => {
    const { vending } = consumer();
    const service = { grantPrincipal: new iam.ServicePrincipal("sns.amazonaws.com") };
    expect(() => vending.grantGetToken(service, "reports-app")).toThrow(
      /grantGetToken: the grantee's principal is not an IAM role or user/,
    );
  });

  it(`fails at synth, clearly, when granted callers would exceed ${GRANTED_CALLERS_BUDGET} bytes of environment`, () => {
    const { vending, role } = consumer();
    const grantMany = () => {
      for (let index = 0; index < 40; index += 1)
        vending.grantGetToken(role(`R${index}`), "ci-deployer");
    };
    expect(grantMany).toThrow(
      /GRANTED_CALLERS environment variable, over its 3072-byte budget .*profiles file/,
    );
  });

  it("leaves the function's environment unchanged when nothing is granted", () => {
    const { stack } = consumer();
    const [fn] = Object.values(Template.fromStack(stack).findResources("AWS::Lambda::Function"));
    expect(fn?.Properties.Environment.Variables.GRANTED_CALLERS).toBeUndefined();
  });
});

describe("grantInvalidate", () => {
  it("allows execute-api:Invoke on DELETE /tokens/* of the stage", () => {
    const { stack, vending, role } = consumer();
    vending.grantInvalidate(role("OpsRole"));
    Template.fromStack(stack).hasResourceProperties("AWS::IAM::Policy", {
      Roles: [{ Ref: Match.stringLikeRegexp("^OpsRole") }],
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Action: "execute-api:Invoke",
            Resource: { "Fn::Join": ["", Match.arrayWith(["/v1/DELETE/tokens/*"])] },
          }),
        ],
      },
    });
  });
});

describe("metricXxx() and metricQuery()", () => {
  const { vending } = consumer();
  const stack = Stack.of(vending);
  const deployment = stack.resolve(vending.name);

  it("give each metric's total for this deployment as a cloudwatch.Metric, ready for createAlarm", () => {
    const metrics = [
      [vending.metricVended(), "Vended", "Sum"],
      [vending.metricDenied(), "Denied", "Sum"],
      [vending.metricUpstreamRequests(), "UpstreamRequests", "Sum"],
      [vending.metricUpstreamLatency(), "UpstreamLatency", "Average"],
      [vending.metricUpstreamErrors(), "UpstreamErrors", "Sum"],
      [vending.metricLeaseWaits(), "LeaseWaits", "Sum"],
      [vending.metricRenewals(), "Renewals", "Sum"],
    ] as const;
    for (const [metric, name, statistic] of metrics) {
      expect(metric).toBeInstanceOf(cloudwatch.Metric);
      expect([metric.namespace, metric.metricName, metric.statistic]).toEqual([
        "CyberArkTokenVending",
        name,
        statistic,
      ]);
      expect(stack.resolve(metric.dimensions)).toEqual({ Deployment: deployment });
    }
    const alarm = vending
      .metricDenied()
      .with({ period: Duration.minutes(1) })
      .createAlarm(stack, "A", {
        threshold: 1,
        evaluationPeriods: 1,
      });
    expect(alarm).toBeInstanceOf(cloudwatch.Alarm);
  });

  it("give one series with every dimension of the metric, and refuse a partial set", () => {
    const metric = vending.metricVended({
      dimensionsMap: { Profile: "ci-deployer", CacheLevel: "memory" },
    });
    expect(stack.resolve(metric.dimensions)).toEqual({
      Deployment: deployment,
      Profile: "ci-deployer",
      CacheLevel: "memory",
    });
    expect(() => vending.metricVended({ dimensionsMap: { Profile: "ci-deployer" } })).toThrow(
      /metricVended: give no dimensionsMap .* or exactly Profile and CacheLevel/,
    );
  });

  it("metricQuery sums over the dimensions left open with a Metrics Insights query of this deployment", () => {
    const all = vending.metricQuery("UpstreamErrors") as cloudwatch.MathExpression;
    expect(stack.resolve(all.expression)).toEqual(
      stack.resolve(
        `SELECT SUM(UpstreamErrors) FROM SCHEMA(CyberArkTokenVending, Deployment, Error, Profile) WHERE Deployment = '${vending.name}'`,
      ),
    );
    const one = vending.metricQuery("Vended", {
      dimensionsMap: { CacheLevel: "upstream" },
    }) as cloudwatch.MathExpression;
    expect(stack.resolve(one.expression)).toEqual(
      stack.resolve(
        `SELECT SUM(Vended) FROM SCHEMA(CyberArkTokenVending, CacheLevel, Deployment, Profile) WHERE CacheLevel = 'upstream' AND Deployment = '${vending.name}'`,
      ),
    );
    const latency = vending.metricQuery("UpstreamLatency", {
      dimensionsMap: { Profile: "ci-deployer" },
    }) as cloudwatch.Metric;
    expect(latency.statistic).toBe("Average");
  });

  it("refuse a name the service does not emit, and a percentile over several series", () => {
    expect(() => vending.metricQuery("Nope" as "Vended")).toThrow(/"Nope" is not a metric/);
    expect(() => vending.metricQuery("UpstreamLatency", { statistic: "p99" })).toThrow(
      /"p99" of UpstreamLatency needs every dimension/,
    );
  });
});

describe("dashboard", () => {
  const body = JSON.stringify(
    Object.values(synthesizeStack().template.findResources("AWS::CloudWatch::Dashboard"))[0]
      ?.Properties.DashboardBody,
  );

  it.each([
    ["vended by cache level", 'MetricName=\\\\\\"Vended\\\\\\" CacheLevel=\\\\\\"memory\\\\\\"'],
    ["denied", 'MetricName=\\\\\\"Denied\\\\\\"'],
    ["upstream requests", 'MetricName=\\\\\\"UpstreamRequests\\\\\\"'],
    ["upstream latency p99", "'p99'"],
    ["upstream errors by code", "{CyberArkTokenVending,Error,Deployment,Profile}"],
    ["lease waits", 'MetricName=\\\\\\"LeaseWaits\\\\\\"'],
    ["renewals", "{CyberArkTokenVending,Trigger,Deployment,Profile}"],
    ["function duration", '\\"AWS/Lambda\\",\\"Duration\\"'],
    ["function errors", '\\"AWS/Lambda\\",\\"Errors\\"'],
    ["function throttles", '\\"AWS/Lambda\\",\\"Throttles\\"'],
    ["function concurrency", '\\"AWS/Lambda\\",\\"ConcurrentExecutions\\"'],
    ["API 4xx", '\\"AWS/ApiGateway\\",\\"4XXError\\"'],
    ["API 5xx", '\\"AWS/ApiGateway\\",\\"5XXError\\"'],
    ["API latency", '\\"AWS/ApiGateway\\",\\"Latency\\"'],
    ["token key changes", '\\"AWS/Events\\",\\"TriggeredRules\\"'],
  ])("charts %s", (_, fragment) => {
    expect(body).toContain(fragment);
  });
});

describe("saved Logs Insights queries", () => {
  const { template } = synthesizeStack();
  const queries = Object.values(template.findResources("AWS::Logs::QueryDefinition")).map(
    (query) => query.Properties as { Name: unknown; QueryString: string; LogGroupNames: unknown[] },
  );
  // The deployment's name, then the query's: a Fn::Join when the name holds the stack's region.
  const named = (name: string) =>
    queries.find(
      (query) => JSON.stringify(query.Name).endsWith(`/${name}"]]}`) || query.Name === name,
    );

  it("read the function's log", () => {
    expect(queries).toHaveLength(3);
    for (const query of queries) {
      expect(JSON.stringify(query.LogGroupNames)).toMatch(
        /^\[\{"Ref":"VendFunctionLogs[0-9A-F]{8}"\}\]$/,
      );
    }
  });

  it("answer who got which profile's token", () => {
    const query = named("Who got which profile's token")?.QueryString ?? "";
    expect(query).toContain('filter message = "token request"');
    expect(query).toContain('outcome = "ok"');
    expect(query).toMatch(/stats .* by profile, caller/);
  });

  it("answer which callers were denied", () => {
    const query = named("Which callers were denied")?.QueryString ?? "";
    expect(query).toContain('outcome = "access_denied"');
    expect(query).toMatch(/by caller, profile/);
  });

  it("find a token's requests by its SHA-256 prefix", () => {
    const query = named("Requests of one token, by SHA-256 prefix")?.QueryString ?? "";
    expect(query).toContain("tokenSha256 like /^");
    expect(query).toMatch(/fields @timestamp, requestId, method, profile, caller, status, outcome/);
  });
});
