import { CyberArkTokenVending } from "@cyberark-token-vending/aws/cdk";
import { App, CfnOutput, Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";

const app = new App();
const stack = new Stack(app, "PlatformStack", {
  env: { account: "111122223333", region: "eu-west-1" },
});

const tokens = new CyberArkTokenVending(stack, "Tokens", {
  // Inline, as in a profiles file; or ...CyberArkTokenVending.profilesFromFile("profiles.json").
  profiles: {
    "reports-app": {
      tenantUrl: "https://abc1234.id.cyberark.cloud",
      secretId: "cyberark/reports",
      applicationId: "reports_api",
      scope: "ReadUserProfile",
    },
    "ci-deployer": {
      tenantUrl: "https://abc1234.id.cyberark.cloud",
      secretId: "cyberark/ci-deployer",
      allowedCallers: ["arn:aws:iam::111122223333:role/ci-*"],
    },
  },
  name: "platform-tokens", // API, dashboard, alarms and the metrics' Deployment dimension
});

const reports = new lambda.Function(stack, "Reports", {
  runtime: lambda.Runtime.NODEJS_24_X,
  handler: "index.handler",
  code: lambda.Code.fromAsset("reports"),
  environment: { CYBERARK_TOKEN_URL: tokens.url },
});
const opsRole = new iam.Role(stack, "OpsRole", { assumedBy: new iam.AccountRootPrincipal() });

tokens.grantGetToken(reports, "reports-app"); // IAM permission + allowed caller, in one line
tokens.grantInvalidate(opsRole); // DELETE /tokens/*, and the role joins adminCallers
tokens.metricDenied().createAlarm(stack, "TokenDenials", {
  threshold: 10,
  evaluationPeriods: 1,
});

// The construct emits no outputs; the app chooses its own.
new CfnOutput(stack, "TokenVendingUrl", { value: tokens.url });
new CfnOutput(stack, "TokenAlarmTopic", { value: tokens.alarmTopic.topicArn });
