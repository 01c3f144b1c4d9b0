/**
 * The topic alarms and alerts notify when the app brings none: encrypted with a key of its own,
 * because CloudWatch alarms and EventBridge cannot publish to a topic under the AWS-managed SNS
 * key (its policy cannot be changed to let them use it). Construct IDs: `AlarmTopic`,
 * `AlarmTopicKey`. Every service the topic and its key admit is admitted on behalf of this
 * account only (`aws:SourceAccount`), so another account's rule or alarm cannot publish to it.
 */
import { Aws, type RemovalPolicy } from "aws-cdk-lib";
import type * as events from "aws-cdk-lib/aws-events";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as sns from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";

// The services that publish here: CloudWatch alarms and EventBridge rules of this account.
const PUBLISHERS = ["cloudwatch.amazonaws.com", "events.amazonaws.com"];

// The topics whose policies (and keys) already admit both publishers, on this account's behalf.
const ADMITTING = new WeakSet<sns.ITopic>();

/** An AWS service acting for this account only: its statements carry `aws:SourceAccount`. */
export function serviceOfThisAccount(service: string): iam.ServicePrincipal {
  return new iam.ServicePrincipal(service, {
    conditions: { StringEquals: { "aws:SourceAccount": Aws.ACCOUNT_ID } },
  });
}

/** Creates the encrypted alarm topic that only this account's alarms and rules publish to. */
export function defaultAlarmTopic(
  scope: Construct,
  name: string,
  removalPolicy: RemovalPolicy,
): sns.Topic {
  const key = new kms.Key(scope, "AlarmTopicKey", {
    description: `Encrypts the alarm topic of cyberark-token-vending ${name}`,
    enableKeyRotation: true,
    removalPolicy,
  });
  const topic = new sns.Topic(scope, "AlarmTopic", {
    displayName: `cyberark-token-vending ${name} alarms`,
    masterKey: key,
    enforceSSL: true,
  });
  for (const service of PUBLISHERS) {
    const principal = serviceOfThisAccount(service);
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [principal],
        actions: ["kms:Decrypt", "kms:GenerateDataKey"],
        resources: ["*"],
      }),
    );
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [principal],
        actions: ["sns:Publish"],
        resources: [topic.topicArn],
      }),
    );
  }
  ADMITTING.add(topic);
  return topic;
}

/**
 * An EventBridge rule target that publishes to the topic. Unlike `targets.SnsTopic`, whose grant
 * lets EventBridge publish on behalf of any account, the grant it adds (to a topic of the app;
 * an imported topic's policy is its owner's) admits EventBridge for this account only. The
 * construct's own topic admits it already and gets nothing more.
 */
export class AlarmTopicTarget implements events.IRuleTarget {
  readonly #topic: sns.ITopic;

  constructor(topic: sns.ITopic) {
    this.#topic = topic;
  }

  bind(): events.RuleTargetConfig {
    if (!ADMITTING.has(this.#topic)) {
      this.#topic.grantPublish(serviceOfThisAccount("events.amazonaws.com"));
    }
    return { arn: this.#topic.topicArn, targetResource: this.#topic };
  }
}
