import { App, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as iam from "aws-cdk-lib/aws-iam";
import { describe, expect, it } from "vitest";
import { isAllowed, parseCaller } from "../../functions/core/callers.js";
import { withGrantedCallers } from "../../functions/core/granted-callers.js";
import { parseProfilesConfig } from "../../functions/core/profiles.js";
import { CyberArkTokenVending } from "../../infra/token-vending.js";
import { matchesPattern } from "../support/event-pattern.js";
import {
  EXAMPLE_API_ACCESS,
  EXAMPLE_PROFILES,
  PREWARM_PROFILES,
  synthesizeStack,
} from "../support/stack.js";
import { ACCOUNT, REGION, TemplateValues } from "../support/template-values.js";

// A template's resources, as far as these checks read them.
type Resources = Record<
  string,
  {
    Type: string;
    Properties?: {
      Action?: string;
      InvokedViaFunctionUrl?: boolean;
      PolicyDocument?: { Statement: Statement[] };
      Policies?: { PolicyDocument: { Statement: Statement[] } }[];
    };
  }
>;

interface Statement {
  Effect: string;
  Action?: string | string[];
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const URL_DOOR = { frontDoor: "function-url" } as const;
const TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:platform-alerts`;
const FUNCTION_ARN = { "Fn::GetAtt": [Match.stringLikeRegexp("^VendFunction"), "Arn"] };
const VIA_URL = { Bool: { "lambda:InvokedViaFunctionUrl": "true" } };
const IAM_AUTH = { StringEquals: { "lambda:FunctionUrlAuthType": "AWS_IAM" } };

const resourcesOf = (template: Template) => template.toJSON().Resources as Resources;
const asList = (value: string | string[] | undefined) =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** Whether an IAM action pattern (with `*` and `?`) covers the action. */
function covers(pattern: string, action: string): boolean {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${escaped.replaceAll("*", ".*").replaceAll("?", ".")}$`, "i").test(action);
}

/**
 * Every place in the template that allows `lambda:InvokeFunction` (a policy statement, inline or
 * managed, or a Lambda permission) without `lambda:InvokedViaFunctionUrl = true`, by logical ID.
 */
function directInvokeGrants(template: Template): string[] {
  const found: string[] = [];
  for (const [id, resource] of Object.entries(resourcesOf(template))) {
    const props = resource.Properties ?? {};
    if (resource.Type === "AWS::Lambda::Permission") {
      if (
        covers(props.Action ?? "", "lambda:InvokeFunction") &&
        props.InvokedViaFunctionUrl !== true
      ) {
        found.push(id);
      }
      continue;
    }
    const documents = [
      ...(props.PolicyDocument ? [props.PolicyDocument] : []),
      ...(props.Policies ?? []).map((policy) => policy.PolicyDocument),
    ];
    for (const statement of documents.flatMap((document) => document.Statement)) {
      const invokes = asList(statement.Action).some((action) =>
        covers(action, "lambda:InvokeFunction"),
      );
      const viaUrl = JSON.stringify(statement.Condition?.Bool ?? {}).includes(
        '"lambda:InvokedViaFunctionUrl":"true"',
      );
      if (statement.Effect === "Allow" && invokes && !viaUrl) found.push(id);
    }
  }
  return found;
}

// Roles granted through the construct, as an app would grant its own functions.
function withGrants(stack: Stack & { vending: CyberArkTokenVending }) {
  const role = (id: string) =>
    new iam.Role(stack, id, { assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com") });
  stack.vending.grantGetToken(role("ReportsRole"), "reports-app");
  stack.vending.grantInvalidate(role("OpsRole"));
}

describe("frontDoor function-url", () => {
  const { stack, template } = synthesizeStack(URL_DOOR, withGrants);

  it("is one function URL on the vending function with AuthType AWS_IAM", () => {
    template.resourceCountIs("AWS::Lambda::Url", 1);
    template.hasResourceProperties("AWS::Lambda::Url", {
      AuthType: "AWS_IAM",
      TargetFunctionArn: FUNCTION_ARN,
    });
    expect(stack.vending.functionUrl).toBeDefined();
    expect(stack.vending.api).toBeUndefined();
    expect(stack.resolve(stack.vending.url)).toEqual(stack.resolve(stack.vending.functionUrl?.url));
  });

  it("builds no API Gateway resource at all", () => {
    const types = Object.values(resourcesOf(template)).map((resource) => resource.Type);
    expect(types.filter((type) => type.startsWith("AWS::ApiGateway::"))).toEqual([]);
    expect(JSON.stringify(template.toJSON())).not.toContain("execute-api");
  });

  it("tells the function its door, and names no API or stage", () => {
    const [fn] = Object.values(template.findResources("AWS::Lambda::Function"));
    const variables = fn?.Properties.Environment.Variables;
    expect(variables.FRONT_DOOR).toBe("function-url");
    expect(variables).not.toHaveProperty("API_ID");
    expect(variables).not.toHaveProperty("API_STAGE");
  });

  it("lets the function's role read exactly its own URL config, in a policy the function does not wait for", () => {
    const lookups = template.findResources("AWS::IAM::Policy", {
      Properties: {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Action: Match.stringLikeRegexp("GetFunctionUrlConfig") }),
          ]),
        },
      },
    });
    expect(Object.keys(lookups)).toHaveLength(1);
    const [id, lookup] = Object.entries(lookups)[0] ?? [];
    expect(lookup?.Properties.Roles).toEqual([{ Ref: expect.stringMatching(/^VendFunctionRole/) }]);
    expect(lookup?.Properties.PolicyDocument.Statement).toEqual([
      {
        Effect: "Allow",
        Action: "lambda:GetFunctionUrlConfig",
        Resource: { "Fn::GetAtt": [expect.stringMatching(/^VendFunction/), "Arn"] },
      },
    ]);
    const [fn] = Object.values(template.findResources("AWS::Lambda::Function"));
    expect(fn?.DependsOn).not.toContain(id);
  });

  it("grantGetToken gives InvokeFunctionUrl for AWS_IAM and InvokeFunction only via the URL", () => {
    template.hasResourceProperties("AWS::IAM::Policy", {
      Roles: [{ Ref: Match.stringLikeRegexp("^ReportsRole") }],
      PolicyDocument: {
        Statement: [
          {
            Effect: "Allow",
            Action: "lambda:InvokeFunctionUrl",
            Resource: FUNCTION_ARN,
            Condition: IAM_AUTH,
          },
          {
            Effect: "Allow",
            Action: "lambda:InvokeFunction",
            Resource: FUNCTION_ARN,
            Condition: VIA_URL,
          },
        ],
      },
    });
  });

  it("grantInvalidate gives the same two permissions, with the same conditions", () => {
    template.hasResourceProperties("AWS::IAM::Policy", {
      Roles: [{ Ref: Match.stringLikeRegexp("^OpsRole") }],
      PolicyDocument: {
        Statement: [
          {
            Effect: "Allow",
            Action: "lambda:InvokeFunctionUrl",
            Resource: FUNCTION_ARN,
            Condition: IAM_AUTH,
          },
          {
            Effect: "Allow",
            Action: "lambda:InvokeFunction",
            Resource: FUNCTION_ARN,
            Condition: VIA_URL,
          },
        ],
      },
    });
  });

  it("still makes the grantees the profile's caller and an admin, as the REST door does", () => {
    const [fn] = Object.values(template.findResources("AWS::Lambda::Function"));
    const joined = fn?.Properties.Environment.Variables.GRANTED_CALLERS;
    const [, parts] = joined["Fn::Join"] as [string, unknown[]];
    const value = parts
      .map((part) =>
        typeof part === "string"
          ? part
          : `arn:aws:iam::111122223333:role/${(part as { "Fn::GetAtt": string[] })["Fn::GetAtt"][0]}`,
      )
      .join("");
    const config = withGrantedCallers(parseProfilesConfig(EXAMPLE_PROFILES), value);
    const session = (name: string) =>
      parseCaller(`arn:aws:sts::111122223333:assumed-role/${name}/s`);
    const ids = Object.keys(resourcesOf(template));
    const reports = String(ids.find((id) => /^ReportsRole[0-9A-F]{8}$/.test(id)));
    const ops = String(ids.find((id) => /^OpsRole[0-9A-F]{8}$/.test(id)));
    const reportsCallers = config.profiles.get("reports-app")?.allowedCallers ?? [];
    expect(isAllowed(session(reports), reportsCallers)).toBe(true);
    expect(isAllowed(session(ops), config.adminCallers)).toBe(true);
    expect(isAllowed(session(ops), reportsCallers)).toBe(false);
  });

  it("alarms on the URL's 5xx answers (Lambda's Url5xxCount), not API Gateway's", () => {
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: "AWS/Lambda",
      MetricName: "Url5xxCount",
      Statistic: "Sum",
      Dimensions: [
        { Name: "FunctionName", Value: { Ref: Match.stringLikeRegexp("^VendFunction") } },
      ],
      // The default name: the stack's, then the region deployed to.
      AlarmName: {
        "Fn::Join": ["", ["CyberArkTokenVending-", { Ref: "AWS::Region" }, "-Url5xx"]],
      },
    });
    template.resourceCountIs("AWS::CloudWatch::Alarm", 4);
    expect(JSON.stringify(template.toJSON())).not.toContain("AWS/ApiGateway");
    expect(stack.vending.alarms.api5xx.node.id).toBe("Url5xxAlarm");
  });

  it("graphs the URL's requests, 4xx, 5xx and latency on the dashboard", () => {
    const [dashboard] = Object.values(template.findResources("AWS::CloudWatch::Dashboard"));
    const body = JSON.stringify(dashboard?.Properties.DashboardBody);
    for (const metric of ["UrlRequestCount", "Url4xxCount", "Url5xxCount", "UrlRequestLatency"]) {
      expect(body).toContain(`\\"AWS/Lambda\\",\\"${metric}\\"`);
    }
    expect(body).not.toContain("ApiGateway");
  });

  it("lets no principal invoke the function directly but the renewal schedule's own role", () => {
    expect(directInvokeGrants(template)).toEqual([]);

    const prewarm = synthesizeStack(
      { ...PREWARM_PROFILES, apiAccess: EXAMPLE_API_ACCESS, ...URL_DOOR },
      withGrants,
    ).template;
    // Scheduler invokes the function with a schedule event, never through the URL.
    const direct = directInvokeGrants(prewarm);
    expect(direct).toHaveLength(1);
    expect(direct[0]).toMatch(/^RenewalScheduleRoleDefaultPolicy/);
  });

  it("the direct-invoke check really finds a grant without InvokedViaFunctionUrl", () => {
    const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
    const leakyStack = new Stack(app, "Consumer");
    const vending = new CyberArkTokenVending(leakyStack, "Tokens", {
      ...EXAMPLE_PROFILES,
      apiAccess: EXAMPLE_API_ACCESS,
      ...URL_DOOR,
    });
    const role = (id: string) =>
      new iam.Role(leakyStack, id, { assumedBy: new iam.AccountRootPrincipal() });
    vending.handler.grantInvoke(role("LeakyRole"));
    role("WildcardRole").addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ["lambda:Invoke*"], resources: ["*"] }),
    );
    vending.handler.addPermission("LeakyPermission", {
      principal: new iam.AccountPrincipal("444455556666"),
    });

    expect(directInvokeGrants(Template.fromStack(leakyStack)).sort()).toEqual([
      expect.stringMatching(/^LeakyRoleDefaultPolicy/),
      expect.stringMatching(/^TokensVendFunctionLeakyPermission/),
      expect.stringMatching(/^WildcardRoleDefaultPolicy/),
    ]);
  });
});

describe("frontDoor function-url across accounts", () => {
  it("admits each apiAccess account in the function's policy, with the grants' conditions", () => {
    const { template } = synthesizeStack(URL_DOOR);
    for (const account of EXAMPLE_API_ACCESS.accounts) {
      template.hasResourceProperties("AWS::Lambda::Permission", {
        Action: "lambda:InvokeFunctionUrl",
        FunctionName: FUNCTION_ARN,
        FunctionUrlAuthType: "AWS_IAM",
        Principal: account,
      });
      template.hasResourceProperties("AWS::Lambda::Permission", {
        Action: "lambda:InvokeFunction",
        FunctionName: FUNCTION_ARN,
        InvokedViaFunctionUrl: true,
        Principal: account,
      });
    }
    template.resourceCountIs("AWS::Lambda::Permission", 2 * EXAMPLE_API_ACCESS.accounts.length);
  });

  it("admits an organization by PrincipalOrgID, with the same conditions", () => {
    const { template } = synthesizeStack({
      ...URL_DOOR,
      apiAccess: { organizationId: "o-abcdefghij" },
    });
    template.resourceCountIs("AWS::Lambda::Permission", 2);
    template.hasResourceProperties("AWS::Lambda::Permission", {
      Action: "lambda:InvokeFunctionUrl",
      FunctionUrlAuthType: "AWS_IAM",
      Principal: "*",
      PrincipalOrgID: "o-abcdefghij",
    });
    template.hasResourceProperties("AWS::Lambda::Permission", {
      Action: "lambda:InvokeFunction",
      InvokedViaFunctionUrl: true,
      Principal: "*",
      PrincipalOrgID: "o-abcdefghij",
    });
  });

  it("adds no resource-policy statement by default: the deploying account's own policies suffice", () => {
    const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
    const stack = new Stack(app, "Consumer", { env: { account: "111122223333" } });
    new CyberArkTokenVending(stack, "Tokens", {
      profiles: {
        "reports-app": {
          tenantUrl: "https://abc1234.id.cyberark.cloud",
          secretId: "cyberark/reports-app",
        },
      },
      ...URL_DOOR,
    });
    Template.fromStack(stack).resourceCountIs("AWS::Lambda::Permission", 0);
  });
});

describe("frontDoor function-url refuses what only the REST API has", () => {
  const build = (props: object) => () => {
    const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
    new CyberArkTokenVending(new Stack(app, "Consumer"), "Tokens", {
      ...EXAMPLE_PROFILES,
      apiAccess: EXAMPLE_API_ACCESS,
      ...URL_DOOR,
      ...props,
    });
  };

  it("throttling, naming reservedConcurrency as the door's throttle", () => {
    expect(build({ throttling: { rateLimit: 10 } })).toThrow(
      /throttling is a REST API setting.*reservedConcurrency/,
    );
  });

  it("a PRIVATE endpoint", () => {
    expect(
      build({ endpoint: { type: "PRIVATE", vpcEndpointIds: ["vpce-0123456789abcdef0"] } }),
    ).toThrow(/no private endpoint/);
  });
});

describe("frontDoor rest-api (the default)", () => {
  it("builds no function URL, no function permission and no URL lookup", () => {
    const { stack, template } = synthesizeStack();
    template.resourceCountIs("AWS::Lambda::Url", 0);
    template.resourceCountIs("AWS::ApiGateway::RestApi", 1);
    expect(JSON.stringify(template.toJSON())).not.toContain("GetFunctionUrlConfig");
    const [fn] = Object.values(template.findResources("AWS::Lambda::Function"));
    expect(fn?.Properties.Environment.Variables).not.toHaveProperty("FRONT_DOOR");
    expect(stack.vending.functionUrl).toBeUndefined();
    expect(stack.vending.alarms.api5xx.node.id).toBe("Api5xxAlarm");
  });
});

describe("service change alerts with the function URL door", () => {
  const { stack, template } = synthesizeStack({ ...URL_DOOR, alarmTopicArn: TOPIC });
  const values = new TemplateValues(template);
  const fn = values.logicalId("AWS::Lambda::Function", "VendFunction");
  const [functionName, functionArn] = [values.ref(fn), values.arn(fn)];
  const ruleId = values.logicalId("AWS::Events::Rule", "FunctionChangeRule");
  const rule = resourcesOf(template)[ruleId]?.Properties as Record<string, unknown>;
  const pattern = values.resolve(rule.EventPattern);
  const lambdaCall = (eventName: string, name: string) => ({
    source: "aws.lambda",
    "detail-type": "AWS API Call via CloudTrail",
    detail: {
      eventSource: "lambda.amazonaws.com",
      eventName,
      requestParameters: { functionName: name },
    },
  });

  it("report changes to the URL's config and to the function's resource policy", () => {
    for (const eventName of [
      "CreateFunctionUrlConfig20211031",
      "UpdateFunctionUrlConfig20211031",
      "DeleteFunctionUrlConfig20211031",
      "AddPermission20150331v2",
      "RemovePermission20150331v2",
    ]) {
      expect(matchesPattern(pattern, lambdaCall(eventName, functionName)), eventName).toBe(true);
      expect(matchesPattern(pattern, lambdaCall(eventName, functionArn)), eventName).toBe(true);
      expect(matchesPattern(pattern, lambdaCall(eventName, "another-function")), eventName).toBe(
        false,
      );
    }
    expect(rule.Targets).toEqual([expect.objectContaining({ Arn: TOPIC })]);
  });

  it("watch no API, since there is none", () => {
    expect(stack.vending.serviceChangeRules.api).toBeUndefined();
    expect(Object.keys(resourcesOf(template)).some((id) => id.startsWith("ApiChangeRule"))).toBe(
      false,
    );
  });
});
