/**
 * The REST API door: an API Gateway REST proxy event (payload v1) as a {@link DoorRequest}. The
 * only module that reads v1 fields.
 */
import type { APIGatewayProxyEvent, Context } from "aws-lambda";
import { fieldsOf } from "../common/records.js";
import { NO_QUERY } from "./command.js";
import type { DoorRequest } from "./vending.js";

/** The REST API and stage whose events the function answers. */
export interface ApiIdentity {
  /** `requestContext.apiId` of this stack's API. */
  readonly apiId: string;
  /** `requestContext.stage` of this stack's stage. */
  readonly stage: string;
}

/**
 * The request a REST proxy event carries. The caller is `requestContext.identity.userArn`, which
 * API Gateway fills from the verified SigV4 signature; nothing the caller sends in headers is read.
 *
 * An event not of this stack's API and stage is refused: a principal allowed to invoke the function
 * directly can write any identity into a made-up event. This does not stop one who also knows the
 * API's id (see the README's threat model), but it closes the accidental and the casual paths, and
 * the audit line says it happened.
 */
export function restApiRequest(event: unknown, context: Context, api: ApiIdentity): DoorRequest {
  // A direct invocation can hand the function anything, `null` included.
  const v1 = fieldsOf<APIGatewayProxyEvent>(event);
  const { requestContext, pathParameters, body } = v1;
  const profile = pathParameters?.profile;
  const own = requestContext?.apiId === api.apiId && requestContext?.stage === api.stage;
  return {
    method: typeof v1.httpMethod === "string" ? v1.httpMethod : "",
    // API Gateway routes only `/tokens/{profile}` to us; a made-up event without it is malformed.
    profile: typeof profile === "string" ? profile : "",
    query: queryOf(v1),
    body: typeof body === "string" ? body : undefined,
    caller: requestContext?.identity?.userArn ?? undefined,
    requestId: requestContext?.requestId ?? context.awsRequestId ?? "unknown",
    ...(own ? {} : { refusal: "event not from this API" }),
  };
}

function queryOf(event: Partial<APIGatewayProxyEvent>): ReadonlyMap<string, readonly string[]> {
  const multi = event.multiValueQueryStringParameters;
  if (multi) {
    return new Map(Object.entries(multi).map(([name, values]) => [name, values ?? []]));
  }
  const single = event.queryStringParameters;
  if (!single) return NO_QUERY;
  return new Map(
    Object.entries(single).map(([name, value]) => [name, value === undefined ? [] : [value]]),
  );
}
