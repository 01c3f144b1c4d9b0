/**
 * The alerts cannot be switched off unnoticed: disabling, deleting or retargeting one of the
 * construct's rules, cutting the alarm topic off (unsubscribing, changing its policy or
 * attributes, deleting it, disabling its key), or stopping CloudTrail, which feeds them all, is
 * itself reported. The two watchers report each other, so switching one off is reported by the
 * other.
 */
import { describe, expect, it } from "vitest";
import { matchesPattern } from "../support/event-pattern.js";
import { EXAMPLE_API_ACCESS, PREWARM_PROFILES, synthesizeStack } from "../support/stack.js";
import { ACCOUNT, REGION, TemplateValues } from "../support/template-values.js";

const TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:platform-alerts`;

function stack(props: object) {
  const { template } = synthesizeStack(props);
  const values = new TemplateValues(template);
  const resources = template.toJSON().Resources;
  const ruleId = (prefix: string) => values.logicalId("AWS::Events::Rule", prefix);
  const pattern = (prefix: string) =>
    values.resolve(resources[ruleId(prefix)].Properties.EventPattern);
  /** The rule's name: its explicit one, else what CloudFormation gives it. */
  const ruleName = (prefix: string) =>
    (resources[ruleId(prefix)].Properties.Name as string | undefined) ?? values.ref(ruleId(prefix));
  const rules = Object.keys(resources).filter((key) => resources[key].Type === "AWS::Events::Rule");
  const reported = (event: object) =>
    rules.filter((key) =>
      matchesPattern(values.resolve(resources[key].Properties.EventPattern), event),
    );
  return { values, resources, pattern, ruleName, rules, reported };
}

function cloudTrail(service: string, eventName: string, requestParameters: object) {
  return {
    source: `aws.${service}`,
    "detail-type": "AWS API Call via CloudTrail",
    detail: { eventSource: `${service}.amazonaws.com`, eventName, requestParameters },
  };
}

const RULE_CALLS = ["DisableRule", "DeleteRule", "PutRule"] as const;
const TARGET_CALLS = ["RemoveTargets", "PutTargets"] as const;

describe("alerts on switching the alerts off", () => {
  const withTopic = stack({
    ...PREWARM_PROFILES,
    apiAccess: EXAMPLE_API_ACCESS,
    alarmTopicArn: TOPIC,
  });

  it("every rule of the construct, the watchers included, is watched by another rule", () => {
    const { rules, ruleName, values, resources, reported } = withTopic;
    const prefixes = rules.map((key) => key.replace(/[0-9A-F]{8}$/, ""));
    expect(prefixes.sort()).toEqual(
      [
        "AlertPathChangeRule",
        "AlertRuleChangeRule",
        "ApiChangeRule",
        "FunctionChangeRule",
        "PipeChangeRule",
        "RoleChangeRule",
        "ScheduleChangeRule",
        "TableChangeRule",
        "TokenKeyChangeRule",
      ].sort(),
    );
    for (const key of rules) {
      const name = ruleName(key.replace(/[0-9A-F]{8}$/, ""));
      expect(values.ref(key) === name || resources[key].Properties.Name === name).toBe(true);
      for (const call of RULE_CALLS) {
        const by = reported(cloudTrail("events", call, { name }));
        expect(
          by.filter((other) => other !== key),
          `${call} ${key}`,
        ).not.toEqual([]);
      }
      for (const call of TARGET_CALLS) {
        const by = reported(cloudTrail("events", call, { rule: name, ids: ["Target0"] }));
        expect(
          by.filter((other) => other !== key),
          `${call} ${key}`,
        ).not.toEqual([]);
      }
    }
  });

  it("another rule, and a read, are not reported", () => {
    const { reported } = withTopic;
    expect(reported(cloudTrail("events", "DisableRule", { name: "someone-elses-rule" }))).toEqual(
      [],
    );
    expect(reported(cloudTrail("events", "PutTargets", { rule: "someone-elses-rule" }))).toEqual(
      [],
    );
  });

  it("the alarm topic: unsubscribing, its attributes and policy, its deletion", () => {
    const { pattern } = withTopic;
    const matched = [
      cloudTrail("sns", "Unsubscribe", { subscriptionArn: `${TOPIC}:0b6f7a4e-1111-2222-3333` }),
      cloudTrail("sns", "SetSubscriptionAttributes", {
        subscriptionArn: `${TOPIC}:0b6f7a4e-1111-2222-3333`,
        attributeName: "FilterPolicy",
      }),
      cloudTrail("sns", "SetTopicAttributes", { topicArn: TOPIC, attributeName: "Policy" }),
      cloudTrail("sns", "DeleteTopic", { topicArn: TOPIC }),
      cloudTrail("sns", "RemovePermission", { topicArn: TOPIC, label: "events" }),
    ];
    for (const event of matched) {
      expect(matchesPattern(pattern("AlertPathChangeRule"), event), event.detail.eventName).toBe(
        true,
      );
    }
    const other = `arn:aws:sns:${REGION}:${ACCOUNT}:other`;
    for (const event of [
      cloudTrail("sns", "DeleteTopic", { topicArn: other }),
      cloudTrail("sns", "Unsubscribe", { subscriptionArn: `${other}:0b6f` }),
      cloudTrail("sns", "DeleteTopic", { topicArn: `${TOPIC}-copy` }),
      cloudTrail("sns", "GetTopicAttributes", { topicArn: TOPIC }),
    ]) {
      expect(matchesPattern(pattern("AlertPathChangeRule"), event), JSON.stringify(event)).toBe(
        false,
      );
    }
  });

  it("CloudTrail: stopping, deleting or narrowing any trail", () => {
    const { pattern } = withTopic;
    for (const [eventName, requestParameters] of [
      ["StopLogging", { name: "management-events" }],
      ["DeleteTrail", { name: `arn:aws:cloudtrail:${REGION}:${ACCOUNT}:trail/management-events` }],
      ["UpdateTrail", { name: "management-events", isMultiRegionTrail: false }],
      ["PutEventSelectors", { trailName: "management-events", eventSelectors: [] }],
    ] as const) {
      expect(
        matchesPattern(
          pattern("AlertPathChangeRule"),
          cloudTrail("cloudtrail", eventName, requestParameters),
        ),
        eventName,
      ).toBe(true);
    }
    expect(
      matchesPattern(
        pattern("AlertPathChangeRule"),
        cloudTrail("cloudtrail", "StartLogging", { name: "management-events" }),
      ),
    ).toBe(false);
  });

  it("the construct's own topic: its key disabled, scheduled for deletion or its policy changed", () => {
    const own = stack({});
    const key = own.values.logicalId("AWS::KMS::Key", "AlarmTopicKey");
    for (const keyId of [own.values.ref(key), own.values.arn(key)]) {
      for (const eventName of ["DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy"]) {
        const event = cloudTrail("kms", eventName, { keyId });
        expect(matchesPattern(own.pattern("AlertPathChangeRule"), event), eventName).toBe(true);
      }
    }
    const otherKey = cloudTrail("kms", "DisableKey", { keyId: "another-key" });
    expect(matchesPattern(own.pattern("AlertPathChangeRule"), otherKey)).toBe(false);
  });

  it("the watchers send to the alarm topic", () => {
    const { resources, values } = withTopic;
    for (const prefix of ["AlertRuleChangeRule", "AlertPathChangeRule"]) {
      const props = resources[values.logicalId("AWS::Events::Rule", prefix)].Properties;
      expect(props.Targets, prefix).toEqual([expect.objectContaining({ Arn: TOPIC })]);
    }
  });
});
