/**
 * The topic alarms and alerts notify when the app brings none: encrypted with a key of its own,
 * because CloudWatch alarms and EventBridge cannot publish to a topic under the AWS-managed SNS
 * key (its policy cannot be changed to let them use it). Construct IDs: `AlarmTopic`,
 * `AlarmTopicKey`.
 */
import { Aws, type RemovalPolicy } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as sns from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";

// The services that publish here: CloudWatch alarms and EventBridge rules of this account.
const PUBLISHERS = ["cloudwatch.amazonaws.com", "events.amazonaws.com"];

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
  const fromThisAccount = { StringEquals: { "aws:SourceAccount": Aws.ACCOUNT_ID } };
  for (const service of PUBLISHERS) {
    const principal = new iam.ServicePrincipal(service, { conditions: fromThisAccount });
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
  return topic;
}
