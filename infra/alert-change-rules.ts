/**
 * The alerts cannot be switched off unnoticed. Every alert of the service travels CloudTrail ->
 * EventBridge rule -> alarm topic -> subscriber; whoever cuts that path silences all the others.
 * Two rules watch it, and each other:
 *
 * - `AlertRuleChangeRule`: any change to one of the construct's rules (`DisableRule`,
 *   `DeleteRule`, `PutRule`, `PutTargets`, `RemoveTargets`, ...), `AlertPathChangeRule` included.
 * - `AlertPathChangeRule`: the alarm topic (`Unsubscribe`, `SetSubscriptionAttributes`,
 *   `SetTopicAttributes`, `RemovePermission`, `DeleteTopic`, ...), the topic's own key when the
 *   construct made it (`DisableKey`, `ScheduleKeyDeletion`, `PutKeyPolicy`, ...), any CloudTrail
 *   trail stopped, deleted or narrowed (`StopLogging`, `DeleteTrail`, `UpdateTrail`,
 *   `PutEventSelectors`), and any change to `AlertRuleChangeRule`.
 *
 * Switching one watcher off is reported by the other, so silencing both takes a call that is
 * reported. The alert about a cut path may itself be lost on that path (an unsubscribed address
 * no longer gets it); the other subscribers, and CloudTrail, still have it. The README's SCP
 * refuses these calls to all but the operators.
 *
 * `AlertRuleChangeRule` has a name of its own (the deployment's name and a suffix): the other
 * watcher's pattern names it, and it names the other, which would otherwise be a cycle.
 */
import { createHash } from "node:crypto";
import { Names, Token } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import type * as sns from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";
import { AlarmTopicTarget } from "./alarm-topic.js";

/** What the watchers watch. */
export interface AlertPath {
  /** The deployment's name (the construct's `name`). */
  readonly name: string;
  readonly topic: sns.ITopic;
  /** The construct's other rules. */
  readonly rules: readonly events.Rule[];
}

/** The two watchers. */
export interface AlertChangeRules {
  /** Changes to any of the construct's rules, `path` included. */
  readonly rules: events.Rule;
  /** Changes to the alarm topic, its key, CloudTrail trails, and to `rules`. */
  readonly path: events.Rule;
}

const CLOUDTRAIL = "AWS API Call via CloudTrail";
const NOT_A_READ = events.Match.anythingButPrefix("Get");
const TRAIL_CHANGES = ["StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors"];
const SUFFIX = "-AlertRuleWatch";
// EventBridge rule names: at most 64 letters, digits, ".", "-" or "_".
const MAX_RULE_NAME = 64;

/** Creates the two watchers, each sending what it matches to the topic. */
export function alertChangeRules(scope: Construct, watched: AlertPath): AlertChangeRules {
  const { topic } = watched;
  const rulesWatcherName = watcherName(scope, watched.name);
  const namedRule = (names: string[]) => [
    {
      eventSource: ["events.amazonaws.com"],
      eventName: NOT_A_READ,
      requestParameters: { name: names },
    },
    {
      eventSource: ["events.amazonaws.com"],
      eventName: NOT_A_READ,
      requestParameters: { rule: names },
    },
  ];
  // Each branch names its calls: an `$or` branch and the level around it never share a field.
  const sns = (requestParameters: object) => ({
    eventSource: ["sns.amazonaws.com"],
    eventName: NOT_A_READ,
    requestParameters,
  });
  const key = topic.masterKey;

  const path = new events.Rule(scope, "AlertPathChangeRule", {
    description:
      "Changes that silence the cyberark-token-vending alerts: the alarm topic, its key, CloudTrail trails, the rule watching the rules",
    eventPattern: {
      source: ["aws.sns", "aws.cloudtrail", "aws.events", ...(key ? ["aws.kms"] : [])],
      detailType: [CLOUDTRAIL],
      detail: {
        $or: [
          sns({ topicArn: [topic.topicArn] }),
          sns({ subscriptionArn: events.Match.prefix(`${topic.topicArn}:`) }),
          sns({ resourceArn: [topic.topicArn] }),
          { eventSource: ["cloudtrail.amazonaws.com"], eventName: TRAIL_CHANGES },
          ...namedRule([rulesWatcherName]),
          ...(key
            ? [
                {
                  eventSource: ["kms.amazonaws.com"],
                  eventName: NOT_A_READ,
                  requestParameters: { keyId: [key.keyId, key.keyArn] },
                },
              ]
            : []),
        ],
      },
    },
    targets: [new AlarmTopicTarget(topic)],
  });

  const rules = new events.Rule(scope, "AlertRuleChangeRule", {
    ruleName: rulesWatcherName,
    description:
      "Changes to the cyberark-token-vending alert rules (disabled, deleted, retargeted)",
    eventPattern: {
      source: ["aws.events"],
      detailType: [CLOUDTRAIL],
      detail: {
        $or: namedRule([...watched.rules, path].map((rule) => rule.ruleName)),
      },
    },
    targets: [new AlarmTopicTarget(topic)],
  });
  return { rules, path };
}

// The deployment's name with a suffix, shortened with a hash of it when too long.
function watcherName(scope: Construct, name: string): string {
  if (Token.isUnresolved(name)) {
    const unique = Names.uniqueResourceName(scope, {
      maxLength: MAX_RULE_NAME - SUFFIX.length,
      separator: "-",
    });
    return `${unique}${SUFFIX}`;
  }
  if (name.length + SUFFIX.length <= MAX_RULE_NAME) return `${name}${SUFFIX}`;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 8);
  return `${name.slice(0, MAX_RULE_NAME - SUFFIX.length - hash.length - 1)}-${hash}${SUFFIX}`;
}
