/**
 * The repository's own stack: the {@link CyberArkTokenVending} construct and two outputs.
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
   * @default no notifications; the alarms still show in CloudWatch
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
  }
}
