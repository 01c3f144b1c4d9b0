/**
 * The function URL door: a Lambda function URL event (payload format 2.0, `AWS_IAM` auth) as a
 * {@link DoorRequest}. The only module that reads 2.0 fields. Nothing stands in front of a
 * function URL to route for us, so the path goes to the command, which answers `404` for anything
 * but `/tokens/{profile}` and `405` for a method other than GET and DELETE.
 */
import type { Context, LambdaFunctionURLEventWithIAMAuthorizer } from "aws-lambda";
import { fieldsOf } from "../common/records.js";
import type { VendingError } from "../core/errors.js";
import { NO_QUERY, profileInPath, queryOf } from "./command.js";
import type { DoorRequest } from "./vending.js";

/** The function URL whose events the function answers (see `own-function-url.ts`). */
export interface FunctionUrlIdentity {
  /** The URL's id: `<id>` of `https://<id>.lambda-url.<region>.on.aws` (`requestContext.apiId`). */
  readonly urlId: string;
  /** The URL's host, `<id>.lambda-url.<region>.on.aws` (`requestContext.domainName`). */
  readonly domainName: string;
}

type UrlEvent = LambdaFunctionURLEventWithIAMAuthorizer;

/**
 * The request a function URL event carries. The caller is `requestContext.authorizer.iam.userArn`,
 * which Lambda fills from the verified SigV4 signature; no header is read.
 *
 * An event not of this function's own URL (another host or id, another payload version, no IAM
 * authorizer) is refused, and so is every event while the URL is unknown (`url.refusal`): whoever may call `lambda:InvokeFunction` directly can write any identity
 * into a made-up event. The grants allow `lambda:InvokeFunction` only through the URL
 * (`lambda:InvokedViaFunctionUrl`), so this check is the second wall, as the REST door's is.
 */
export function functionUrlRequest(
  event: unknown,
  context: Context,
  url: FunctionUrlIdentity | { readonly refusal: string | VendingError },
): DoorRequest {
  // A direct invocation can hand the function anything, `null` included.
  const v2 = fieldsOf<UrlEvent>(event);
  const { requestContext, body } = v2;
  const method = requestContext?.http?.method;
  const own =
    "urlId" in url &&
    v2.version === "2.0" &&
    requestContext?.domainName === url.domainName &&
    requestContext?.apiId === url.urlId &&
    typeof requestContext?.authorizer?.iam?.userArn === "string";
  const rawQuery = v2.rawQueryString;
  return {
    method: typeof method === "string" ? method : "",
    profile: typeof v2.rawPath === "string" ? profileInPath(v2.rawPath) : undefined,
    query: typeof rawQuery === "string" ? queryOf(rawQuery) : NO_QUERY,
    body: typeof body === "string" ? body : undefined,
    caller: requestContext?.authorizer?.iam?.userArn ?? undefined,
    requestId: requestContext?.requestId ?? context.awsRequestId ?? "unknown",
    ...("refusal" in url
      ? { refusal: url.refusal }
      : own
        ? {}
        : { refusal: "event not from this function URL" }),
  };
}
