/**
 * The function URL front door: an `AWS::Lambda::Url` with `AuthType: AWS_IAM` on the vending
 * function, and the function's resource policy for callers of other accounts. No API Gateway:
 * no request charge, and no stage throttling either (the function's reserved concurrency is the
 * door's only throttle). Construct IDs: `FunctionUrl`, `FunctionUrlLookupPolicy`, and on the
 * function `UrlAccess<account>` / `InvokeAccess<account>` (or `...Organization`).
 *
 * How the function knows its own URL. The URL names the function, so the function's environment
 * cannot name the URL (a cycle), and a statement naming the function's ARN in the role's default
 * policy cycles too (the function waits for that policy). So the role gets one more policy of its
 * own, `FunctionUrlLookupPolicy`: `lambda:GetFunctionUrlConfig` on exactly this function. That
 * policy waits for the function, not the other way round. Once per instance, at its first URL
 * event, the function reads its URL's configuration by its own name and answers only events whose `requestContext.domainName`
 * is that URL's host (and none while the URL's auth type is anything but `AWS_IAM`); an event
 * sent with `lambda:InvokeFunction` that claims another host, or none, is refused with 403.
 * Like the REST door's API-id check it cannot stop a principal that may invoke the function
 * directly and copies the host; the grants below leave callers no such permission.
 *
 * The price: one Lambda control-plane call per new instance, under the account's shared quota
 * for such calls (15 a second per region), so the function looks up once per instance, when the
 * first URL event arrives, shares that one call among concurrent requests, and keeps the answer.
 * The alternatives cost more: a parameter in Systems Manager (another resource, writable by its
 * own administrators), or a custom resource rewriting the function's environment after the URL
 * exists (which the next deploy undoes).
 */
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import type { Construct } from "constructs";
import { FUNCTION_ENV, FUNCTION_URL_FRONT_DOOR } from "../functions/core/function-environment.js";
import type { ApiAccess, CyberArkTokenVendingProps } from "./token-vending-props.js";

/** `lambda:InvokeFunctionUrl` holds only for a URL that checks SigV4. */
export const URL_AUTH_CONDITION = {
  StringEquals: { "lambda:FunctionUrlAuthType": lambda.FunctionUrlAuthType.AWS_IAM },
};

/**
 * `lambda:InvokeFunction` holds only for a request that came through the URL, so a grantee can
 * never send the function an event of its own making (one that names another caller).
 */
export const VIA_URL_CONDITION = { Bool: { "lambda:InvokedViaFunctionUrl": "true" } };

/** What {@link functionUrlDoor} needs beside the props. */
export interface FunctionUrlDoorOptions {
  readonly handler: lambda.Function;
  /** The function's role, which may look up the function's own URL. */
  readonly role: iam.IRole;
}

/**
 * Builds the function URL door.
 * @throws {Error} for props only the REST API has (`throttling`, a `PRIVATE` endpoint).
 */
export function functionUrlDoor(
  scope: Construct,
  props: CyberArkTokenVendingProps,
  { handler, role }: FunctionUrlDoorOptions,
): lambda.FunctionUrl {
  refuseRestApiProps(props);
  const functionUrl = new lambda.FunctionUrl(scope, "FunctionUrl", {
    function: handler,
    authType: lambda.FunctionUrlAuthType.AWS_IAM,
  });
  admitCallerAccounts(handler, props.apiAccess);
  handler.addEnvironment(FUNCTION_ENV.frontDoor, FUNCTION_URL_FRONT_DOOR);
  new iam.Policy(scope, "FunctionUrlLookupPolicy", {
    roles: [role],
    statements: [
      new iam.PolicyStatement({
        actions: ["lambda:GetFunctionUrlConfig"],
        resources: [handler.functionArn],
      }),
    ],
  });
  return functionUrl;
}

/**
 * Lets the grantee call the function through its URL, and only through it:
 * `lambda:InvokeFunctionUrl` (the URL's auth type `AWS_IAM`) and `lambda:InvokeFunction` (only
 * via the URL). IAM cannot tell paths or methods of a URL apart: the function's allow-lists
 * decide which profile and whether `DELETE`.
 */
export function grantUrlInvoke(grantee: iam.IGrantable, handler: lambda.IFunction): iam.Grant {
  const resourceArns = [handler.functionArn];
  return iam.Grant.addToPrincipal({
    grantee,
    actions: ["lambda:InvokeFunctionUrl"],
    resourceArns,
    conditions: URL_AUTH_CONDITION,
  }).combine(
    iam.Grant.addToPrincipal({
      grantee,
      actions: ["lambda:InvokeFunction"],
      resourceArns,
      conditions: VIA_URL_CONDITION,
    }),
  );
}

// The deploying account's principals need only their own policies; other accounts' principals
// need the function's resource policy too, with the same conditions as the grants.
function admitCallerAccounts(handler: lambda.Function, access: ApiAccess | undefined): void {
  if (!access) return;
  const admitted =
    "organizationId" in access
      ? [{ id: "Organization", principal: new iam.OrganizationPrincipal(access.organizationId) }]
      : access.accounts.map((account) => ({
          id: `Account${account}`,
          principal: new iam.AccountPrincipal(account),
        }));
  for (const { id, principal } of admitted) {
    handler.addPermission(`UrlAccess${id}`, {
      principal,
      action: "lambda:InvokeFunctionUrl",
      functionUrlAuthType: lambda.FunctionUrlAuthType.AWS_IAM,
    });
    handler.addPermission(`InvokeAccess${id}`, {
      principal,
      action: "lambda:InvokeFunction",
      invokedViaFunctionUrl: true,
    });
  }
}

function refuseRestApiProps(props: CyberArkTokenVendingProps): void {
  const why = (prop: string, what: string) =>
    `CyberArkTokenVending: ${prop} is a REST API setting, and frontDoor "function-url" has ${what}`;
  if (props.throttling) {
    throw new Error(
      why(
        "throttling",
        "no stage to throttle: limit it with reservedConcurrency (the function URL door's only throttle)",
      ),
    );
  }
  if (props.endpoint?.type === "PRIVATE") {
    throw new Error(
      why(
        'endpoint "PRIVATE"',
        'no private endpoint: a function URL is reached on its public AWS endpoint; keep frontDoor "rest-api" for callers inside a VPC',
      ),
    );
  }
}
