/**
 * The `CyberArkTokenVending` construct: token table, keys, vending function, IAM-only REST API,
 * alarms, dashboard and saved queries, with one-line grants for callers in the same app.
 * Construct IDs are part of the contract: renaming one replaces the resource on the next deploy.
 */
import { readFileSync } from "node:fs";
import { ArnFormat, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import type * as apigateway from "aws-cdk-lib/aws-apigateway";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import type * as events from "aws-cdk-lib/aws-events";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { TOKEN_TABLE_SCHEMA } from "../functions/adapters/token-table.js";
import { FUNCTION_ENV } from "../functions/core/function-environment.js";
import type { MetricName } from "../functions/core/metrics.js";
import { type ProfilesConfig, parseProfilesConfig } from "../functions/core/profiles.js";
import { loadProfilesFile } from "../functions/core/profiles-file.js";
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
import { type ServiceChangeRules, serviceChangeRules } from "./service-change-rules.js";
import { denyOtherTableWriters } from "./table-policy.js";
import { keyChangeRule, tokenKey } from "./token-key.js";
import type { CyberArkTokenVendingProps, ProfilesDefinition } from "./token-vending-props.js";
import { STAGE_NAME, vendingApi } from "./vending-api.js";
import { vendingFunction } from "./vending-function.js";

export type {
  ApiAccess,
  ApiEndpoint,
  ApiThrottling,
  CyberArkTokenVendingProps,
  ProfileDefinition,
  ProfilesDefinition,
} from "./token-vending-props.js";
export { STAGE_NAME } from "./vending-api.js";

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
  /** The EventBridge rules that report changes to the API, function, roles, table and schedule. */
  readonly serviceChangeRules: ServiceChangeRules;
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

    this.tokenKey = tokenKey(this, role);
    this.handler = vendingFunction(this, {
      profiles: props.profiles,
      tracing: props.tracing ?? false,
      role,
      logGroup: this.logGroup,
      tableName: this.table.tableName,
      tokenKeyArn: this.tokenKey.keyArn,
    });
    this.#grantedCallers = new GrantedCallerList(this.handler);

    // Exactly the calls the DynamoDB adapter makes (an infrastructure test compares the two).
    this.table.grant(this.handler, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem");
    tableKey.grantEncryptDecrypt(this.handler);
    iam.Grant.addToPrincipal({
      grantee: this.handler,
      actions: ["secretsmanager:GetSecretValue"],
      resourceArns: secretIdsOf(this.#config).flatMap((secretId) => this.#secretArns(secretId)),
    });

    this.api = vendingApi(this, props, this.handler, logRetention);
    this.url = this.api.url;
    // The function refuses events from anywhere but this API's stage. A literal stage name, not a
    // reference to the Stage: the Stage depends on the function through the Method.
    this.handler.addEnvironment(FUNCTION_ENV.apiId, this.api.restApiId);
    this.handler.addEnvironment(FUNCTION_ENV.apiStage, STAGE_NAME);

    this.renewalSchedule = hasPrewarmProfiles(this.#config)
      ? new RenewalSchedule(this, "RenewalSchedule", this.handler)
      : undefined;

    denyOtherTableWriters(this.table, role, props.breakGlassRole);
    this.tokenKeyChangeRule = keyChangeRule(this, this.tokenKey, props.alarmTopic);
    const watched = {
      handler: this.handler,
      api: this.api,
      keyChangeRule: this.tokenKeyChangeRule,
      alarmTopic: props.alarmTopic,
    };
    const { table, renewalSchedule } = this;
    this.serviceChangeRules = serviceChangeRules(this, {
      ...watched,
      role,
      table,
      renewalSchedule,
    });
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

function secretIdsOf(config: ProfilesConfig): string[] {
  return [...new Set([...config.profiles.values()].map((profile) => profile.secretId))];
}

// Administration of the token key, listed one by one: no wildcard, so no cryptographic action and
// no kms:CreateGrant (whose holder can grant itself Decrypt) can slip in. PutKeyPolicy stays:
// KMS refuses a policy that would leave the key unmanageable, and the key-change rule reports it.
