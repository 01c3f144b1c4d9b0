/**
 * The whole service in one stack: token table, keys, vending function, IAM-only REST API, alarms.
 * Construct IDs are part of the contract: renaming one replaces the resource on the next deploy.
 */
import { fileURLToPath } from "node:url";
import {
  ArnFormat,
  Aws,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  Validations,
} from "aws-cdk-lib";
import * as apigateway from "aws-cdk-lib/aws-apigateway";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import * as sns from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";
import { TOKEN_TABLE_SCHEMA } from "../functions/adapters/token-table.js";
import { FUNCTION_ENV } from "../functions/core/function-environment.js";
import type { ProfilesConfig } from "../functions/core/profiles.js";
import { loadProfilesFile } from "../functions/core/profiles-file.js";
import { FUNCTION_BUNDLE } from "./function-bundle.js";

/** Who may reach the API at all (the function then applies each profile's `allowedCallers`). */
export type ApiAccess =
  | {
      /** 12-digit account IDs whose principals may call. */
      readonly accounts: readonly string[];
    }
  | {
      /** An AWS Organization (`o-...`) whose principals may call. */
      readonly organizationId: string;
    };

/** Properties of {@link TokenVendingStack}. */
export interface TokenVendingStackProps extends StackProps {
  /** Path of the profiles file (CONTRACT.md section 1); validated here, at synth. */
  readonly profilesFile: string;
  /**
   * Who may reach the API.
   * @default the deploying account only
   */
  readonly apiAccess?: ApiAccess;
  /**
   * `REGIONAL`, or `PRIVATE` (reachable only through the given interface VPC endpoints).
   * @default { type: "REGIONAL" }
   */
  readonly endpoint?:
    | { readonly type: "REGIONAL" }
    | { readonly type: "PRIVATE"; readonly vpcEndpointIds: readonly string[] };
  /**
   * ARN of an SNS topic that alarms notify (on alarm and on recovery).
   * @default no notifications; the alarms still show in CloudWatch
   */
  readonly alarmTopicArn?: string;
  /**
   * Active X-Ray tracing for the function and the API stage.
   * @default false
   */
  readonly tracing?: boolean;
  /**
   * Retention of the function's log (audit lines) and the API's access log.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Steady-state request rate limit of the API stage, per second.
   * @default 50
   */
  readonly throttlingRateLimit?: number;
  /**
   * Burst limit of the API stage.
   * @default 100
   */
  readonly throttlingBurstLimit?: number;
}

/** Namespace of the metrics the function's log yields. */
export const METRIC_NAMESPACE = "CyberArkTokenVending";

// A request waits at most 5 s before taking over a dead instance's lease, and an exchange gives up
// after about 13 s (3 attempts of 3 s plus backoff): 20 s holds both plus Secrets Manager and
// DynamoDB, and still answers well inside API Gateway's 29 s.
const FUNCTION_TIMEOUT = Duration.seconds(20);
const STAGE_NAME = "v1";
/** The Lambda entry point, bundled into the function package. */
export const HANDLER_ENTRY = fileURLToPath(
  new URL("../functions/vend/handler.ts", import.meta.url),
);
const PROJECT_ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The token-vending service. */
export class TokenVendingStack extends Stack {
  /** The token cache. */
  readonly table: dynamodb.Table;
  /** The vending function. */
  readonly function: NodejsFunction;
  /** The REST API. */
  readonly api: apigateway.RestApi;

  constructor(scope: Construct, id: string, props: TokenVendingStackProps) {
    super(scope, id, props);
    const config = loadProfilesFile(props.profilesFile);
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;

    const tableKey = new kms.Key(this, "TableKey", {
      description: "Encrypts the cyberark-token-vending token table at rest",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.table = new dynamodb.Table(this, "TokenTable", {
      partitionKey: { name: TOKEN_TABLE_SCHEMA.partitionKey, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: TOKEN_TABLE_SCHEMA.timeToLiveAttribute,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: tableKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const role = new iam.Role(this, "VendFunctionRole", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: "cyberark-token-vending function: reads its secrets, uses its table and key",
    });
    const logGroup = new logs.LogGroup(this, "VendFunctionLogs", {
      retention: logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    logGroup.grantWrite(role);

    const tokenKey = this.#tokenKey(role);
    this.function = new NodejsFunction(this, "VendFunction", {
      entry: HANDLER_ENTRY,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}/package-lock.json`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: FUNCTION_TIMEOUT,
      role,
      logGroup,
      tracing: props.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      description: "Vends CyberArk Identity tokens to allowed IAM callers",
      environment: {
        TABLE_NAME: this.table.tableName,
        KMS_KEY_ID: tokenKey.keyArn,
        PROFILES_FILE: "/var/task/profiles.json",
        POWERTOOLS_SERVICE_NAME: "cyberark-token-vending",
      },
      bundling: {
        format: OutputFormat.ESM,
        target: FUNCTION_BUNDLE.target,
        minify: FUNCTION_BUNDLE.minify,
        sourceMap: FUNCTION_BUNDLE.sourceMap,
        mainFields: [...FUNCTION_BUNDLE.mainFields],
        banner: FUNCTION_BUNDLE.banner,
        externalModules: [...FUNCTION_BUNDLE.externalModules],
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          // The profiles file validated above travels inside the package, read at cold start.
          afterBundling: (_input: string, output: string) => [
            `cp ${shellQuote(props.profilesFile)} ${shellQuote(`${output}/profiles.json`)}`,
          ],
        },
      },
    });

    this.table.grant(this.function, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem");
    tableKey.grantEncryptDecrypt(this.function);
    const secretArns = secretIdsOf(config).flatMap((secretId) => this.#secretArns(secretId));
    iam.Grant.addToPrincipal({
      grantee: this.function,
      actions: ["secretsmanager:GetSecretValue"],
      resourceArns: secretArns,
    });

    this.api = this.#api(props, logRetention);
    // The function refuses events from anywhere but this API's stage. A literal stage name, not a
    // reference to the Stage: the Stage depends on the function through the Method.
    this.function.addEnvironment(FUNCTION_ENV.apiId, this.api.restApiId);
    this.function.addEnvironment(FUNCTION_ENV.apiStage, STAGE_NAME);
    const topic = props.alarmTopicArn
      ? sns.Topic.fromTopicArn(this, "AlarmTopic", props.alarmTopicArn)
      : undefined;
    this.#alarms(logGroup, topic);
    this.#keyChangeRule(tokenKey, topic);

    new CfnOutput(this, "ApiUrl", {
      value: this.api.url,
      description: "Base URL for the client and CLI (--url); tokens at <url>tokens/<profile>",
    });
    new CfnOutput(this, "TableName", {
      value: this.table.tableName,
      description: "The token table",
    });
    this.#acknowledgeFindings(role, props.tracing ?? false);
  }

  // A key only the function may use for data keys: the key policy gives the account's
  // administrators key management but no cryptographic use, so neither IAM policies elsewhere in the
  // account nor a reader of the table or its backups can open a token.
  #tokenKey(role: iam.IRole): kms.Key {
    const key = new kms.Key(this, "TokenKey", {
      description: "Envelope-encrypts tokens cached by cyberark-token-vending",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
      policy: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: "KeyAdministrationWithoutUse",
            principals: [new iam.AccountRootPrincipal()],
            actions: KEY_ADMIN_ACTIONS,
            resources: ["*"],
          }),
        ],
      }),
    });
    iam.Grant.addToPrincipalAndResource({
      grantee: role,
      actions: ["kms:GenerateDataKey", "kms:Decrypt"],
      resourceArns: [key.keyArn],
      resource: key,
      resourceSelfArns: ["*"],
    });
    return key;
  }

  // A name gets the six-character suffix Secrets Manager adds (`-??????` matches exactly that);
  // an ARN is taken as written and also as a partial ARN, since a name may itself contain "-".
  #secretArns(secretId: string): string[] {
    if (secretId.startsWith("arn:")) return [secretId, `${secretId}-??????`];
    return [
      this.formatArn({
        service: "secretsmanager",
        resource: "secret",
        resourceName: `${secretId}-??????`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    ];
  }

  #api(props: TokenVendingStackProps, logRetention: logs.RetentionDays): apigateway.RestApi {
    const endpoint = props.endpoint ?? { type: "REGIONAL" };
    const accessLogs = new logs.LogGroup(this, "ApiAccessLogs", {
      retention: logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const api = new apigateway.RestApi(this, "Api", {
      description: "cyberark-token-vending: GET/DELETE /tokens/{profile}, SigV4 only",
      endpointConfiguration:
        endpoint.type === "PRIVATE"
          ? {
              types: [apigateway.EndpointType.PRIVATE],
              vpcEndpoints: endpoint.vpcEndpointIds.map((vpcEndpointId, index) =>
                ec2.InterfaceVpcEndpoint.fromInterfaceVpcEndpointAttributes(
                  this,
                  `ApiVpcEndpoint${index}`,
                  {
                    vpcEndpointId,
                    port: 443,
                  },
                ),
              ),
            }
          : { types: [apigateway.EndpointType.REGIONAL] },
      policy: apiResourcePolicy(props.apiAccess, endpoint),
      cloudWatchRole: true,
      deployOptions: {
        stageName: STAGE_NAME,
        accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields(),
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        // Never true: data traces would write response bodies, tokens included, to CloudWatch.
        dataTraceEnabled: false,
        metricsEnabled: true,
        tracingEnabled: props.tracing ?? false,
        throttlingRateLimit: props.throttlingRateLimit ?? 50,
        throttlingBurstLimit: props.throttlingBurstLimit ?? 100,
      },
      defaultMethodOptions: { authorizationType: apigateway.AuthorizationType.IAM },
    });
    // ANY, so that other methods reach the function and get the contract's 405 JSON.
    api.root
      .addResource("tokens")
      .addResource("{profile}")
      .addMethod("ANY", new apigateway.LambdaIntegration(this.function), {
        authorizationType: apigateway.AuthorizationType.IAM,
      });
    return api;
  }

  // Changes to the token key are reported from CloudTrail's management events: PutKeyPolicy stays
  // with the account, so a changed policy (or a grant, a disabled or doomed key) must be seen.
  // Keys may be named by ID, ARN or alias in the request; CloudTrail's resources give the ARN.
  #keyChangeRule(key: kms.IKey, topic: sns.ITopic | undefined): events.Rule {
    return new events.Rule(this, "TokenKeyChangeRule", {
      description:
        "Changes to the cyberark-token-vending token key (policy, grants, disable, deletion)",
      eventPattern: {
        source: ["aws.kms"],
        detailType: ["AWS API Call via CloudTrail"],
        detail: {
          eventSource: ["kms.amazonaws.com"],
          eventName: ["PutKeyPolicy", "CreateGrant", "DisableKey", "ScheduleKeyDeletion"],
          $or: [
            { requestParameters: { keyId: [key.keyId, key.keyArn] } },
            { resources: { ARN: [key.keyArn] } },
          ],
        },
      },
      targets: topic ? [new targets.SnsTopic(topic)] : [],
    });
  }

  #alarms(functionLogs: logs.ILogGroup, topic: sns.ITopic | undefined): void {
    const upstreamFailures = new logs.MetricFilter(this, "UpstreamFailuresFilter", {
      logGroup: functionLogs,
      filterPattern: logs.FilterPattern.literal(
        '{ $.outcome = "upstream_unavailable" || $.outcome = "upstream_rejected" }',
      ),
      metricNamespace: METRIC_NAMESPACE,
      metricName: "UpstreamFailures",
      metricValue: "1",
      defaultValue: 0,
    }).metric({ statistic: "Sum", period: Duration.minutes(5) });

    const alarms: [string, cloudwatch.IMetric, number, string][] = [
      [
        "FunctionErrorsAlarm",
        this.function.metricErrors({ period: Duration.minutes(5) }),
        1,
        "The vending function crashed or timed out (not a caller or CyberArk error)",
      ],
      [
        "FunctionThrottlesAlarm",
        this.function.metricThrottles({ period: Duration.minutes(5) }),
        1,
        "Lambda throttled the vending function: account concurrency is exhausted",
      ],
      [
        "UpstreamFailuresAlarm",
        upstreamFailures,
        3,
        "CyberArk Identity refused or failed token requests (502/503 to callers)",
      ],
      [
        "Api5xxAlarm",
        this.api.metricServerError({ period: Duration.minutes(5), statistic: "Sum" }),
        5,
        "The API answered 5xx: configuration errors, CyberArk failures or function errors",
      ],
    ];
    for (const [id, metric, threshold, description] of alarms) {
      const alarm = new cloudwatch.Alarm(this, id, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `${description}. See README, Operations.`,
      });
      if (topic) {
        alarm.addAlarmAction(new SnsAction(topic));
        alarm.addOkAction(new SnsAction(topic));
      }
    }
  }

  // cdk-nag findings that do not apply, each with the reason a security reviewer would ask for.
  #acknowledgeFindings(role: iam.Role, tracing: boolean): void {
    const rolePolicy = role.node.findChild("DefaultPolicy").node.findChild("Resource");
    const acknowledge = (scope: Construct, rule: string, reason: string) =>
      Validations.of(scope).acknowledge({ id: `AwsSolutions::AwsSolutions-${rule}`, reason });

    for (const action of ["kms:ReEncrypt*", "kms:GenerateDataKey*"]) {
      acknowledge(
        rolePolicy,
        `IAM5[Action::${action}]`,
        "CDK's standard grant for a DynamoDB table encrypted with a customer-managed key; it applies to the table key alone, never to the token key.",
      );
    }
    if (tracing) {
      acknowledge(
        rolePolicy,
        "IAM5[Resource::*]",
        "Added by active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions.",
      );
    }
    acknowledge(
      this.api.node.findChild("Resource"),
      "APIG2",
      "The function validates the path and query itself, because invalid requests must get the contract's JSON error with a request_id, which an API Gateway validator cannot produce.",
    );
    acknowledge(
      this.api.node.findChild("CloudWatchRole").node.findChild("Resource"),
      "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
      "API Gateway's account-level logging role; this AWS-managed policy is the one AWS documents for it and grants only CloudWatch Logs writes.",
    );
    for (const method of this.api.methods) {
      acknowledge(
        method.node.findChild("Resource"),
        "COG4",
        "Callers are AWS principals authenticated by SigV4 (AWS_IAM authorization); there are no end users for a Cognito user pool.",
      );
    }
    acknowledge(
      this.api.deploymentStage.node.findChild("Resource"),
      "APIG3",
      "Every request must carry a valid SigV4 signature of an allowed account (resource policy) before it reaches the function, and the stage is throttled; a WAF web ACL adds cost without a rule that would apply.",
    );
  }
}

function apiResourcePolicy(
  access: ApiAccess | undefined,
  endpoint: NonNullable<TokenVendingStackProps["endpoint"]>,
): iam.PolicyDocument {
  const invoke = { actions: ["execute-api:Invoke"], resources: ["execute-api:/*"] };
  const allow =
    access && "organizationId" in access
      ? new iam.PolicyStatement({
          ...invoke,
          principals: [new iam.AnyPrincipal()],
          conditions: { StringEquals: { "aws:PrincipalOrgID": access.organizationId } },
        })
      : new iam.PolicyStatement({
          ...invoke,
          principals: (access?.accounts ?? [Aws.ACCOUNT_ID]).map(
            (account) => new iam.AccountPrincipal(account),
          ),
        });
  const statements = [allow];
  if (endpoint.type === "PRIVATE") {
    statements.push(
      new iam.PolicyStatement({
        ...invoke,
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        conditions: { StringNotEquals: { "aws:SourceVpce": [...endpoint.vpcEndpointIds] } },
      }),
    );
  }
  return new iam.PolicyDocument({ statements });
}

function secretIdsOf(config: ProfilesConfig): string[] {
  return [...new Set([...config.profiles.values()].map((profile) => profile.secretId))];
}

// Administration of the token key, listed one by one: no wildcard, so no cryptographic action and
// no kms:CreateGrant (whose holder can grant itself Decrypt) can slip in. PutKeyPolicy stays:
// KMS refuses a policy that would leave the key unmanageable, and the key-change rule reports it.
const KEY_ADMIN_ACTIONS = [
  "kms:CancelKeyDeletion",
  "kms:CreateAlias",
  "kms:DeleteAlias",
  "kms:DescribeKey",
  "kms:DisableKey",
  "kms:DisableKeyRotation",
  "kms:EnableKey",
  "kms:EnableKeyRotation",
  "kms:GetKeyPolicy",
  "kms:GetKeyRotationStatus",
  "kms:ListGrants",
  "kms:ListKeyPolicies",
  "kms:ListKeyRotations",
  "kms:ListResourceTags",
  "kms:PutKeyPolicy",
  "kms:RevokeGrant",
  "kms:RotateKeyOnDemand",
  "kms:ScheduleKeyDeletion",
  "kms:TagResource",
  "kms:UntagResource",
  "kms:UpdateAlias",
  "kms:UpdateKeyDescription",
];

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}
