/**
 * Every change to the service raises an alert: EventBridge rules on CloudTrail's management
 * events, one per AWS service, each sending the event itself to the alarm topic (as the token
 * key's rule does). Whoever can change one of these can take tokens or stop the service without
 * touching the function's code path: an API Gateway administrator can deploy an integration that
 * builds any event the function accepts, any caller included; whoever may create a schedule and
 * pass a role can invoke the function with a forged admin `DELETE`; a changed role, table policy
 * or function configuration opens the rest. None of them can be refused by the service itself,
 * so each is made visible.
 *
 * Each rule matches every call naming one of the service's resources, so a call added to an AWS
 * API later is reported too. Reads are not: an enabled rule receives no read-only management
 * event (`Get*`, `List*`, `Describe*`), and `Get*` is left out by name as well. A deploy of the
 * stack therefore raises a handful of alerts: match them with the pipeline's runs.
 *
 * IAM is a global service: CloudTrail delivers its events to EventBridge in us-east-1 only, so
 * the role rule fires only in a stack deployed there (see README, Threat model).
 *
 * Construct IDs: `ApiChangeRule`, `FunctionChangeRule`, `RoleChangeRule`, `TableChangeRule`,
 * `ScheduleChangeRule`, `PipeChangeRule`, and the watchers of these (see alert-change-rules.ts).
 */
import { Aws } from "aws-cdk-lib";
import type * as apigateway from "aws-cdk-lib/aws-apigateway";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as events from "aws-cdk-lib/aws-events";
import type * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as sns from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";
import { AlarmTopicTarget } from "./alarm-topic.js";
import { type AlertChangeRules, alertChangeRules } from "./alert-change-rules.js";
import type { RenewalSchedule } from "./renewal-schedule.js";

/** What the rules watch. */
export interface ServiceResources {
  readonly api: apigateway.RestApi | undefined;
  readonly handler: lambda.IFunction;
  /** The function's role. */
  readonly role: iam.IRole;
  readonly table: dynamodb.Table;
  readonly renewalSchedule: RenewalSchedule | undefined;
  readonly alarmTopic: sns.ITopic;
  /** The deployment's name (the construct's `name`). */
  readonly name: string;
  /** The token key's rule, watched with these. */
  readonly keyChangeRule: events.Rule;
}

/** The rules, by what they watch. */
export interface ServiceChangeRules {
  /** The API: its integrations, methods, resources, deployments, stages, policy (REST door). */
  readonly api: events.Rule | undefined;
  /**
   * The function: code, configuration, permissions (resource policy), URL config, aliases; and
   * any function created or reconfigured with the function's role or the schedule's.
   */
  readonly function: events.Rule;
  /** The function's role and the renewal schedule's role: policies, trust, boundary. */
  readonly roles: events.Rule;
  /** The table: its resource policy, backups and restores, settings, deletion. */
  readonly table: events.Rule;
  /** The renewal schedule, and any schedule that targets the function or uses its role. */
  readonly schedule: events.Rule;
  /** EventBridge Pipes that target the function (each invokes it as a role of its own). */
  readonly pipe: events.Rule;
  /** The watchers of the alerts themselves: the rules, the topic, CloudTrail. */
  readonly alerts: AlertChangeRules;
}

const CLOUDTRAIL = "AWS API Call via CloudTrail";
const LAMBDA_UNIVERSAL_TARGET = `arn:${Aws.PARTITION}:scheduler:::aws-sdk:lambda:`;
// Reads change nothing. An ENABLED rule never receives read-only events; should the rule ever be
// switched to receive them too, the commonest reads stay out (one prefix: the documented form).
const NOT_A_READ = events.Match.anythingButPrefix("Get");

/** Creates the rules; each sends what it matches to the topic, when there is one. */
export function serviceChangeRules(
  scope: Construct,
  watched: ServiceResources,
): ServiceChangeRules {
  const topicTargets = [new AlarmTopicTarget(watched.alarmTopic)];
  const rule = (id: string, description: string, source: string, detail: object) =>
    new events.Rule(scope, id, {
      description,
      eventPattern: {
        source: [source],
        detailType: [CLOUDTRAIL],
        detail: { eventSource: [`${source.slice(4)}.amazonaws.com`], ...detail },
      },
      targets: topicTargets,
    });

  const { api, handler, table, renewalSchedule } = watched;
  const functionArns = [handler.functionArn, ...events.Match.prefix(`${handler.functionArn}:`)];
  const roles = [watched.role, ...(renewalSchedule ? [renewalSchedule.role] : [])];
  const apiRule = (restApiId: string) => {
    const apiArn = `arn:${Aws.PARTITION}:apigateway:${Aws.REGION}::/restapis/${restApiId}`;
    return rule(
      "ApiChangeRule",
      "Changes to the cyberark-token-vending API (integrations, methods, deployments, stages, policy)",
      "aws.apigateway",
      {
        eventName: NOT_A_READ,
        $or: [
          { requestParameters: { restApiId: [restApiId] } },
          { resources: { ARN: [apiArn, ...events.Match.prefix(`${apiArn}/`)] } },
        ],
      },
    );
  };

  const rules = {
    // The function URL door has no API: its URL config (Create/Update/DeleteFunctionUrlConfig)
    // and the function's resource policy (AddPermission, RemovePermission) name the function, so
    // the function rule reports them.
    api: api ? apiRule(api.restApiId) : undefined,
    function: rule(
      "FunctionChangeRule",
      "Changes to the cyberark-token-vending function (code, configuration, permissions, URL), and any function given its role",
      "aws.lambda",
      {
        eventName: NOT_A_READ,
        // A function may be named by name, ARN or partial ARN, with or without a qualifier.
        $or: [
          {
            requestParameters: {
              functionName: [
                handler.functionName,
                ...events.Match.prefix(`${handler.functionName}:`),
                ...functionArns,
                ...events.Match.suffix(`:function:${handler.functionName}`),
                // A partial or full ARN with a qualifier: `ACCOUNT:function:NAME:live`.
                ...events.Match.wildcard(`*:function:${handler.functionName}:*`),
              ],
            },
          },
          // Any function given the function's role (or the schedule's) runs with what it may do.
          {
            requestParameters: {
              role: roles.flatMap((r) => events.Match.equalsIgnoreCase(r.roleArn)),
            },
          },
          { requestParameters: { resource: functionArns } },
          { responseElements: { functionArn: functionArns } },
        ],
      },
    ),
    roles: rule(
      "RoleChangeRule",
      "Changes to the cyberark-token-vending roles (policies, trust, boundary); us-east-1 only",
      "aws.iam",
      {
        eventName: NOT_A_READ,
        requestParameters: { roleName: roles.map((role) => role.roleName) },
      },
    ),
    table: rule(
      "TableChangeRule",
      "Changes to the cyberark-token-vending table (resource policy, backups, restores, settings)",
      "aws.dynamodb",
      {
        eventName: NOT_A_READ,
        $or: [
          { requestParameters: { resourceArn: [table.tableArn] } },
          { requestParameters: { tableName: [table.tableName, table.tableArn] } },
          { requestParameters: { tableArn: [table.tableArn] } },
          { requestParameters: { sourceTableName: [table.tableName] } },
          { requestParameters: { sourceTableArn: [table.tableArn] } },
          // A table made again under this name (after DeleteTable) would come without the policy.
          { requestParameters: { targetTableName: [table.tableName] } },
        ],
      },
    ),
    schedule: rule(
      "ScheduleChangeRule",
      "Changes to the cyberark-token-vending renewal schedule, and schedules that target its function or role",
      "aws.scheduler",
      {
        eventName: NOT_A_READ,
        ...anyOf([
          { requestParameters: { target: { arn: functionArns } } },
          // A universal target names the function in its input, which CloudTrail may not show.
          { requestParameters: { target: { arn: events.Match.prefix(LAMBDA_UNIVERSAL_TARGET) } } },
          ...(renewalSchedule
            ? [
                { requestParameters: { name: [renewalSchedule.schedule.scheduleName] } },
                { requestParameters: { target: { roleArn: [renewalSchedule.role.roleArn] } } },
              ]
            : []),
        ]),
      },
    ),
    pipe: rule(
      "PipeChangeRule",
      "EventBridge Pipes that target the cyberark-token-vending function",
      "aws.pipes",
      { eventName: NOT_A_READ, requestParameters: { target: functionArns } },
    ),
  };
  const alerts = alertChangeRules(scope, {
    name: watched.name,
    topic: watched.alarmTopic,
    rules: [
      ...Object.values(rules).filter((r): r is events.Rule => r !== undefined),
      watched.keyChangeRule,
    ],
  });
  return { ...rules, alerts };
}

// EventBridge wants at least two branches in an `$or`; one branch is the pattern itself.
function anyOf(branches: [object, ...object[]]): object {
  return branches.length === 1 ? branches[0] : { $or: branches };
}
