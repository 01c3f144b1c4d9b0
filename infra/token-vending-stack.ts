/**
 * The repository's own stack: the {@link CyberArkTokenVending} construct and three outputs (the
 * construct itself emits none).
 * The construct's ID is "Default", which CDK leaves out of logical IDs, so resources keep the IDs
 * they had when the stack built them itself and a deployed stack updates in place.
 */
import { CfnOutput, Stack, type StackProps } from "aws-cdk-lib";
import * as sns from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";
import { CyberArkTokenVending, type CyberArkTokenVendingProps } from "./token-vending.js";

/** Properties of {@link TokenVendingStack}. */
export interface TokenVendingStackProps
  extends StackProps,
    Omit<CyberArkTokenVendingProps, "alarmTopic"> {
  /**
   * ARN of an SNS topic that alarms and token-key changes notify.
   * @default the construct's own encrypted topic (output `AlarmTopicArn`, to subscribe to)
   */
  readonly alarmTopicArn?: string;
}

/** The token-vending service in a stack of its own. */
export class TokenVendingStack extends Stack {
  /** The service. */
  readonly vending: CyberArkTokenVending;

  constructor(scope: Construct, id: string, props: TokenVendingStackProps) {
    super(scope, id, props);
    const { alarmTopicArn, ...vendingProps } = props;
    this.vending = new CyberArkTokenVending(this, "Default", {
      ...vendingProps,
      ...(alarmTopicArn
        ? { alarmTopic: sns.Topic.fromTopicArn(this, "AlarmTopic", alarmTopicArn) }
        : {}),
    });

    new CfnOutput(this, "ApiUrl", {
      value: this.vending.url,
      description: "Base URL for the client and CLI (--url); tokens at <url>tokens/<profile>",
    });
    new CfnOutput(this, "TableName", {
      value: this.vending.table.tableName,
      description: "The token table",
    });
    new CfnOutput(this, "AlarmTopicArn", {
      value: this.vending.alarmTopic.topicArn,
      description: "The topic alarms and alerts notify: subscribe to it (email, chat, pager)",
    });
  }
}
