/**
 * The local server's HTTP side: each request becomes the API Gateway REST proxy event the deployed
 * function receives, and goes to the very same handler. No vending rule lives here.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";
import { readBody } from "./http-body.js";

/** The deployed handler's shape. */
export type RestHandler = (
  event: APIGatewayProxyEvent,
  context: Context,
) => Promise<APIGatewayProxyResult>;

/** Options of {@link createLocalServer}. */
export interface LocalServerOptions {
  readonly handler: RestHandler;
  /** The caller ARN when a request has no `x-caller-arn` header. */
  readonly defaultCaller: string;
}

const TOKENS_PATH = /^\/tokens\/([^/]*)$/;
/** Only the local server reads this header; the deployed function takes API Gateway's identity. */
export const CALLER_HEADER = "x-caller-arn";

/** An HTTP server that feeds `/tokens/{profile}` requests to the handler. */
export function createLocalServer(options: LocalServerOptions): Server {
  return createServer((request, response) => {
    serve(options, request, response).catch(() => {
      if (!response.headersSent) response.writeHead(500, { "Content-Type": "application/json" });
      response.end('{"error":"server_error","error_description":"The local server failed."}');
    });
  });
}

async function serve(
  options: LocalServerOptions,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const body = await readBody(request);
  const url = new URL(request.url ?? "/", "http://localhost");
  const match = TOKENS_PATH.exec(url.pathname);
  if (!match) {
    // API Gateway answers unknown paths before any function runs; so does this server.
    return send(response, {
      statusCode: 404,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        error: "invalid_request",
        error_description: "Only /tokens/{profile} exists.",
      }),
    });
  }
  const event = toRestEvent(
    request,
    url,
    decodePathParameter(match[1] ?? ""),
    body,
    options.defaultCaller,
  );
  send(response, await options.handler(event, localContext(event.requestContext.requestId)));
}

/** The REST proxy event API Gateway would send for this request. */
export function toRestEvent(
  request: IncomingMessage,
  url: URL,
  profile: string,
  body: string,
  defaultCaller: string,
): APIGatewayProxyEvent {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    multiValueHeaders[name] = values;
    headers[name] = values.at(-1) ?? "";
  }
  const multiQuery: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) {
    multiQuery[name] = [...(multiQuery[name] ?? []), value];
  }
  const hasQuery = Object.keys(multiQuery).length > 0;
  const callerArn = headers[CALLER_HEADER] || defaultCaller;
  const requestId = randomUUID();
  const method = request.method ?? "GET";

  return {
    resource: "/tokens/{profile}",
    path: url.pathname,
    httpMethod: method,
    headers,
    multiValueHeaders,
    pathParameters: { profile },
    queryStringParameters: hasQuery
      ? Object.fromEntries(
          Object.entries(multiQuery).map(([name, values]) => [name, values.at(-1) ?? ""]),
        )
      : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    stageVariables: null,
    body: body === "" ? null : body,
    isBase64Encoded: false,
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      authorizer: undefined,
      protocol: `HTTP/${request.httpVersion}`,
      httpMethod: method,
      path: url.pathname,
      stage: "local",
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
        sourceIp: request.socket.remoteAddress ?? "127.0.0.1",
        user: null,
        userAgent: headers["user-agent"] ?? null,
        userArn: callerArn,
      },
    },
  };
}

function decodePathParameter(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // malformed escapes reach the handler, which answers 400
  }
}

function localContext(requestId: string): Context {
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

function send(response: ServerResponse, result: APIGatewayProxyResult): void {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  response.writeHead(result.statusCode, headers);
  response.end(result.body);
}

/**
 * Listens on 127.0.0.1 and returns the bound port.
 * @throws {Error} with a one-line message when the port is taken or not allowed.
 */
export function listen(server: Server, port: number, host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const reason =
        error.code === "EADDRINUSE"
          ? `port ${port} on ${host} is already in use (choose another with --port or PORT)`
          : `cannot listen on ${host}:${port} (${error.code ?? error.message})`;
      reject(new Error(reason));
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
