/**
 * The `CyberArkTokenVending` construct: token table, keys, vending function, IAM-only REST API,
 * alarms, dashboard and saved queries, with one-line grants for callers in the same app.
 * Construct IDs are part of the contract: renaming one replaces the resource on the next deploy.
 */
import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  ArnFormat,
  Aws,
  DockerImage,
  Duration,
  RemovalPolicy,
  Stack,
  Validations,
} from "aws-cdk-lib";
import * as apigateway from "aws-cdk-lib/aws-apigateway";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as sns from "aws-cdk-lib/aws-sns";
import { Construct } from "constructs";
import { TOKEN_TABLE_SCHEMA } from "../functions/adapters/token-table.js";
import { FUNCTION_ENV } from "../functions/core/function-environment.js";
import type { MetricName } from "../functions/core/metrics.js";
import { type ProfilesConfig, parseProfilesConfig } from "../functions/core/profiles.js";
import { loadProfilesFile } from "../functions/core/profiles-file.js";
import { FUNCTION_TIMEOUT_SECONDS } from "../functions/core/timing.js";
import {
  BUNDLE_FILE,
  FUNCTION_ALIASES,
  FUNCTION_BUNDLE,
  HANDLER_ENTRY,
  PREBUILT_BUNDLE_DIR,
  PROJECT_ROOT,
} from "./function-bundle.js";
import { callerArnOf, GrantedCallerList } from "./granted-callers.js";
import { serviceMetric } from "./metrics.js";
import { renderForNag } from "./nag.js";
import {
  createAlarms,
  createDashboard,
  createSavedQueries,
  type TokenVendingAlarms,
} from "./operations.js";
import { hasPrewarmProfiles, RenewalSchedule } from "./renewal-schedule.js";

/** One profile, as written in the profiles file. */
export interface ProfileDefinition {
  /** `https://` origin of the CyberArk Identity tenant. */
  readonly tenantUrl: string;
  /** Secrets Manager secret name or ARN holding `client_id` and `client_secret`. */
  readonly secretId: string;
  /**
   * The custom OAuth2 app's ID: tokens from `/oauth2/token/{applicationId}`.
   * @default tokens from `/oauth2/platformtoken`
   */
  readonly applicationId?: string;
  /**
   * Sent as the `scope` form field.
   * @default no scope
   */
  readonly scope?: string;
  /**
   * How the client credentials travel: `body` or `basic`.
   * @default "body"
   */
  readonly clientAuth?: "body" | "basic";
  /**
   * Role or user ARNs (`*` in the name) and account IDs that may get this profile's token.
   * @default nobody, unless granted with `grantGetToken`
   */
  readonly allowedCallers?: readonly string[];
  /**
   * Keep a valid token of this profile in the table at all times: a schedule renews it every
   * minute once it falls below half its lifetime, so no caller waits for CyberArk, not even the
   * first after an idle night. Any `prewarm` profile adds the schedule (one invocation a minute).
   * @default false
   */
  readonly prewarm?: boolean;
}

/** The profiles file's content: profiles by name, and who may invalidate cached tokens. */
export interface ProfilesDefinition {
  /** Profiles by name (`^[a-z0-9][a-z0-9-]{0,62}$`). */
  readonly profiles: Readonly<Record<string, ProfileDefinition>>;
  /**
   * Who may `DELETE /tokens/{profile}`.
   * @default nobody, unless granted with `grantInvalidate`
   */
  readonly adminCallers?: readonly string[];
}

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

/** The API's endpoint type. */
export type ApiEndpoint =
  | { readonly type: "REGIONAL" }
  | {
      readonly type: "PRIVATE";
      /** Interface VPC endpoints (`vpce-...`) allowed to reach the API. */
      readonly vpcEndpointIds: readonly string[];
    };

/** Request limits of the API stage. */
export interface ApiThrottling {
  /**
   * Steady-state requests per second.
   * @default 50
   */
  readonly rateLimit?: number;
  /**
   * Burst of requests.
   * @default 100
   */
  readonly burstLimit?: number;
}

/** Properties of {@link CyberArkTokenVending}. */
export interface CyberArkTokenVendingProps {
  /**
   * The profiles, as in a profiles file; validated here, at synth. To use a file, read it in the
   * app with {@link CyberArkTokenVending.profilesFromFile}.
   */
  readonly profiles: ProfilesDefinition;
  /**
   * Who may reach the API.
   * @default the deploying account only
   */
  readonly apiAccess?: ApiAccess;
  /**
   * `REGIONAL`, or `PRIVATE` (reachable only through the given interface VPC endpoints).
   * @default { type: "REGIONAL" }
   */
  readonly endpoint?: ApiEndpoint;
  /**
   * SNS topic that alarms notify (on alarm and on recovery), and that receives changes to the
   * token key. Its policy must allow `events.amazonaws.com` to publish.
   * @default no notifications; the alarms and the key-change rule still show in CloudWatch
   */
  readonly alarmTopic?: sns.ITopic;
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
   * Request limits of the API stage.
   * @default { rateLimit: 50, burstLimit: 100 }
   */
  readonly throttling?: ApiThrottling;
}

// From the timing budget, which proves a whole request fits inside it and it inside API Gateway's 29 s.
const FUNCTION_TIMEOUT = Duration.seconds(FUNCTION_TIMEOUT_SECONDS);
/** The API stage's name; the base URL ends in it. */
export const STAGE_NAME = "v1";
const PROFILES_IN_BUNDLE = "profiles.json";

/** The token-vending service, to add to a stack. */
export class CyberArkTokenVending extends Construct {
  /**
   * Reads and validates a profiles file, for the `profiles` prop. Call it in the app, not in a
   * construct: it reads the file when called.
   * @throws {ProfilesConfigError} naming the file, with one line per problem.
   */
  static profilesFromFile(path: string): ProfilesDefinition {
    loadProfilesFile(path);
    return JSON.parse(readFileSync(path, "utf8")) as ProfilesDefinition;
  }

  /** The token cache. */
  readonly table: dynamodb.Table;
  /** The vending function. */
  readonly handler: lambda.Function;
  /** The REST API. */
  readonly api: apigateway.RestApi;
  /** The base URL of the API (for the client and CLI); tokens at `<url>tokens/<profile>`. */
  readonly url: string;
  /** The KMS key that seals cached tokens; only the function may use it. */
  readonly tokenKey: kms.Key;
  /** The EventBridge rule that reports changes to the token key. */
  readonly tokenKeyChangeRule: events.Rule;
  /** The CloudWatch dashboard. */
  readonly dashboard: cloudwatch.Dashboard;
  /** The alarms, by what they watch. */
  readonly alarms: TokenVendingAlarms;
  /** The function's log group: the audit lines and the metrics. */
  readonly logGroup: logs.LogGroup;
  /**
   * The schedule that renews `prewarm` profiles' tokens every minute, and its role.
   * @default none when no profile has `prewarm: true`
   */
  readonly renewalSchedule: RenewalSchedule | undefined;

  readonly #config: ProfilesConfig;
  readonly #grantedCallers: GrantedCallerList;

  constructor(scope: Construct, id: string, props: CyberArkTokenVendingProps) {
    super(scope, id);
    this.#config = parseProfilesConfig(props.profiles);
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
    this.logGroup = new logs.LogGroup(this, "VendFunctionLogs", {
      retention: logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.logGroup.grantWrite(role);

    this.tokenKey = this.#tokenKey(role);
    this.handler = this.#function(props, role);
    this.#grantedCallers = new GrantedCallerList(this.handler);

    // Exactly the calls the DynamoDB adapter makes (an infrastructure test compares the two).
    this.table.grant(this.handler, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem");
    tableKey.grantEncryptDecrypt(this.handler);
    iam.Grant.addToPrincipal({
      grantee: this.handler,
      actions: ["secretsmanager:GetSecretValue"],
      resourceArns: secretIdsOf(this.#config).flatMap((secretId) => this.#secretArns(secretId)),
    });

    this.api = this.#api(props, logRetention);
    this.url = this.api.url;
    // The function refuses events from anywhere but this API's stage. A literal stage name, not a
    // reference to the Stage: the Stage depends on the function through the Method.
    this.handler.addEnvironment(FUNCTION_ENV.apiId, this.api.restApiId);
    this.handler.addEnvironment(FUNCTION_ENV.apiStage, STAGE_NAME);

    this.renewalSchedule = hasPrewarmProfiles(this.#config)
      ? new RenewalSchedule(this, "RenewalSchedule", this.handler)
      : undefined;

    this.tokenKeyChangeRule = this.#keyChangeRule(this.tokenKey, props.alarmTopic);
    const watched = {
      handler: this.handler,
      api: this.api,
      keyChangeRule: this.tokenKeyChangeRule,
      alarmTopic: props.alarmTopic,
    };
    this.alarms = createAlarms(this, watched);
    this.dashboard = createDashboard(this, watched, this.alarms);
    createSavedQueries(this, this.logGroup);
    this.#acknowledgeFindings(role, props.tracing ?? false);
  }

  /**
   * Lets the grantee get `profile`'s token: `execute-api:Invoke` on exactly
   * `GET /tokens/{profile}` of this API, and the grantee's role joins the profile's allowed
   * callers (at deploy time, beside the profiles file's own).
   * @throws {Error} at synth for a profile the profiles do not define.
   */
  grantGetToken(grantee: iam.IGrantable, profile: string): iam.Grant {
    if (!this.#config.profiles.has(profile)) {
      throw new Error(
        `grantGetToken: no profile "${profile}" in the profiles (${[...this.#config.profiles.keys()].join(", ")})`,
      );
    }
    this.#grantedCallers.add(profile, callerArnOf(grantee, "grantGetToken"), "grantGetToken");
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ["execute-api:Invoke"],
      resourceArns: [this.api.arnForExecuteApi("GET", `/tokens/${profile}`, STAGE_NAME)],
    });
  }

  /**
   * Lets the grantee invalidate cached tokens: `execute-api:Invoke` on `DELETE /tokens/*`, and
   * the grantee's role joins the admin callers.
   */
  grantInvalidate(grantee: iam.IGrantable): iam.Grant {
    this.#grantedCallers.add(undefined, callerArnOf(grantee, "grantInvalidate"), "grantInvalidate");
    const resource = this.api.arnForExecuteApi("DELETE", "/tokens/*", STAGE_NAME);
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ["execute-api:Invoke"],
      resourceArns: [resource],
    });
    this.#acknowledgeInvalidateWildcard(grantee, resource);
    return grant;
  }

  /**
   * One of the service's metrics (`Vended`, `Denied`, `UpstreamRequests`, `UpstreamLatency`,
   * `UpstreamErrors`, `LeaseWaits`, `Renewals`). Give `dimensionsMap` with `Profile` (and the
   * metric's extra dimension) for one series; leave them out for the sum over all, which alarms
   * can use too.
   * @default statistic Sum (Average for UpstreamLatency), period 5 minutes
   */
  metric(name: MetricName, props?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    return serviceMetric(name, props);
  }

  #function(props: CyberArkTokenVendingProps, role: iam.Role): lambda.Function {
    const common = {
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: FUNCTION_TIMEOUT,
      role,
      logGroup: this.logGroup,
      tracing: props.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      description: "Vends CyberArk Identity tokens to allowed IAM callers",
      environment: {
        [FUNCTION_ENV.tableName]: this.table.tableName,
        [FUNCTION_ENV.kmsKeyId]: this.tokenKey.keyArn,
        [FUNCTION_ENV.profilesFile]: `/var/task/${PROFILES_IN_BUNDLE}`,
        POWERTOOLS_SERVICE_NAME: "cyberark-token-vending",
      },
    };
    // The validated profiles travel inside the package, read at cold start.
    const profilesJson = JSON.stringify(props.profiles);

    // From a checkout of the repository: bundle the sources with esbuild.
    if (existsSync(HANDLER_ENTRY)) {
      return new NodejsFunction(this, "VendFunction", {
        ...common,
        entry: HANDLER_ENTRY,
        projectRoot: PROJECT_ROOT,
        depsLockFilePath: join(PROJECT_ROOT, "package-lock.json"),
        bundling: {
          format: OutputFormat.ESM,
          target: FUNCTION_BUNDLE.target,
          minify: FUNCTION_BUNDLE.minify,
          sourceMap: FUNCTION_BUNDLE.sourceMap,
          mainFields: [...FUNCTION_BUNDLE.mainFields],
          banner: FUNCTION_BUNDLE.banner,
          externalModules: [...FUNCTION_BUNDLE.externalModules],
          esbuildArgs: Object.fromEntries(
            Object.entries(FUNCTION_ALIASES).map(([name, path]) => [`--alias:${name}`, path]),
          ),
          commandHooks: {
            beforeBundling: () => [],
            beforeInstall: () => [],
            afterBundling: (_input: string, output: string) => [
              `printf '%s' ${shellQuote(profilesJson)} > ${shellQuote(`${output}/${PROFILES_IN_BUNDLE}`)}`,
            ],
          },
        },
      });
    }
    // From the published package: the bundle built at `npm pack`, plus the profiles; a copy, so
    // the consumer needs neither esbuild nor Docker.
    return new lambda.Function(this, "VendFunction", {
      ...common,
      handler: "index.handler",
      code: lambda.Code.fromAsset(PREBUILT_BUNDLE_DIR, {
        bundling: {
          image: DockerImage.fromRegistry("public.ecr.aws/docker/library/busybox:stable"),
          command: [
            "sh",
            "-c",
            `cp /asset-input/${BUNDLE_FILE} /asset-output/ && printf '%s' ${shellQuote(profilesJson)} > /asset-output/${PROFILES_IN_BUNDLE}`,
          ],
          local: {
            tryBundle(outputDir: string): boolean {
              cpSync(join(PREBUILT_BUNDLE_DIR, BUNDLE_FILE), join(outputDir, BUNDLE_FILE));
              writeFileSync(join(outputDir, PROFILES_IN_BUNDLE), profilesJson);
              return true;
            },
          },
        },
      }),
    });
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

  // A name gets the six-character suffix Secrets Manager adds (`-??????` matches exactly that);
  // an ARN is taken as written and also as a partial ARN, since a name may itself contain "-".
  #secretArns(secretId: string): string[] {
    if (secretId.startsWith("arn:")) return [secretId, `${secretId}-??????`];
    return [
      Stack.of(this).formatArn({
        service: "secretsmanager",
        resource: "secret",
        resourceName: `${secretId}-??????`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    ];
  }

  #api(props: CyberArkTokenVendingProps, logRetention: logs.RetentionDays): apigateway.RestApi {
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
                  { vpcEndpointId, port: 443 },
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
        throttlingRateLimit: props.throttling?.rateLimit ?? 50,
        throttlingBurstLimit: props.throttling?.burstLimit ?? 100,
      },
      defaultMethodOptions: { authorizationType: apigateway.AuthorizationType.IAM },
    });
    // ANY, so that other methods reach the function and get the contract's 405 JSON.
    api.root
      .addResource("tokens")
      .addResource("{profile}")
      .addMethod("ANY", new apigateway.LambdaIntegration(this.handler), {
        authorizationType: apigateway.AuthorizationType.IAM,
      });
    return api;
  }

  // `DELETE /tokens/*` is a wildcard by design (every profile's cache); cdk-nag would report it
  // on the grantee's policy, which is the grantee's, so the acknowledgement names that resource.
  #acknowledgeInvalidateWildcard(grantee: iam.IGrantable, resource: string): void {
    const principal = grantee.grantPrincipal as Partial<iam.Role>;
    const policy = principal.node?.tryFindChild("DefaultPolicy")?.node.tryFindChild("Resource");
    if (!policy) return;
    const rendered = renderForNag(Stack.of(this).resolve(resource));
    Validations.of(policy).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::${rendered}]`,
      reason:
        "grantInvalidate: an admin may drop the cached token of any profile, so DELETE /tokens/* of this one API and stage is the intended scope.",
    });
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
  endpoint: ApiEndpoint,
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
