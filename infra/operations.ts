/**
 * What an operator watches: the alarms, the dashboard and the saved Logs Insights queries.
 * Construct IDs here are part of the contract (renaming one replaces the resource).
 */
import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as events from "aws-cdk-lib/aws-events";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as sns from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";
import { METRIC_DIMENSIONS, METRICS } from "../functions/core/metrics.js";
import type { FrontDoorWatch } from "./front-door.js";
import { deploymentMetric, METRIC_PERIOD, searchEach, searchSum } from "./metrics.js";

/** The service's alarms, by what they watch. */
export interface TokenVendingAlarms {
  /** The function crashed or timed out. */
  readonly functionErrors: cloudwatch.Alarm;
  /** Lambda refused to run the function. */
  readonly functionThrottles: cloudwatch.Alarm;
  /** CyberArk refused, failed or timed out (`UpstreamErrors`, every profile and code). */
  readonly upstreamErrors: cloudwatch.Alarm;
  /** The front door (the API, or the function URL) answered 5xx. */
  readonly api5xx: cloudwatch.Alarm;
}

/** What the alarms and the dashboard watch, and what they are named after. */
export interface WatchedResources {
  /** The deployment's name: alarm and dashboard names, and the `Deployment` dimension. */
  readonly name: string;
  readonly handler: lambda.Function;
  /** The front door's alarm and graphs. */
  readonly door: FrontDoorWatch;
  readonly keyChangeRule: events.Rule;
  readonly alarmTopic: sns.ITopic;
}

interface AlarmSpec {
  /** The construct ID; the alarm is named `<deployment name>-<id without "Alarm">`. */
  readonly id: string;
  readonly metric: cloudwatch.IMetric;
  readonly threshold: number;
  readonly description: string;
}

/** Creates the alarms; each notifies the alarm topic on alarm and on recovery. */
export function createAlarms(scope: Construct, watched: WatchedResources): TokenVendingAlarms {
  const period = METRIC_PERIOD;
  const alarm = ({ id, metric, threshold, description }: AlarmSpec) => {
    const created = new cloudwatch.Alarm(scope, id, {
      alarmName: `${watched.name}-${id.replace(/Alarm$/, "")}`,
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `${description}. See README, Operations.`,
    });
    created.addAlarmAction(new SnsAction(watched.alarmTopic));
    created.addOkAction(new SnsAction(watched.alarmTopic));
    return created;
  };
  return {
    functionErrors: alarm({
      id: "FunctionErrorsAlarm",
      metric: watched.handler.metricErrors({ period }),
      threshold: 1,
      description: "The vending function crashed or timed out (not a caller or CyberArk error)",
    }),
    functionThrottles: alarm({
      id: "FunctionThrottlesAlarm",
      metric: watched.handler.metricThrottles({ period }),
      threshold: 1,
      description: "Lambda throttled the vending function: account concurrency is exhausted",
    }),
    // The ID predates the UpstreamErrors metric; kept so a deployed alarm updates in place.
    upstreamErrors: alarm({
      id: "UpstreamFailuresAlarm",
      metric: deploymentMetric(METRICS.upstreamErrors, watched.name),
      threshold: 3,
      description:
        "CyberArk Identity refused, failed or timed out on token requests (UpstreamErrors, every profile and code)",
    }),
    api5xx: alarm({ ...watched.door.serverErrorAlarm, threshold: 5 }),
  };
}

// Dynamic labels (`${PROP('Dim.Profile')}`): each line of a SEARCH is named by its dimensions.
const dynamicLabel = (dimension: string) => `\${PROP('Dim.${dimension}')}`;
const PROFILE = dynamicLabel("Profile");
const ERROR = dynamicLabel("Error");
const TRIGGER = dynamicLabel("Trigger");

/** Creates the dashboard: callers and caches, CyberArk, the function, the front door. */
export function createDashboard(
  scope: Construct,
  watched: WatchedResources,
  alarms: TokenVendingAlarms,
): cloudwatch.Dashboard {
  const { handler, door, name } = watched;
  const graph = (title: string, left: cloudwatch.IMetric[], right: cloudwatch.IMetric[] = []) =>
    new cloudwatch.GraphWidget({ title, left, right, width: 8, height: 6, period: METRIC_PERIOD });
  const dashboard = new cloudwatch.Dashboard(scope, "Dashboard", {
    dashboardName: name,
    defaultInterval: Duration.hours(12),
  });
  dashboard.addWidgets(
    new cloudwatch.AlarmStatusWidget({
      title: "Alarms",
      alarms: Object.values(alarms),
      width: 24,
      height: 3,
    }),
  );
  dashboard.addWidgets(
    graph(
      "Tokens vended by cache level",
      ["memory", "table", "upstream"].map((level) =>
        searchSum(METRICS.vended, name, { [METRIC_DIMENSIONS.cacheLevel]: level }, level),
      ),
    ),
    graph("Denied requests, by profile", [searchEach(METRICS.denied, name, "Sum", PROFILE)]),
    graph("Requests to CyberArk, by profile", [
      searchEach(METRICS.upstreamRequests, name, "Sum", PROFILE),
    ]),
  );
  dashboard.addWidgets(
    graph("CyberArk latency p50 / p99 (ms), by profile", [
      searchEach(METRICS.upstreamLatency, name, "p50", `p50 ${PROFILE}`),
      searchEach(METRICS.upstreamLatency, name, "p99", `p99 ${PROFILE}`),
    ]),
    graph("CyberArk errors, by code and profile", [
      searchEach(METRICS.upstreamErrors, name, "Sum", `${ERROR} ${PROFILE}`),
    ]),
    graph(
      "Lease waits and renewals",
      [searchEach(METRICS.leaseWaits, name, "Sum", `lease waits ${PROFILE}`)],
      [searchEach(METRICS.renewals, name, "Sum", `renewals (${TRIGGER}) ${PROFILE}`)],
    ),
  );
  dashboard.addWidgets(
    graph(
      "Function duration p50 / p99 (ms)",
      [
        handler.metricDuration({ statistic: "p50", period: METRIC_PERIOD }),
        handler.metricDuration({ statistic: "p99", period: METRIC_PERIOD }),
      ],
      [],
    ),
    graph("Function errors and throttles", [
      handler.metricErrors({ period: METRIC_PERIOD }),
      handler.metricThrottles({ period: METRIC_PERIOD }),
    ]),
    graph("Function concurrency (max)", [
      handler.metric("ConcurrentExecutions", { statistic: "Maximum", period: METRIC_PERIOD }),
    ]),
  );
  dashboard.addWidgets(
    ...door.graphs.map(({ title, left, right }) => graph(title, left, right)),
    graph("Token key changes (PutKeyPolicy, CreateGrant, DisableKey, ScheduleKeyDeletion)", [
      new cloudwatch.Metric({
        namespace: "AWS/Events",
        metricName: "TriggeredRules",
        dimensionsMap: { RuleName: watched.keyChangeRule.ruleName },
        statistic: "Sum",
        period: METRIC_PERIOD,
      }),
    ]),
  );
  return dashboard;
}

// The audit line every request writes: message "token request" with requestId, method, profile,
// caller, status, outcome, cache and tokenSha256.
const AUDIT_LINE = 'message = "token request"';

/** Saves the Logs Insights queries an operator asks most, beside the function's log. */
export function createSavedQueries(
  scope: Construct,
  name: string,
  functionLogs: logs.ILogGroup,
): logs.QueryDefinition[] {
  const folder = name;
  const query = (id: string, name: string, queryString: logs.QueryString) =>
    new logs.QueryDefinition(scope, id, {
      queryDefinitionName: `${folder}/${name}`,
      queryString,
      logGroups: [functionLogs],
    });
  return [
    query(
      "TokensVendedQuery",
      "Who got which profile's token",
      new logs.QueryString({
        filterStatements: [AUDIT_LINE, 'method = "GET"', 'outcome = "ok"'],
        statsStatements: [
          "count(*) as requests, min(@timestamp) as first, max(@timestamp) as last by profile, caller",
        ],
        sort: "profile asc, requests desc",
      }),
    ),
    query(
      "DeniedCallersQuery",
      "Which callers were denied",
      new logs.QueryString({
        filterStatements: [AUDIT_LINE, 'outcome = "access_denied"'],
        statsStatements: ["count(*) as attempts, max(@timestamp) as last by caller, profile"],
        sort: "attempts desc",
      }),
    ),
    query(
      "TokenRequestsQuery",
      "Requests of one token, by SHA-256 prefix",
      new logs.QueryString({
        fields: [
          "@timestamp",
          "requestId",
          "method",
          "profile",
          "caller",
          "status",
          "outcome",
          "cache",
          "tokenSha256",
        ],
        // Replace the placeholder with the prefix to look for (any leading part of tokenSha256).
        filterStatements: [AUDIT_LINE, "tokenSha256 like /^PASTE-SHA256-PREFIX/"],
        sort: "@timestamp asc",
      }),
    ),
  ];
}
