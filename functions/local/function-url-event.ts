/**
 * A local request as the function URL event (payload format 2.0) Lambda would send for it, so the
 * local server can serve the function URL door through the very adapter the function uses.
 */
import { randomUUID } from "node:crypto";
import type { LambdaFunctionURLEventWithIAMAuthorizer } from "aws-lambda";
import { LOCAL_SECRET_HEADER } from "../common/local-secret.js";
import type { FunctionUrlConfig } from "../vend/own-function-url.js";
import type { LocalRequest, TargetParts } from "./local-request.js";

/** The function URL the local server's events name; its door accepts only these. */
export const LOCAL_FUNCTION_URL: FunctionUrlConfig = {
  functionUrl: "https://local.lambda-url.local.on.aws/",
  authType: "AWS_IAM",
};
const LOCAL_HOST = new URL(LOCAL_FUNCTION_URL.functionUrl).hostname;
const LOCAL_URL_ID = LOCAL_HOST.split(".")[0] ?? "";

const ACCOUNT = /^arn:[^:]+:[^:]+::(\d{12}):/;

/** The function URL event Lambda would send for this request, signed by `caller`. */
export function toFunctionUrlEvent(
  request: LocalRequest,
  parts: TargetParts,
  caller: string,
): LambdaFunctionURLEventWithIAMAuthorizer {
  const now = Date.now();
  const headers: Record<string, string> = {};
  // Lambda joins repeated headers with commas; the secret never travels further than the server.
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined && name !== LOCAL_SECRET_HEADER) {
      Object.defineProperty(headers, name, {
        value: Array.isArray(value) ? value.join(",") : value,
        enumerable: true,
      });
    }
  }
  const accountId = ACCOUNT.exec(caller)?.[1] ?? "000000000000";
  const domainName = LOCAL_HOST;
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: parts.path,
    rawQueryString: parts.search.replace(/^\?/, ""),
    headers,
    ...(request.body === "" ? {} : { body: request.body }),
    isBase64Encoded: false,
    requestContext: {
      accountId,
      apiId: LOCAL_URL_ID,
      authorizer: {
        iam: {
          accessKey: "local",
          accountId,
          callerId: "local",
          cognitoIdentity: null,
          principalOrgId: "",
          userArn: caller,
          userId: "local",
        },
      },
      domainName,
      domainPrefix: LOCAL_URL_ID,
      http: {
        method: request.method,
        path: parts.path,
        protocol: `HTTP/${request.httpVersion ?? "1.1"}`,
        sourceIp: request.remoteAddress ?? "127.0.0.1",
        userAgent: String(request.headers["user-agent"] ?? ""),
      },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
  };
}
