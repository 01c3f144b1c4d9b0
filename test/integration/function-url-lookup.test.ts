/**
 * The real `GetFunctionUrlConfig` lookup against a stand-in for Lambda's API on 127.0.0.1: the
 * request it sends (path, SigV4 for `lambda` in the function's region, the session token) and
 * what it makes of the answers.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  FunctionUrlLookupError,
  lambdaFunctionUrlLookup,
} from "../../functions/adapters/lambda-function-url.js";

const CREDENTIALS = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  sessionToken: "session-token",
};

let server: Server;
let endpoint: string;
let seen: IncomingMessage[];
let reply: { status: number; body: string };

beforeAll(async () => {
  server = createServer((request, response) => {
    seen.push(request);
    response.writeHead(reply.status, { "content-type": "application/json" });
    response.end(reply.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen = [];
  reply = {
    status: 200,
    body: JSON.stringify({
      FunctionUrl: "https://abc123.lambda-url.eu-west-1.on.aws/",
      FunctionArn: "arn:aws:lambda:eu-west-1:111122223333:function:vend",
      AuthType: "AWS_IAM",
      InvokeMode: "BUFFERED",
    }),
  };
});

const lookup = () =>
  lambdaFunctionUrlLookup({
    functionName: "vend-fn",
    region: "eu-west-1",
    credentials: async () => CREDENTIALS,
    endpoint,
    timeoutMs: 2_000,
  })();

describe("GetFunctionUrlConfig over HTTP", () => {
  it("sends a GET of the function's URL config signed for lambda in its region", async () => {
    const config = await lookup();

    expect(config).toEqual({
      functionUrl: "https://abc123.lambda-url.eu-west-1.on.aws/",
      authType: "AWS_IAM",
    });
    const [request] = seen;
    expect(request?.method).toBe("GET");
    expect(request?.url).toBe("/2021-10-31/functions/vend-fn/url");
    expect(request?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/lambda\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
    );
    expect(request?.headers["x-amz-security-token"]).toBe("session-token");
  });

  it("throws an error naming only the status when Lambda refuses", async () => {
    reply = {
      status: 403,
      body: JSON.stringify({ Message: "User: arn:aws:sts::1:x is not authorized" }),
    };

    const failure = await lookup().catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(FunctionUrlLookupError);
    expect(String((failure as Error).message)).not.toContain("arn:");
  });

  it("throws when the answer is not a URL configuration", async () => {
    reply = { status: 200, body: JSON.stringify({ Message: "odd" }) };

    await expect(lookup()).rejects.toBeInstanceOf(FunctionUrlLookupError);
  });
});
