/**
 * A local request as the REST proxy event API Gateway would send for it, and the Lambda context
 * the handler runs with: what the local server hands the deployed handler.
 */
import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEvent, Context } from "aws-lambda";
import type { LocalRequest } from "./server.js";

/** The API and stage the local server's events name; its handler accepts only these. */
export const LOCAL_API = { apiId: "local", stage: "local" } as const;

/** Only the local server reads this header; the deployed function takes API Gateway's identity. */
export const CALLER_HEADER = "x-caller-arn";

/** The REST proxy event API Gateway would send for this request. */
export function toRestEvent(
  request: LocalRequest,
  url: URL,
  profile: string,
  defaultCaller: string,
): APIGatewayProxyEvent {
  // Maps, then Object.fromEntries: a header or query parameter named "__proto__" stays a name.
  const multiHeaders = new Map<string, string[]>();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) multiHeaders.set(name, Array.isArray(value) ? value : [value]);
  }
  const multiQuery = new Map<string, string[]>();
  for (const [name, value] of url.searchParams) {
    multiQuery.set(name, [...(multiQuery.get(name) ?? []), value]);
  }
  const headers = lastValues(multiHeaders);
  const multiValueHeaders = Object.fromEntries(multiHeaders);
  const hasQuery = multiQuery.size > 0;
  const callerArn = headers[CALLER_HEADER] || defaultCaller;
  const requestId = randomUUID();
  const { method, body } = request;

  return {
    resource: "/tokens/{profile}",
    path: url.pathname,
    httpMethod: method,
    headers,
    multiValueHeaders,
    pathParameters: { profile },
    queryStringParameters: hasQuery ? lastValues(multiQuery) : null,
    multiValueQueryStringParameters: hasQuery ? Object.fromEntries(multiQuery) : null,
    stageVariables: null,
    body: body === "" ? null : body,
    isBase64Encoded: false,
    requestContext: {
      accountId: "000000000000",
      apiId: LOCAL_API.apiId,
      authorizer: undefined,
      protocol: `HTTP/${request.httpVersion ?? "1.1"}`,
      httpMethod: method,
      path: url.pathname,
      stage: LOCAL_API.stage,
      requestId,
      requestTimeEpoch: Date.now(),
      resourceId: "local",
      resourcePath: "/tokens/{profile}",
      identity: {
        accessKey: null,
        accountId: /^arn:[^:]+:[^:]+::(\d{12}):/.exec(callerArn)?.[1] ?? null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: request.remoteAddress ?? "127.0.0.1",
        user: null,
        userAgent: headers["user-agent"] ?? null,
        userArn: callerArn,
      },
    },
  };
}

// API Gateway's single-value view: the last of each name.
function lastValues(multi: Map<string, string[]>): Record<string, string> {
  return Object.fromEntries([...multi].map(([name, values]) => [name, values.at(-1) ?? ""]));
}

/** The `{profile}` path segment, decoded where it can be. */
export function decodePathParameter(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // malformed escapes reach the handler, which answers 400
  }
}

/** A Lambda context for one local request. */
export function localContext(requestId: string): Context {
  const deadline = Date.now() + 20_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "cyberark-token-vending-local",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:local:000000000000:function:cyberark-token-vending-local",
    memoryLimitInMB: "256",
    awsRequestId: requestId,
    logGroupName: "local",
    logStreamName: "local",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
