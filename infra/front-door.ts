/**
 * What the construct asks of its front door, whichever it is (`frontDoor`): the base URL, the
 * grants for callers, and what the alarms and the dashboard watch. The REST API's grants name a
 * method and path of its stage; a function URL's name the function, and the function's allow-lists
 * decide profile and method (IAM cannot tell a URL's paths apart).
 */
import { Stack, Validations } from "aws-cdk-lib";
import type * as apigateway from "aws-cdk-lib/aws-apigateway";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type { Construct } from "constructs";
import { FUNCTION_ENV } from "../functions/core/function-environment.js";
import { functionUrlDoor, grantUrlInvoke } from "./function-url-door.js";
import { METRIC_PERIOD } from "./metrics.js";
import { renderForNag } from "./nag.js";
import type { CyberArkTokenVendingProps } from "./token-vending-props.js";
import { STAGE_NAME, type VendingApiOptions, vendingApi } from "./vending-api.js";

/** The front doors: the IAM-only REST API (the default), or a function URL with IAM auth. */
export type FrontDoorKind = "rest-api" | "function-url";

/** A graph of the dashboard's front-door row. */
export interface FrontDoorGraph {
  readonly title: string;
  readonly left: cloudwatch.IMetric[];
  readonly right?: cloudwatch.IMetric[];
}

/** What the alarms and the dashboard watch of the front door. */
export interface FrontDoorWatch {
  /** The alarm on answers with status 5xx; its construct ID is part of the contract. */
  readonly serverErrorAlarm: {
    readonly id: string;
    readonly metric: cloudwatch.IMetric;
    readonly description: string;
  };
  /** Requests and errors, then latency. */
  readonly graphs: readonly [FrontDoorGraph, FrontDoorGraph];
}

/** The front door as the construct uses it. */
export interface FrontDoor {
  /** The base URL; tokens at `<url>tokens/<profile>`. */
  readonly url: string;
  readonly watch: FrontDoorWatch;
  /** Lets the grantee call `GET /tokens/{profile}`, as narrowly as the door can say it. */
  grantGet(grantee: iam.IGrantable, profile: string): iam.Grant;
  /** Lets the grantee call `DELETE /tokens/*`, as narrowly as the door can say it. */
  grantDelete(grantee: iam.IGrantable): iam.Grant;
}

/** The door `props.frontDoor` names, built, with what the construct asks of it. */
export interface BuiltFrontDoor {
  readonly api: apigateway.RestApi | undefined;
  readonly functionUrl: lambda.FunctionUrl | undefined;
  readonly door: FrontDoor;
}

/** Builds the REST API (the default) or the function URL, as `props.frontDoor` says. */
export function buildFrontDoor(
  scope: Construct,
  props: CyberArkTokenVendingProps,
  options: VendingApiOptions & { readonly handler: lambda.Function; readonly role: iam.IRole },
): BuiltFrontDoor {
  const { handler, role } = options;
  if (props.frontDoor === "function-url") {
    const functionUrl = functionUrlDoor(scope, props, { handler, role });
    return { api: undefined, functionUrl, door: functionUrlFrontDoor(functionUrl, handler) };
  }
  const api = vendingApi(scope, props, options);
  // The function refuses events from anywhere but this API's stage. A literal stage name, not a
  // reference to the Stage: the Stage depends on the function through the Method.
  handler.addEnvironment(FUNCTION_ENV.apiId, api.restApiId);
  handler.addEnvironment(FUNCTION_ENV.apiStage, STAGE_NAME);
  return { api, functionUrl: undefined, door: restApiFrontDoor(api) };
}

/** The REST API door: `execute-api:Invoke` on one method and path of its stage. */
export function restApiFrontDoor(api: apigateway.RestApi): FrontDoor {
  const invoke = (grantee: iam.IGrantable, method: string, path: string) =>
    iam.Grant.addToPrincipal({
      grantee,
      actions: ["execute-api:Invoke"],
      resourceArns: [api.arnForExecuteApi(method, path, STAGE_NAME)],
    });
  const period = METRIC_PERIOD;
  return {
    url: api.url,
    watch: {
      serverErrorAlarm: {
        id: "Api5xxAlarm",
        metric: api.metricServerError({ period, statistic: "Sum" }),
        description:
          "The API answered 5xx: configuration errors, CyberArk failures or function errors",
      },
      graphs: [
        {
          title: "API 4xx and 5xx",
          left: [
            api.metricClientError({ statistic: "Sum", period }),
            api.metricServerError({ statistic: "Sum", period }),
          ],
        },
        {
          title: "API latency p50 / p99 (ms)",
          left: [
            api.metricLatency({ statistic: "p50", period }),
            api.metricLatency({ statistic: "p99", period }),
          ],
        },
      ],
    },
    grantGet: (grantee, profile) => invoke(grantee, "GET", `/tokens/${profile}`),
    grantDelete: (grantee) => {
      const grant = invoke(grantee, "DELETE", "/tokens/*");
      const resource = api.arnForExecuteApi("DELETE", "/tokens/*", STAGE_NAME);
      acknowledgeInvalidateWildcard(grantee, Stack.of(api).resolve(resource));
      return grant;
    },
  };
}

/**
 * The function URL door: `lambda:InvokeFunctionUrl` and `lambda:InvokeFunction` on the function,
 * each only through the IAM-authorized URL; Lambda's URL metrics for alarms and graphs.
 */
export function functionUrlFrontDoor(
  functionUrl: lambda.FunctionUrl,
  handler: lambda.IFunction,
): FrontDoor {
  const period = METRIC_PERIOD;
  const url = (metricName: string, statistic = "Sum") =>
    handler.metric(metricName, { statistic, period });
  return {
    url: functionUrl.url,
    watch: {
      serverErrorAlarm: {
        id: "Url5xxAlarm",
        metric: url("Url5xxCount"),
        description:
          "The function URL answered 5xx: configuration errors, CyberArk failures, function errors or timeouts",
      },
      graphs: [
        {
          title: "Function URL requests, 4xx and 5xx",
          left: [url("Url4xxCount"), url("Url5xxCount")],
          right: [url("UrlRequestCount")],
        },
        {
          title: "Function URL latency p50 / p99 (ms)",
          left: [url("UrlRequestLatency", "p50"), url("UrlRequestLatency", "p99")],
        },
      ],
    },
    grantGet: (grantee) => grantUrlInvoke(grantee, handler),
    grantDelete: (grantee) => grantUrlInvoke(grantee, handler),
  };
}

// `DELETE /tokens/*` is a wildcard by design (every profile's cache); cdk-nag would report it
// on the grantee's policy, which is the grantee's, so the acknowledgement names that resource.
function acknowledgeInvalidateWildcard(grantee: iam.IGrantable, resolved: unknown): void {
  const principal = grantee.grantPrincipal as Partial<iam.Role>;
  const policy = principal.node?.tryFindChild("DefaultPolicy")?.node.tryFindChild("Resource");
  if (!policy) return;
  const rendered = renderForNag(resolved);
  Validations.of(policy).acknowledge({
    id: `AwsSolutions::AwsSolutions-IAM5[Resource::${rendered}]`,
    reason:
      "grantInvalidate: an admin may drop the cached token of any profile, so DELETE /tokens/* of this one API and stage is the intended scope.",
  });
}
