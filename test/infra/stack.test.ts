import { Match } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { TOKEN_TABLE_SCHEMA } from "../../functions/adapters/token-table.js";
import { ProfilesConfigError } from "../../functions/core/profiles.js";
import { FUNCTION_TIMEOUT_SECONDS } from "../../functions/core/timing.js";
import { CyberArkTokenVending } from "../../infra/token-vending.js";
import { synthesizeStack } from "../support/stack.js";

const { template } = synthesizeStack();

const arnOf = (logicalIdPrefix: string) => ({
  "Fn::GetAtt": [Match.stringLikeRegexp(`^${logicalIdPrefix}`), "Arn"],
});
const accountRoot = {
  "Fn::Join": [
    "",
    ["arn:", { Ref: "AWS::Partition" }, ":iam::", { Ref: "AWS::AccountId" }, ":root"],
  ],
};

describe("token table", () => {
  it("has the shared key schema, TTL on ttl, on-demand billing, CMK encryption, PITR, and is retained", () => {
    template.hasResource("AWS::DynamoDB::Table", {
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
      Properties: {
        KeySchema: [{ AttributeName: TOKEN_TABLE_SCHEMA.partitionKey, KeyType: "HASH" }],
        AttributeDefinitions: [
          { AttributeName: TOKEN_TABLE_SCHEMA.partitionKey, AttributeType: "S" },
        ],
        TimeToLiveSpecification: {
          AttributeName: TOKEN_TABLE_SCHEMA.timeToLiveAttribute,
          Enabled: true,
        },
        BillingMode: "PAY_PER_REQUEST",
        SSESpecification: { SSEEnabled: true, SSEType: "KMS", KMSMasterKeyId: arnOf("TableKey") },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      },
    });
  });

  it("uses customer-managed keys with rotation on (table, token, alarm topic), all retained", () => {
    template.resourceCountIs("AWS::KMS::Key", 3);
    template.allResources("AWS::KMS::Key", {
      DeletionPolicy: "Retain",
      Properties: { EnableKeyRotation: true },
    });
  });
});

describe("token key", () => {
  it("lets the account administer it but only the function role use it", () => {
    template.hasResourceProperties("AWS::KMS::Key", {
      Description: Match.stringLikeRegexp("Envelope-encrypts tokens"),
      KeyPolicy: {
        Statement: [
          {
            Sid: "KeyAdministrationWithoutUse",
            Effect: "Allow",
            Principal: { AWS: accountRoot },
            Action: Match.not(Match.arrayWith(["kms:Decrypt"])),
            Resource: "*",
          },
          {
            Effect: "Allow",
            Principal: { AWS: arnOf("VendFunctionRole") },
            Action: ["kms:GenerateDataKey", "kms:Decrypt"],
            Resource: "*",
          },
        ],
      },
    });
  });
});

describe("vending function", () => {
  it("runs on Node.js 24, arm64, with a timeout inside API Gateway's 29 s and its own log group", () => {
    template.hasResourceProperties("AWS::Lambda::Function", {
      Runtime: "nodejs24.x",
      Architectures: ["arm64"],
      Timeout: FUNCTION_TIMEOUT_SECONDS,
      Handler: "index.handler",
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp("^VendFunctionLogs") } },
      TracingConfig: Match.absent(),
      Environment: {
        Variables: {
          TABLE_NAME: { Ref: Match.stringLikeRegexp("^TokenTable") },
          KMS_KEY_ID: arnOf("TokenKey"),
          PROFILES_FILE: "/var/task/profiles.json",
          POWERTOOLS_SERVICE_NAME: "cyberark-token-vending",
          API_ID: { Ref: Match.stringLikeRegexp("^Api") },
          API_STAGE: "v1",
        },
      },
    });
    template.hasResourceProperties("AWS::Logs::LogGroup", { RetentionInDays: 365 });
  });

  it("has exactly the permissions it needs, no more", () => {
    template.hasResourceProperties("AWS::IAM::Policy", {
      Roles: [{ Ref: Match.stringLikeRegexp("^VendFunctionRole") }],
      PolicyDocument: {
        Statement: [
          {
            Effect: "Allow",
            Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
            Resource: arnOf("VendFunctionLogs"),
          },
          {
            Effect: "Allow",
            Action: ["kms:GenerateDataKey", "kms:Decrypt"],
            Resource: arnOf("TokenKey"),
          },
          {
            Effect: "Allow",
            Action: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            Resource: [arnOf("TokenTable")],
          },
          {
            Effect: "Allow",
            Action: ["kms:Decrypt", "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
            Resource: arnOf("TableKey"),
          },
          {
            Effect: "Allow",
            Action: "secretsmanager:GetSecretValue",
            Resource: [
              {
                "Fn::Join": [
                  "",
                  [
                    "arn:",
                    { Ref: "AWS::Partition" },
                    ":secretsmanager:",
                    { Ref: "AWS::Region" },
                    ":",
                    { Ref: "AWS::AccountId" },
                    ":secret:cyberark/ci-deployer-??????",
                  ],
                ],
              },
              "arn:aws:secretsmanager:eu-west-1:111122223333:secret:cyberark/reports-AbCdEf",
            ],
          },
        ],
      },
    });
    template.resourcePropertiesCountIs(
      "AWS::IAM::Role",
      { ManagedPolicyArns: Match.anyValue() },
      1,
    ); // API GW's logging role only
  });

  it("switches X-Ray tracing on for the function and the stage when asked", () => {
    const traced = synthesizeStack({ tracing: true }).template;
    traced.hasResourceProperties("AWS::Lambda::Function", { TracingConfig: { Mode: "Active" } });
    traced.hasResourceProperties("AWS::ApiGateway::Stage", { TracingEnabled: true });
  });
});

describe("REST API", () => {
  it("requires SigV4 (AWS_IAM) on its one method, ANY /tokens/{profile}", () => {
    template.resourceCountIs("AWS::ApiGateway::Method", 1);
    template.hasResourceProperties("AWS::ApiGateway::Method", {
      HttpMethod: "ANY",
      AuthorizationType: "AWS_IAM",
    });
    template.hasResourceProperties("AWS::ApiGateway::Resource", { PathPart: "{profile}" });
  });

  it("admits only the deploying account by default, on a regional endpoint", () => {
    const oneAccount = {
      profiles: { solo: { tenantUrl: "https://abc1234.id.cyberark.cloud", secretId: "s" } },
    };
    const { template } = synthesizeStack(oneAccount);
    template.hasResourceProperties("AWS::ApiGateway::RestApi", {
      EndpointConfiguration: { Types: ["REGIONAL"] },
      Policy: {
        Statement: [
          {
            Action: "execute-api:Invoke",
            Effect: "Allow",
            Principal: { AWS: accountRoot },
            Resource: "execute-api:/*",
          },
        ],
      },
    });
  });

  it("admits the configured accounts", () => {
    synthesizeStack({
      apiAccess: { accounts: ["111122223333", "444455556666"] },
    }).template.hasResourceProperties("AWS::ApiGateway::RestApi", {
      Policy: {
        Statement: [
          {
            Effect: "Allow",
            Principal: {
              AWS: [
                {
                  "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":iam::111122223333:root"]],
                },
                {
                  "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":iam::444455556666:root"]],
                },
              ],
            },
          },
        ],
      },
    });
  });

  it("admits an AWS Organization by aws:PrincipalOrgID", () => {
    synthesizeStack({
      apiAccess: { organizationId: "o-abcdefghij" },
    }).template.hasResourceProperties("AWS::ApiGateway::RestApi", {
      Policy: {
        Statement: [
          {
            Effect: "Allow",
            Principal: { AWS: "*" },
            Condition: { StringEquals: { "aws:PrincipalOrgID": "o-abcdefghij" } },
          },
        ],
      },
    });
  });

  it("as PRIVATE, is reachable only through the given VPC endpoints", () => {
    synthesizeStack({
      endpoint: { type: "PRIVATE", vpcEndpointIds: ["vpce-0123456789abcdef0"] },
    }).template.hasResourceProperties("AWS::ApiGateway::RestApi", {
      EndpointConfiguration: { Types: ["PRIVATE"], VpcEndpointIds: ["vpce-0123456789abcdef0"] },
      Policy: {
        Statement: [
          Match.objectLike({ Effect: "Allow" }),
          {
            Action: "execute-api:Invoke",
            Effect: "Deny",
            Principal: { AWS: "*" },
            Resource: "execute-api:/*",
            Condition: { StringNotEquals: { "aws:SourceVpce": ["vpce-0123456789abcdef0"] } },
          },
        ],
      },
    });
  });

  it("logs access, throttles, and never writes data traces (they would hold tokens)", () => {
    template.hasResourceProperties("AWS::ApiGateway::Stage", {
      StageName: "v1",
      AccessLogSetting: {
        DestinationArn: arnOf("ApiAccessLogs"),
        Format: Match.stringLikeRegexp("requestId"),
      },
      MethodSettings: [
        {
          DataTraceEnabled: false,
          LoggingLevel: "ERROR",
          MetricsEnabled: true,
          ThrottlingRateLimit: 50,
          ThrottlingBurstLimit: 100,
          HttpMethod: "*",
          ResourcePath: "/*",
        },
      ],
    });
  });

  it("outputs the API URL and the table name", () => {
    template.hasOutput("ApiUrl", {});
    template.hasOutput("TableName", { Value: { Ref: Match.stringLikeRegexp("^TokenTable") } });
  });
});

describe("alarms", () => {
  it("watch function errors, throttles, CyberArk errors (the UpstreamErrors metric) and API 5xx", () => {
    template.resourceCountIs("AWS::CloudWatch::Alarm", 4);
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "Errors",
      Namespace: "AWS/Lambda",
    });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "Throttles",
      Namespace: "AWS/Lambda",
    });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "5XXError",
      Namespace: "AWS/ApiGateway",
    });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Threshold: 3,
      Namespace: "CyberArkTokenVending",
      MetricName: "UpstreamErrors",
      // The default name: the stack's, then the region it is deployed to.
      Dimensions: [
        {
          Name: "Deployment",
          Value: { "Fn::Join": ["", ["CyberArkTokenVending-", { Ref: "AWS::Region" }]] },
        },
      ],
      Period: 300,
    });
    template.resourceCountIs("AWS::Logs::MetricFilter", 0);
  });

  it("notify the SNS topic when one is given, on alarm and on recovery", () => {
    const topicArn = "arn:aws:sns:eu-west-1:111122223333:platform-alerts";
    const alarms = synthesizeStack({ alarmTopicArn: topicArn }).template.findResources(
      "AWS::CloudWatch::Alarm",
    );
    for (const alarm of Object.values(alarms)) {
      expect(alarm.Properties).toMatchObject({ AlarmActions: [topicArn], OKActions: [topicArn] });
    }
  });

  it("notify the construct's own topic without one, on alarm and on recovery", () => {
    const [topic] = Object.keys(template.findResources("AWS::SNS::Topic"));
    for (const alarm of Object.values(template.findResources("AWS::CloudWatch::Alarm"))) {
      expect(alarm.Properties).toMatchObject({
        AlarmActions: [{ Ref: topic }],
        OKActions: [{ Ref: topic }],
      });
    }
  });
});

describe("profiles at synth", () => {
  it("fails synth for invalid profiles, with one line per problem", () => {
    const invalid = { Bad: { tenantUrl: "http://x", secretId: "s" } };
    expect(() => synthesizeStack({ profiles: invalid })).toThrow(ProfilesConfigError);
  });

  it("reads a profiles file only through the static helper, naming the file in each problem", () => {
    expect(() => CyberArkTokenVending.profilesFromFile("package.json")).toThrow(
      /package\.json: unknown top-level field "name"/,
    );
  });
});
