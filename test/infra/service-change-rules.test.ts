/**
 * Every change to the service raises an alert: each rule, evaluated against CloudTrail events as
 * EventBridge delivers them (resources named as a deployed stack would name them), matches the
 * changes it must report and not the same call on someone else's resource, nor a read.
 */
import { describe, expect, it } from "vitest";
import { matchesPattern } from "../support/event-pattern.js";
import { EXAMPLE_API_ACCESS, PREWARM_PROFILES, synthesizeStack } from "../support/stack.js";
import { ACCOUNT, REGION, TemplateValues } from "../support/template-values.js";

const TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:platform-alerts`;
const { template } = synthesizeStack({
  ...PREWARM_PROFILES,
  apiAccess: EXAMPLE_API_ACCESS,
  alarmTopicArn: TOPIC,
});
const values = new TemplateValues(template);
const resources = template.toJSON().Resources;

const id = (type: string, prefix: string) => values.logicalId(type, prefix);
const api = values.ref(id("AWS::ApiGateway::RestApi", "Api"));
const fn = id("AWS::Lambda::Function", "VendFunction");
const functionName = values.ref(fn);
const functionArn = values.arn(fn);
const functionRole = values.ref(id("AWS::IAM::Role", "VendFunctionRole"));
const scheduleRole = id("AWS::IAM::Role", "RenewalScheduleRole");
const tableId = id("AWS::DynamoDB::Table", "TokenTable");
const [tableName, tableArn] = [values.ref(tableId), values.arn(tableId)];
const scheduleName = values.ref(id("AWS::Scheduler::Schedule", "RenewalSchedule"));

function rule(prefix: string) {
  const props = resources[id("AWS::Events::Rule", prefix)]?.Properties;
  return { pattern: values.resolve(props.EventPattern), targets: props.Targets ?? [] };
}

/** A management event as EventBridge delivers it from CloudTrail. */
function cloudTrail(service: string, eventName: string, detail: object = {}) {
  return {
    source: `aws.${service}`,
    "detail-type": "AWS API Call via CloudTrail",
    detail: { eventSource: `${service}.amazonaws.com`, eventName, ...detail },
  };
}

type Case = [string, ReturnType<typeof cloudTrail>];

function expectMatches(prefix: string, matched: Case[], ignored: Case[]) {
  const { pattern } = rule(prefix);
  for (const [name, event] of matched) expect(matchesPattern(pattern, event), name).toBe(true);
  for (const [name, event] of ignored) expect(matchesPattern(pattern, event), name).toBe(false);
}

describe("service change rules", () => {
  it("API: integrations, methods, resources, deployments, stages and the API's policy", () => {
    const onApi = (name: string, more: object = {}): Case => [
      name,
      cloudTrail("apigateway", name, { requestParameters: { restApiId: api, ...more } }),
    ];
    expectMatches(
      "ApiChangeRule",
      [
        onApi("PutIntegration", { resourceId: "r1", httpMethod: "ANY" }),
        onApi("UpdateIntegration", { resourceId: "r1", httpMethod: "ANY" }),
        onApi("DeleteIntegration"),
        onApi("PutIntegrationResponse"),
        onApi("PutMethod", { resourceId: "r1", httpMethod: "POST" }),
        onApi("UpdateMethod"),
        onApi("DeleteMethod"),
        onApi("CreateResource"),
        onApi("CreateDeployment"),
        onApi("UpdateDeployment"),
        onApi("CreateStage", { stageName: "v2" }),
        onApi("UpdateStage", { stageName: "v1" }),
        onApi("DeleteStage", { stageName: "v1" }),
        onApi("UpdateRestApi"),
        onApi("PutRestApi"),
        onApi("CreateAuthorizer"),
        [
          "UpdateStage named by resource ARN",
          cloudTrail("apigateway", "UpdateStage", {
            resources: [{ ARN: `arn:aws:apigateway:${REGION}::/restapis/${api}/stages/v1` }],
          }),
        ],
      ],
      [
        [
          "CreateDeployment of another API",
          cloudTrail("apigateway", "CreateDeployment", {
            requestParameters: { restApiId: "other" },
          }),
        ],
        onApi("GetRestApi"),
      ],
    );
  });

  it("function: code, configuration, permissions, URL config, concurrency, aliases, deletion", () => {
    const byName = (name: string, functionNameAs = functionName): Case => [
      `${name} (${functionNameAs})`,
      cloudTrail("lambda", name, { requestParameters: { functionName: functionNameAs } }),
    ];
    expectMatches(
      "FunctionChangeRule",
      [
        byName("UpdateFunctionCode20150331v2"),
        byName("UpdateFunctionCode20150331v2", functionArn),
        byName("UpdateFunctionCode20150331v2", `${ACCOUNT}:function:${functionName}`),
        byName("UpdateFunctionConfiguration20150331v2"),
        byName("UpdateFunctionConfiguration20150331v2", `${functionArn}:$LATEST`),
        byName("AddPermission20150331v2"),
        byName("AddPermission20150331v2", `${functionName}:live`),
        byName("AddPermission20150331v2", `${ACCOUNT}:function:${functionName}:live`),
        byName("AddPermission20150331v2", `${functionArn}:live`),
        byName("AddPermission20150331v2", `${functionArn}:$LATEST`),
        byName("RemovePermission20150331v2", `${ACCOUNT}:function:${functionName}:7`),
        byName("RemovePermission20150331v2"),
        byName("CreateFunctionUrlConfig20211031"),
        byName("UpdateFunctionUrlConfig20211031"),
        byName("DeleteFunctionUrlConfig20211031"),
        byName("PutFunctionConcurrency20171031"),
        byName("DeleteFunctionConcurrency20171031"),
        byName("PublishVersion20150331"),
        byName("CreateAlias20150331"),
        byName("UpdateAlias20150331"),
        byName("DeleteFunction20150331"),
        [
          "TagResource20170331v2",
          cloudTrail("lambda", "TagResource20170331v2", {
            requestParameters: { resource: functionArn },
          }),
        ],
      ],
      [
        byName("UpdateFunctionCode20150331v2", "another-function"),
        byName("UpdateFunctionCode20150331v2", `${functionName}-copy`),
        byName("UpdateFunctionCode20150331v2", `${functionArn}-copy`),
        byName("AddPermission20150331v2", `${ACCOUNT}:function:${functionName}-copy:live`),
        byName("GetFunction20150331v2"),
      ],
    );
  });

  it("function: its role handed to another function, created or reconfigured, whatever its name", () => {
    // That function would run with everything the vending function has: the secrets, the token
    // key, and writes to the table (whose policy admits the role, whatever function holds it).
    const withRole = (name: string, role: string, functionNameAs = "innocent-looking"): Case => [
      `${name} ${functionNameAs} as ${role}`,
      cloudTrail("lambda", name, { requestParameters: { functionName: functionNameAs, role } }),
    ];
    const functionRoleArn = values.arn(id("AWS::IAM::Role", "VendFunctionRole"));
    const otherRole = `arn:aws:iam::${ACCOUNT}:role/someone-elses-role`;
    expectMatches(
      "FunctionChangeRule",
      [
        withRole("CreateFunction20150331", functionRoleArn),
        withRole("UpdateFunctionConfiguration20150331v2", functionRoleArn, "some-other-function"),
        withRole(
          "UpdateFunctionConfiguration20150331v2",
          functionRoleArn,
          `arn:aws:lambda:${REGION}:${ACCOUNT}:function:some-other-function`,
        ),
        // IAM role names are case-insensitive.
        withRole(
          "CreateFunction20150331",
          `arn:aws:iam::${ACCOUNT}:role/${functionRole.toUpperCase()}`,
        ),
        withRole("CreateFunction20150331", values.arn(scheduleRole)),
      ],
      [
        withRole("CreateFunction20150331", otherRole),
        withRole("UpdateFunctionConfiguration20150331v2", otherRole, "some-other-function"),
      ],
    );
  });

  it("roles: the function's and the schedule's policies, trust and boundary", () => {
    const onRole = (name: string, roleName: string): Case => [
      `${name} ${roleName}`,
      cloudTrail("iam", name, { requestParameters: { roleName } }),
    ];
    const changes = [
      "PutRolePolicy",
      "DeleteRolePolicy",
      "AttachRolePolicy",
      "DetachRolePolicy",
      "UpdateAssumeRolePolicy",
      "PutRolePermissionsBoundary",
      "DeleteRolePermissionsBoundary",
      "UpdateRole",
      "DeleteRole",
    ];
    expectMatches(
      "RoleChangeRule",
      changes.flatMap((name) => [
        onRole(name, functionRole),
        onRole(name, values.ref(scheduleRole)),
      ]),
      [onRole("PutRolePolicy", "someone-elses-role"), onRole("GetRolePolicy", functionRole)],
    );
  });

  it("table: its resource policy, settings, backups, exports, restores and deletion", () => {
    const withParams = (name: string, requestParameters: object): Case => [
      `${name} ${JSON.stringify(requestParameters)}`,
      cloudTrail("dynamodb", name, { requestParameters }),
    ];
    expectMatches(
      "TableChangeRule",
      [
        withParams("PutResourcePolicy", { resourceArn: tableArn, policy: "{}" }),
        withParams("DeleteResourcePolicy", { resourceArn: tableArn }),
        withParams("DeleteTable", { tableName }),
        withParams("UpdateTable", { tableName }),
        withParams("UpdateTimeToLive", { tableName }),
        withParams("UpdateContinuousBackups", { tableName }),
        withParams("CreateBackup", { tableName, backupName: "copy" }),
        withParams("ExportTableToPointInTime", { tableArn, s3Bucket: "exports" }),
        withParams("RestoreTableToPointInTime", {
          sourceTableName: tableName,
          targetTableName: "x",
        }),
        withParams("RestoreTableToPointInTime", { sourceTableArn: tableArn, targetTableName: "x" }),
        withParams("RestoreTableFromBackup", { backupArn: "b", targetTableName: tableName }),
        withParams("CreateTable", { tableName }),
      ],
      [
        withParams("PutResourcePolicy", {
          resourceArn: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/other`,
        }),
        withParams("DeleteTable", { tableName: "other" }),
        withParams("GetResourcePolicy", { resourceArn: tableArn }),
      ],
    );
  });

  it("table: settings that starve the function (a throughput cap, tiny capacity, TTL off)", () => {
    const starve = (name: string, requestParameters: object): Case => [
      `${name} ${JSON.stringify(requestParameters)}`,
      cloudTrail("dynamodb", name, { requestParameters }),
    ];
    const oneUnit = { maxReadRequestUnits: 1, maxWriteRequestUnits: 1 };
    expectMatches(
      "TableChangeRule",
      [
        starve("UpdateTable", { tableName, onDemandThroughput: oneUnit }),
        starve("UpdateTable", { tableName: tableArn, onDemandThroughput: oneUnit }),
        starve("UpdateTable", {
          tableName,
          billingMode: "PROVISIONED",
          provisionedThroughput: { readCapacityUnits: 1, writeCapacityUnits: 1 },
        }),
        starve("UpdateTimeToLive", {
          tableName,
          timeToLiveSpecification: { enabled: false, attributeName: "expiresAt" },
        }),
        starve("UpdateTimeToLive", {
          tableName: tableArn,
          timeToLiveSpecification: { enabled: false, attributeName: "expiresAt" },
        }),
      ],
      [
        starve("UpdateTable", { tableName: "other", onDemandThroughput: oneUnit }),
        starve("UpdateTimeToLive", { tableName: `${tableName}-copy` }),
      ],
    );
  });

  it("schedule: the renewal schedule, and any schedule that targets the function or passes its role", () => {
    const withParams = (name: string, requestParameters: object): Case => [
      `${name} ${JSON.stringify(requestParameters)}`,
      cloudTrail("scheduler", name, { requestParameters }),
    ];
    const attackerRole = `arn:aws:iam::${ACCOUNT}:role/attacker`;
    const otherFunction = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:other`;
    expectMatches(
      "ScheduleChangeRule",
      [
        withParams("UpdateSchedule", { name: scheduleName }),
        withParams("DeleteSchedule", { name: scheduleName }),
        withParams("CreateSchedule", {
          name: "x",
          target: { arn: functionArn, roleArn: attackerRole },
        }),
        withParams("CreateSchedule", {
          name: "x",
          target: { arn: otherFunction, roleArn: values.arn(scheduleRole) },
        }),
        withParams("CreateSchedule", {
          name: "x",
          target: { arn: "arn:aws:scheduler:::aws-sdk:lambda:invoke", roleArn: attackerRole },
        }),
      ],
      [
        withParams("CreateSchedule", {
          name: "x",
          target: { arn: otherFunction, roleArn: attackerRole },
        }),
        withParams("GetSchedule", { name: scheduleName }),
      ],
    );
  });

  it("pipes: any pipe created or changed to target the function, whatever its role", () => {
    const pipe = (name: string, target: string): Case => [
      `${name} -> ${target}`,
      cloudTrail("pipes", name, {
        requestParameters: {
          name: "p",
          source: `arn:aws:sqs:${REGION}:${ACCOUNT}:q`,
          target,
          roleArn: `arn:aws:iam::${ACCOUNT}:role/existing-pipes-role`,
        },
      }),
    ];
    expectMatches(
      "PipeChangeRule",
      [
        pipe("CreatePipe", functionArn),
        pipe("UpdatePipe", functionArn),
        pipe("CreatePipe", `${functionArn}:live`),
      ],
      [pipe("CreatePipe", `arn:aws:lambda:${REGION}:${ACCOUNT}:function:other`)],
    );
  });

  it("still watches schedules that target the function when there is no renewal schedule", () => {
    const { template: plain } = synthesizeStack();
    const plainValues = new TemplateValues(plain);
    const ruleId = plainValues.logicalId("AWS::Events::Rule", "ScheduleChangeRule");
    const pattern = plainValues.resolve(plain.toJSON().Resources[ruleId].Properties.EventPattern);
    const target = plainValues.arn(plainValues.logicalId("AWS::Lambda::Function", "VendFunction"));
    const create = cloudTrail("scheduler", "CreateSchedule", {
      requestParameters: { name: "x", target: { arn: target, roleArn: "arn:aws:iam::1:role/r" } },
    });
    expect(matchesPattern(pattern, create)).toBe(true);
  });

  it("token key: PutKeyPolicy, CreateGrant, DisableKey, ScheduleKeyDeletion", () => {
    const key = id("AWS::KMS::Key", "TokenKey");
    const onKey = (name: string, keyId = values.ref(key)): Case => [
      `${name} ${keyId}`,
      cloudTrail("kms", name, { requestParameters: { keyId } }),
    ];
    expectMatches(
      "TokenKeyChangeRule",
      ["PutKeyPolicy", "CreateGrant", "DisableKey", "ScheduleKeyDeletion"].flatMap((name) => [
        onKey(name),
        onKey(name, values.arn(key)),
      ]),
      [onKey("PutKeyPolicy", "another-key"), onKey("Decrypt")],
    );
  });

  it("each sends the event itself to the alarm topic", () => {
    for (const prefix of [
      "Api",
      "Function",
      "Role",
      "Table",
      "Schedule",
      "TokenKey",
      "Pipe",
      "AlertRule",
      "AlertPath",
    ]) {
      expect(rule(`${prefix}ChangeRule`).targets, prefix).toEqual([
        expect.objectContaining({ Arn: TOPIC }),
      ]);
    }
  });

  it("without an alarmTopic prop, each sends to the construct's own topic", () => {
    const { template: own } = synthesizeStack();
    const resources = own.toJSON().Resources as Record<
      string,
      { Type: string; Properties: { Targets?: { Arn: unknown }[] } }
    >;
    const topics = Object.keys(resources).filter(
      (key) => resources[key]?.Type === "AWS::SNS::Topic",
    );
    expect(topics).toHaveLength(1);
    const rules = Object.values(resources).filter(
      (resource) => resource.Type === "AWS::Events::Rule",
    );
    expect(rules).toHaveLength(9);
    for (const resource of rules) {
      expect(resource.Properties.Targets).toEqual([
        expect.objectContaining({ Arn: { Ref: topics[0] } }),
      ]);
    }
  });
});
