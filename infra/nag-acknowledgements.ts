/**
 * The cdk-nag findings of the construct that do not apply, each with the reason a security
 * reviewer would ask for.
 */
import { Validations } from "aws-cdk-lib";
import type * as apigateway from "aws-cdk-lib/aws-apigateway";
import type * as iam from "aws-cdk-lib/aws-iam";
import type { Construct } from "constructs";

const acknowledge = (scope: Construct, rule: string, reason: string) =>
  Validations.of(scope).acknowledge({ id: `AwsSolutions::AwsSolutions-${rule}`, reason });

/** Acknowledges the findings on the function's role and the API (the REST API door's). */
export function acknowledgeFindings(
  role: iam.Role,
  api: apigateway.RestApi | undefined,
  tracing: boolean,
): void {
  const rolePolicy = role.node.findChild("DefaultPolicy").node.findChild("Resource");
  for (const action of ["kms:ReEncrypt*", "kms:GenerateDataKey*"]) {
    acknowledge(
      rolePolicy,
      `IAM5[Action::${action}]`,
      "CDK's standard grant for a DynamoDB table encrypted with a customer-managed key; it applies to the table key alone, never to the token key.",
    );
  }
  if (tracing) {
    acknowledge(
      rolePolicy,
      "IAM5[Resource::*]",
      "Added by active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions.",
    );
  }
  if (api) acknowledgeApiFindings(api);
}

function acknowledgeApiFindings(api: apigateway.RestApi): void {
  acknowledge(
    api.node.findChild("Resource"),
    "APIG2",
    "The function validates the path and query itself, because invalid requests must get the contract's JSON error with a request_id, which an API Gateway validator cannot produce.",
  );
  // Only the first API of a stack sets the account's CloudWatch role (and none with
  // cloudWatchRole: false).
  const cloudWatchRole = api.node.tryFindChild("CloudWatchRole")?.node.findChild("Resource");
  if (cloudWatchRole) {
    acknowledge(
      cloudWatchRole,
      "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
      "API Gateway's account-level logging role; this AWS-managed policy is the one AWS documents for it and grants only CloudWatch Logs writes.",
    );
  }
  for (const method of api.methods) {
    acknowledge(
      method.node.findChild("Resource"),
      "COG4",
      "Callers are AWS principals authenticated by SigV4 (AWS_IAM authorization); there are no end users for a Cognito user pool.",
    );
  }
  acknowledge(
    api.deploymentStage.node.findChild("Resource"),
    "APIG3",
    "Every request must carry a valid SigV4 signature of an allowed account (resource policy) before it reaches the function, and the stage is throttled; a WAF web ACL adds cost without a rule that would apply.",
  );
}
