/**
 * API Gateway REST proxy events as the deployed function receives them.
 */
import type { APIGatewayProxyEvent, Context } from "aws-lambda";

/** Options of {@link restEvent}. */
export interface EventOptions {
  method?: string;
  profile?: string;
  query?: Record<string, string[]>;
  body?: string | null;
  callerArn?: string | null;
  requestId?: string;
  /** `requestContext.apiId`; `null` leaves it out. @default {@link TEST_API}'s */
  apiId?: string | null;
  /** `requestContext.stage`; `null` leaves it out. @default {@link TEST_API}'s */
  stage?: string | null;
}

/** The API and stage the test handlers are built for, and their events come from. */
export const TEST_API = { apiId: "a1b2c3d4e5", stage: "prod" } as const;

/** A `/tokens/{profile}` event signed by `callerArn`. */
export function restEvent(options: EventOptions = {}): APIGatewayProxyEvent {
  const profile = options.profile ?? "ci-deployer";
  const query = options.query ?? null;
  return {
    resource: "/tokens/{profile}",
    path: `/tokens/${profile}`,
    httpMethod: options.method ?? "GET",
    headers: {},
    multiValueHeaders: {},
    pathParameters: { profile },
    queryStringParameters:
      query && Object.fromEntries(Object.entries(query).map(([k, v]) => [k, v.at(-1) ?? ""])),
    multiValueQueryStringParameters: query,
    stageVariables: null,
    body: options.body ?? null,
    isBase64Encoded: false,
    requestContext: {
      ...optional("apiId", options.apiId === undefined ? TEST_API.apiId : options.apiId),
      ...optional("stage", options.stage === undefined ? TEST_API.stage : options.stage),
      requestId: options.requestId ?? "req-1",
      identity: { userArn: options.callerArn ?? null },
    } as APIGatewayProxyEvent["requestContext"],
  };
}

function optional(name: string, value: string | null): Record<string, string> {
  return value === null ? {} : { [name]: value };
}

/** A Lambda context good enough for middy and Powertools. */
export function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "vend",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:eu-west-1:111122223333:function:vend",
    memoryLimitInMB: "256",
    awsRequestId: "lambda-req",
    logGroupName: "/aws/lambda/vend",
    logStreamName: "stream",
    getRemainingTimeInMillis: () => 10_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** Options of {@link functionUrlEvent}. */
export interface UrlEventOptions {
  method?: string;
  /** The raw path. @default `/tokens/ci-deployer` */
  path?: string;
  /** The raw query string, without `?`. */
  rawQuery?: string;
  body?: string;
  callerArn?: string | null;
  requestId?: string;
  /** `requestContext.apiId`; @default {@link TEST_URL}'s id */
  urlId?: string;
  /** `requestContext.domainName`; @default the host of `urlId` in eu-west-1 */
  domainName?: string;
  /** @default "2.0" */
  version?: string;
}

/** The function URL the test handlers are built for, and their events come from. */
export const TEST_URL = {
  urlId: "abcdefghijklmnopqrstuvwxyz012345",
  domainName: "abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws",
} as const;

/** What `GetFunctionUrlConfig` answers for {@link TEST_URL}. */
export const TEST_URL_CONFIG = {
  functionUrl: `https://${TEST_URL.domainName}/`,
  authType: "AWS_IAM",
} as const;

/** A function URL event (payload format 2.0, `AWS_IAM` auth) signed by `callerArn`. */
export function functionUrlEvent(options: UrlEventOptions = {}): Record<string, unknown> {
  const urlId = options.urlId ?? TEST_URL.urlId;
  const path = options.path ?? "/tokens/ci-deployer";
  const callerArn = options.callerArn === undefined ? null : options.callerArn;
  return {
    version: options.version ?? "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: options.rawQuery ?? "",
    headers: { host: `${urlId}.lambda-url.eu-west-1.on.aws` },
    ...(options.body === undefined ? {} : { body: options.body }),
    isBase64Encoded: false,
    requestContext: {
      accountId: "111122223333",
      apiId: urlId,
      ...(callerArn === null
        ? {}
        : { authorizer: { iam: { accountId: "111122223333", userArn: callerArn } } }),
      domainName: options.domainName ?? `${urlId}.lambda-url.eu-west-1.on.aws`,
      domainPrefix: urlId,
      http: {
        method: options.method ?? "GET",
        path,
        protocol: "HTTP/1.1",
        sourceIp: "203.0.113.7",
        userAgent: "test",
      },
      requestId: options.requestId ?? "url-req-1",
      routeKey: "$default",
      stage: "$default",
      time: "21/Nov/2026:11:50:21 +0000",
      timeEpoch: 1_795_348_221_000,
    },
  };
}
