/**
 * The `CyberArkTokenVending` construct: token table, keys, vending function, an IAM-only front
 * door (REST API or function URL), alarms, dashboard and saved queries, with one-line grants for callers in the same app.
 * Construct IDs are part of the contract: renaming one replaces the resource on the next deploy.
 */
import { readFileSync } from "node:fs";
import { RemovalPolicy, Stack } from "aws-cdk-lib";
import type * as apigateway from "aws-cdk-lib/aws-apigateway";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import type * as events from "aws-cdk-lib/aws-events";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as sns from "aws-cdk-lib/aws-sns";
import { Construct } from "constructs";
import { TOKEN_TABLE_SCHEMA } from "../functions/adapters/token-table.js";
import { METRICS, type MetricName } from "../functions/core/metrics.js";
import { type ProfilesConfig, parseProfilesConfig } from "../functions/core/profiles.js";
import { loadProfilesFile } from "../functions/core/profiles-file.js";
import { defaultAlarmTopic } from "./alarm-topic.js";
import { checkCallerAccounts } from "./caller-accounts.js";
import { checkName, defaultName, takeName } from "./deployment-name.js";
import { buildFrontDoor, type FrontDoor } from "./front-door.js";
import { callerArnOf, GrantedCallerList } from "./granted-callers.js";
import { deploymentMetric, insightsMetric } from "./metrics.js";
import { acknowledgeFindings } from "./nag-acknowledgements.js";
import {
  createAlarms,
  createDashboard,
  createSavedQueries,
  type TokenVendingAlarms,
} from "./operations.js";
import { hasPrewarmProfiles, RenewalSchedule } from "./renewal-schedule.js";
import { grantSecretReads } from "./secret-access.js";
import { type ServiceChangeRules, serviceChangeRules } from "./service-change-rules.js";
import { denyOtherTableWriters } from "./table-policy.js";
import { keyChangeRule, tokenKey } from "./token-key.js";
import type {
  CyberArkTokenVendingProps,
  GrantGetTokenOptions,
  ProfilesDefinition,
} from "./token-vending-props.js";
import { vendingFunction } from "./vending-function.js";

export { CallerAccountError } from "./caller-accounts.js";
export type { FrontDoorKind } from "./front-door.js";
export type {
  ApiAccess,
  ApiEndpoint,
  ApiThrottling,
  CallerDefinition,
  CyberArkTokenVendingProps,
  GrantGetTokenOptions,
  ProfileDefinition,
  ProfilesDefinition,
} from "./token-vending-props.js";
export { STAGE_NAME } from "./vending-api.js";

/** The token-vending service, to add to a stack. */
export class CyberArkTokenVending extends Construct {
  /**
   * Reads and validates a profiles file: its profiles and admin callers, to spread into the props
   * (`{ ...CyberArkTokenVending.profilesFromFile(path), apiAccess }`). Call it in the app: a
   * construct reads no files.
   * @throws {ProfilesConfigError} naming the file, with one line per problem.
   */
  static profilesFromFile(
    path: string,
  ): Pick<CyberArkTokenVendingProps, "profiles" | "adminCallers"> {
    loadProfilesFile(path);
    const { profiles, adminCallers } = JSON.parse(readFileSync(path, "utf8")) as ProfilesDefinition;
    return { profiles, ...(adminCallers ? { adminCallers } : {}) };
  }

  /** The deployment's name: API, dashboard, alarms, and the `Deployment` metric dimension. */
  readonly name: string;
  /** The token cache. */
  readonly table: dynamodb.Table;
  /** The vending function. */
  readonly handler: lambda.Function;
  /** The REST API, with `frontDoor: "rest-api"` (the default). */
  readonly api: apigateway.RestApi | undefined;
  /** The function URL, with `frontDoor: "function-url"`. */
  readonly functionUrl: lambda.FunctionUrl | undefined;
  /** The front door's base URL (for the client and CLI); tokens at `<url>tokens/<profile>`. */
  readonly url: string;
  /** The KMS key that seals cached tokens; only the function may use it. */
  readonly tokenKey: kms.Key;
  /** The EventBridge rule that reports changes to the token key. */
  readonly tokenKeyChangeRule: events.Rule;
  /** The topic every alarm and alert notifies: the `alarmTopic` prop, or the construct's own. */
  readonly alarmTopic: sns.ITopic;
  /** The EventBridge rules that report changes to the API, function, roles, table and schedule. */
  readonly serviceChangeRules: ServiceChangeRules;
  /** The CloudWatch dashboard, named after the deployment. */
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
  readonly #door: FrontDoor;

  constructor(scope: Construct, id: string, props: CyberArkTokenVendingProps) {
    super(scope, id);
    const definition: ProfilesDefinition = {
      profiles: props.profiles,
      ...(props.adminCallers ? { adminCallers: props.adminCallers } : {}),
    };
    this.#config = parseProfilesConfig(definition);
    checkCallerAccounts(this.#config, props.apiAccess, Stack.of(this).account);
    this.name = props.name ?? defaultName(this);
    checkName(this.name);
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    const tableKey = new kms.Key(this, "TableKey", {
      description: "Encrypts the cyberark-token-vending token table at rest",
      enableKeyRotation: true,
      removalPolicy,
    });
    this.table = new dynamodb.Table(this, "TokenTable", {
      partitionKey: { name: TOKEN_TABLE_SCHEMA.partitionKey, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: TOKEN_TABLE_SCHEMA.timeToLiveAttribute,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: tableKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy,
    });

    const role = new iam.Role(this, "VendFunctionRole", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: "cyberark-token-vending function: reads its secrets, uses its table and key",
    });
    this.logGroup = new logs.LogGroup(this, "VendFunctionLogs", {
      retention: logRetention,
      removalPolicy,
    });
    this.logGroup.grantWrite(role);

    this.tokenKey = tokenKey(this, role, removalPolicy);
    this.handler = vendingFunction(this, {
      profiles: definition,
      name: this.name,
      tracing: props.tracing ?? false,
      memorySize: props.memorySize ?? 256,
      reservedConcurrency: props.reservedConcurrency,
      role,
      logGroup: this.logGroup,
      tableName: this.table.tableName,
      tokenKeyArn: this.tokenKey.keyArn,
    });
    this.#grantedCallers = new GrantedCallerList(this.handler, this.#config);

    // Exactly the calls the DynamoDB adapters make (an infrastructure test compares the two).
    const tableActions = ["GetItem", "PutItem", "UpdateItem"];
    this.table.grant(this.handler, ...tableActions.map((action) => `dynamodb:${action}`));
    tableKey.grantEncryptDecrypt(this.handler);
    grantSecretReads(this.handler, this.#config);

    const { api, functionUrl, door } = buildFrontDoor(this, props, {
      name: this.name,
      handler: this.handler,
      role,
      logRetention,
      removalPolicy,
    });
    this.api = api;
    this.functionUrl = functionUrl;
    this.#door = door;
    this.url = this.#door.url;

    this.renewalSchedule = hasPrewarmProfiles(this.#config)
      ? new RenewalSchedule(this, "RenewalSchedule", this.handler)
      : undefined;

    this.alarmTopic = props.alarmTopic ?? defaultAlarmTopic(this, this.name, removalPolicy);
    denyOtherTableWriters(this.table, role, props.breakGlassRole);
    this.tokenKeyChangeRule = keyChangeRule(this, this.tokenKey, this.alarmTopic);
    const watched = {
      name: this.name,
      handler: this.handler,
      door: this.#door.watch,
      keyChangeRule: this.tokenKeyChangeRule,
      alarmTopic: this.alarmTopic,
    };
    const { table, renewalSchedule } = this;
    this.serviceChangeRules = serviceChangeRules(this, {
      ...watched,
      api,
      role,
      table,
      renewalSchedule,
    });
    this.alarms = createAlarms(this, watched);
    this.dashboard = createDashboard(this, watched, this.alarms);
    createSavedQueries(this, this.name, this.logGroup);
    acknowledgeFindings(role, this.api, props.tracing ?? false);
    takeName(this, this.name);
  }

  /**
   * Lets the grantee get `profile`'s token, and the grantee's role joins the profile's allowed
   * callers (at deploy time, beside the profiles file's own). Through the REST API:
   * `execute-api:Invoke` on exactly `GET /tokens/{profile}`. Through the function URL:
   * `lambda:InvokeFunctionUrl` (auth type `AWS_IAM`) and `lambda:InvokeFunction` only via the
   * URL, on the function; the allow-lists then decide which profile. With `scopes`, the grantee
   * may ask for those scopes only (its ceiling, within the profile's `scopes`).
   * @throws {Error} at synth for a profile the profiles do not define, or a ceiling it does not allow.
   */
  grantGetToken(
    grantee: iam.IGrantable,
    profile: string,
    options: GrantGetTokenOptions = {},
  ): iam.Grant {
    const callerArn = callerArnOf(grantee, "grantGetToken", Stack.of(this));
    this.#grantedCallers.addProfileCaller(profile, callerArn, options.scopes);
    return this.#door.grantGet(grantee, profile);
  }

  /**
   * Lets the grantee invalidate cached tokens, and the grantee's role joins the admin callers.
   * Through the REST API: `execute-api:Invoke` on `DELETE /tokens/*`. Through the function URL:
   * the same permissions as {@link grantGetToken}; `adminCallers` decides.
   */
  grantInvalidate(grantee: iam.IGrantable): iam.Grant {
    this.#grantedCallers.addAdmin(callerArnOf(grantee, "grantInvalidate", Stack.of(this)));
    return this.#door.grantDelete(grantee);
  }

  /** Tokens vended (Count; a series per `Profile` and `CacheLevel`). @default Sum, 5 minutes */
  metricVended(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return deploymentMetric(METRICS.vended, this.name, props);
  }

  /** Requests refused with `access_denied` (Count; a series per `Profile`). @default Sum */
  metricDenied(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return deploymentMetric(METRICS.denied, this.name, props);
  }

  /** Token requests sent to CyberArk (Count; a series per `Profile`). @default Sum */
  metricUpstreamRequests(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return deploymentMetric(METRICS.upstreamRequests, this.name, props);
  }

  /** Duration of one exchange with CyberArk (Milliseconds; per `Profile`). @default Average */
  metricUpstreamLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return deploymentMetric(METRICS.upstreamLatency, this.name, props);
  }

  /** CyberArk refusals, failures and timeouts (Count; per `Profile` and `Error`). @default Sum */
  metricUpstreamErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return deploymentMetric(METRICS.upstreamErrors, this.name, props);
  }

  /** Requests that waited for another instance's refresh (Count; per `Profile`). @default Sum */
  metricLeaseWaits(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return deploymentMetric(METRICS.leaseWaits, this.name, props);
  }

  /** Tokens renewed before expiry (Count; per `Profile` and `Trigger`). @default Sum */
  metricRenewals(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return deploymentMetric(METRICS.renewals, this.name, props);
  }

  /**
   * One of the service's metrics of this deployment, filtered by any of its dimensions: the exact
   * series when every dimension is given, otherwise a Metrics Insights sum (or average) over
   * those left open, e.g. one profile's tokens at every cache level. The `metricXxx()` methods
   * give each metric's total or one series as a plain `cloudwatch.Metric`.
   * @default statistic Sum (Average for UpstreamLatency), period 5 minutes
   */
  metricQuery(name: MetricName, props?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    return insightsMetric(name, this.name, props);
  }
}
