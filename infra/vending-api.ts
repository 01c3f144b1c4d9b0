/**
 * The IAM-only REST API in front of the vending function: `/tokens/{profile}`, SigV4 only, a
 * resource policy for who may reach it at all. Construct IDs are the stack's: `Api`,
 * `ApiAccessLogs`, `ApiVpcEndpoint<n>`.
 */
import { Aws, CfnResource, type RemovalPolicy, Stack } from "aws-cdk-lib";
import * as apigateway from "aws-cdk-lib/aws-apigateway";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import type { ApiAccess, ApiEndpoint, CyberArkTokenVendingProps } from "./token-vending-props.js";

/** The API stage's name; the base URL ends in it. */
export const STAGE_NAME = "v1";

/** What {@link vendingApi} needs beside the props. */
export interface VendingApiOptions {
  readonly name: string;
  readonly handler: lambda.IFunction;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

export function vendingApi(
  scope: Construct,
  props: CyberArkTokenVendingProps,
  { name, handler, logRetention, removalPolicy }: VendingApiOptions,
): apigateway.RestApi {
  const endpoint = props.endpoint ?? { type: "REGIONAL" };
  const accessLogs = new logs.LogGroup(scope, "ApiAccessLogs", {
    retention: logRetention,
    removalPolicy,
  });
  // API Gateway's CloudWatch Logs role is one setting per account and region: set it once per
  // stack, and let every other API of the stack wait for it (a stage that logs fails without it).
  const existingAccount =
    props.cloudWatchRole === false ? undefined : apiGatewayAccountOf(Stack.of(scope));
  const api = new apigateway.RestApi(scope, "Api", {
    restApiName: name,
    description: "cyberark-token-vending: GET/DELETE /tokens/{profile}, SigV4 only",
    endpointConfiguration:
      endpoint.type === "PRIVATE"
        ? {
            types: [apigateway.EndpointType.PRIVATE],
            vpcEndpoints: endpoint.vpcEndpointIds.map((vpcEndpointId, index) =>
              ec2.InterfaceVpcEndpoint.fromInterfaceVpcEndpointAttributes(
                scope,
                `ApiVpcEndpoint${index}`,
                { vpcEndpointId, port: 443 },
              ),
            ),
          }
        : { types: [apigateway.EndpointType.REGIONAL] },
    policy: apiResourcePolicy(props.apiAccess, endpoint),
    cloudWatchRole: props.cloudWatchRole !== false && existingAccount === undefined,
    deployOptions: {
      stageName: STAGE_NAME,
      accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
      accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields(),
      loggingLevel: apigateway.MethodLoggingLevel.ERROR,
      // Never true: data traces would write response bodies, tokens included, to CloudWatch.
      dataTraceEnabled: false,
      metricsEnabled: true,
      tracingEnabled: props.tracing ?? false,
      throttlingRateLimit: props.throttling?.rateLimit ?? 50,
      throttlingBurstLimit: props.throttling?.burstLimit ?? 100,
    },
    defaultMethodOptions: { authorizationType: apigateway.AuthorizationType.IAM },
  });
  if (existingAccount) api.deploymentStage.node.addDependency(existingAccount);
  // RestApi adds an `Endpoint` output of its own; a construct leaves outputs to its stack.
  api.node.tryRemoveChild("Endpoint");
  // ANY, so that other methods reach the function and get the contract's 405 JSON.
  api.root
    .addResource("tokens")
    .addResource("{profile}")
    // No test-invoke permission: the console's "Test" events carry no caller the function could
    // trust, and it refuses them; a permission nobody should use is one more thing to audit.
    .addMethod("ANY", new apigateway.LambdaIntegration(handler, { allowTestInvoke: false }), {
      authorizationType: apigateway.AuthorizationType.IAM,
    });
  return api;
}

function apiGatewayAccountOf(stack: Stack): CfnResource | undefined {
  return stack.node
    .findAll()
    .find(
      (child): child is CfnResource =>
        CfnResource.isCfnResource(child) && child.cfnResourceType === "AWS::ApiGateway::Account",
    );
}

function apiResourcePolicy(
  access: ApiAccess | undefined,
  endpoint: ApiEndpoint,
): iam.PolicyDocument {
  const invoke = { actions: ["execute-api:Invoke"], resources: ["execute-api:/*"] };
  const allow =
    access && "organizationId" in access
      ? new iam.PolicyStatement({
          ...invoke,
          principals: [new iam.AnyPrincipal()],
          conditions: { StringEquals: { "aws:PrincipalOrgID": access.organizationId } },
        })
      : new iam.PolicyStatement({
          ...invoke,
          principals: (access?.accounts ?? [Aws.ACCOUNT_ID]).map(
            (account) => new iam.AccountPrincipal(account),
          ),
        });
  const statements = [allow];
  if (endpoint.type === "PRIVATE") {
    statements.push(
      new iam.PolicyStatement({
        ...invoke,
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        conditions: { StringNotEquals: { "aws:SourceVpce": [...endpoint.vpcEndpointIds] } },
      }),
    );
  }
  return new iam.PolicyDocument({ statements });
}
