import { beforeEach, describe, expect, it } from "vitest";
import { InvalidApiUrlError } from "../../functions/client/api-url.js";
import {
  TokenVendingClient,
  type TokenVendingClientOptions,
} from "../../functions/client/client.js";
import { TokenVendingError } from "../../functions/client/errors.js";
import { regionFor } from "../../functions/client/signing.js";

const API = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/v1/";
const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };

let now: number;
let requests: { url: string; headers: Record<string, string> }[];
let answers: (() => Response)[];
let sleeps: number[];

function tokenBody(token: string, expiresIn = 3600) {
  return {
    access_token: token,
    token_type: "Bearer",
    expires_in: expiresIn,
    expires_at: "x",
    profile: "ci",
  };
}
const json =
  (status: number, body: unknown, headers: Record<string, string> = {}) =>
  () =>
    new Response(JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json", ...headers },
    });

function newClient(url = API, signWith: TokenVendingClientOptions["credentials"] = credentials) {
  return new TokenVendingClient({
    url,
    credentials: signWith,
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    fetch: async (input, init) => {
      requests.push({ url: String(input), headers: init?.headers as Record<string, string> });
      const answer = answers.shift();
      if (!answer) throw new TypeError("fetch failed");
      return answer();
    },
  });
}

beforeEach(() => {
  now = Date.parse("2026-11-21T12:00:00Z");
  requests = [];
  answers = [];
  sleeps = [];
});

describe("TokenVendingClient", () => {
  it("GETs <url>/tokens/<profile>?min_validity=N signed with SigV4 for execute-api in the URL's region", async () => {
    answers.push(json(200, tokenBody("t1")));

    const token = await newClient(API.slice(0, -1)).getToken("ci", { minValidity: 120 });

    expect(token).toEqual(tokenBody("t1"));
    expect(requests[0]?.url).toBe(`${API}tokens/ci?min_validity=120`);
    expect(requests[0]?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20261121\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=host;x-amz-date, Signature=[0-9a-f]{64}$/,
    );
  });

  it("signs for lambda in the URL's region when the URL is a Lambda function URL", async () => {
    answers.push(json(200, tokenBody("t1")));

    await newClient("https://abcdefghij0123456789.lambda-url.eu-central-1.on.aws/").getToken("ci");

    expect(requests[0]?.url).toBe(
      "https://abcdefghij0123456789.lambda-url.eu-central-1.on.aws/tokens/ci?min_validity=300",
    );
    expect(requests[0]?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20261121\/eu-central-1\/lambda\/aws4_request, /,
    );
  });

  it("reuses the token in memory until it falls below minValidity", async () => {
    answers.push(json(200, tokenBody("t1")), json(200, tokenBody("t2")));
    const client = newClient();
    await client.getToken("ci");

    now += 3000_000;
    const reused = await client.getToken("ci", { minValidity: 300 });
    now += 301_000;
    const renewed = await client.getToken("ci", { minValidity: 300 });

    expect(reused).toMatchObject({ access_token: "t1", expires_in: 600 });
    expect(renewed.access_token).toBe("t2");
    expect(requests).toHaveLength(2);
  });

  it("shares one request among concurrent callers", async () => {
    answers.push(json(200, tokenBody("t1")));
    const client = newClient();

    const tokens = await Promise.all(Array.from({ length: 10 }, () => client.getToken("ci")));

    expect(new Set(tokens.map((t) => t.access_token))).toEqual(new Set(["t1"]));
    expect(requests).toHaveLength(1);
  });

  it("retries a 503 after its Retry-After", async () => {
    answers.push(
      json(503, { error: "upstream_unavailable" }, { "retry-after": "2" }),
      json(200, tokenBody("t1")),
    );

    await expect(newClient().getToken("ci")).resolves.toMatchObject({ access_token: "t1" });
    expect(sleeps).toEqual([2000]);
  });

  it("gives up on 503 when the next wait would pass the call's timeout (10 s), with the service's error", async () => {
    const unavailable = {
      error: "upstream_unavailable",
      error_description: "CyberArk is down.",
      request_id: "r-9",
    };
    answers.push(
      ...Array.from({ length: 3 }, () => json(503, unavailable, { "retry-after": "6" })),
    );

    const error = await newClient()
      .getToken("ci")
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(TokenVendingError);
    expect(error).toMatchObject({ status: 503, error: "upstream_unavailable", request_id: "r-9" });
    expect(sleeps).toEqual([6_000]);
  });

  it.each([
    [
      "the service's JSON error",
      json(403, { error: "access_denied", error_description: "No.", request_id: "r1" }),
      403,
      "access_denied",
      "r1",
    ],
    [
      "API Gateway's own refusal",
      json(403, { message: "Missing Authentication Token" }),
      403,
      "access_denied",
      undefined,
    ],
    [
      "a non-JSON failure",
      () => new Response("<html>", { status: 500 }),
      500,
      "http_error",
      undefined,
    ],
  ])("throws a typed error for %s", async (_, answer, status, code, requestId) => {
    answers.push(answer);
    await expect(newClient().getToken("ci")).rejects.toMatchObject({
      status,
      error: code,
      code,
      request_id: requestId,
    });
  });

  it("throws network_error with status 0 when nothing answers, after its retries", async () => {
    await expect(newClient().getToken("ci")).rejects.toMatchObject({
      status: 0,
      error: "network_error",
      code: "network_error",
      retryable: true,
    });
    expect(requests).toHaveLength(4);
  });
});

describe("TokenVendingClient URL rule", () => {
  it.each([
    "http://example.com",
    "http://abc123.execute-api.eu-west-1.amazonaws.com/v1/",
    "http://10.0.0.7:8787",
    "http://127.0.0.2:8787",
    "http://localhost.example.com:8787",
    "ftp://127.0.0.1:8787",
    "not a url",
  ])("throws InvalidApiUrlError for %s before any request", (url) => {
    expect(() => newClient(url)).toThrow(InvalidApiUrlError);
    expect(requests).toEqual([]);
  });

  it.each([
    "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/",
    "http://127.0.0.1:8787",
    "http://localhost:8787",
    "http://[::1]:8787",
  ])("accepts %s", (url) => {
    expect(() => newClient(url)).not.toThrow();
  });
});

describe("TokenVendingClient without AWS credentials", () => {
  const noCredentials = async () => {
    const error = new Error("Could not load credentials from any providers");
    error.name = "CredentialsProviderError";
    throw error;
  };

  it.each(["http://127.0.0.1:8787", "http://localhost:8787", "http://[::1]:8787"])(
    "sends the request unsigned to the loopback URL %s",
    async (url) => {
      answers.push(json(200, tokenBody("t1")));

      const token = await newClient(url, noCredentials).getToken("ci");

      expect(token.access_token).toBe("t1");
      expect(requests[0]?.headers).not.toHaveProperty("authorization");
    },
  );

  it("fails against a remote URL with credentials_error naming the missing credentials, sending nothing", async () => {
    const error = await newClient(API, noCredentials)
      .getToken("ci")
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(TokenVendingError);
    expect(error).toMatchObject({
      status: 0,
      error: "credentials_error",
      description: expect.stringMatching(/AWS credentials/),
    });
    expect(requests).toEqual([]);
  });

  it("still signs for a loopback URL when credentials resolve", async () => {
    answers.push(json(200, tokenBody("t1")));

    await newClient("http://127.0.0.1:8787").getToken("ci");

    expect(requests[0]?.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 /);
  });
});

describe("region to sign for", () => {
  it.each([
    ["https://abc.execute-api.eu-west-1.amazonaws.com/v1", undefined, {}, "eu-west-1"],
    [
      "https://abc-vpce-0123456789abcdef0.execute-api.us-east-2.vpce.amazonaws.com/v1",
      undefined,
      {},
      "us-east-2",
    ],
    ["https://tokens.example.com/", undefined, { AWS_REGION: "ap-south-1" }, "ap-south-1"],
    ["https://tokens.example.com/", undefined, { AWS_DEFAULT_REGION: "sa-east-1" }, "sa-east-1"],
    ["https://abc.execute-api.eu-west-1.amazonaws.com/v1", "us-west-2", {}, "us-west-2"],
    ["https://abcdefghij0123456789.lambda-url.eu-central-1.on.aws/", undefined, {}, "eu-central-1"],
    ["http://127.0.0.1:8787", undefined, {}, "us-east-1"],
  ])("%s (option %s, env %j) -> %s", (url, option, env, region) => {
    expect(regionFor(new URL(url), option, env)).toBe(region);
  });

  it("refuses to guess for another host", () => {
    expect(() => regionFor(new URL("https://tokens.example.com/"), undefined, {})).toThrow(
      /AWS_REGION/,
    );
  });
});
