/**
 * The client checks its options where they are given (the constructor, `getToken`,
 * `invalidate`), the same way whatever its memory holds: an option out of its range is a usage
 * error, a `TokenVendingError` with code `invalid_option`, before any request. A custom domain
 * whose region cannot be told is the URL's usage error, `InvalidApiUrlError` (`invalid_url`).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { InvalidApiUrlError } from "../../functions/client/api-url.js";
import { runCli } from "../../functions/client/cli.js";
import {
  type GetTokenOptions,
  TokenVendingClient,
  type TokenVendingClientOptions,
} from "../../functions/client/client.js";
import { TokenVendingError } from "../../functions/client/errors.js";

const API = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/v1/";
const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };

let requests: string[];
beforeEach(() => {
  requests = [];
});

function newClient(options: Partial<TokenVendingClientOptions> = {}) {
  return new TokenVendingClient({
    url: API,
    credentials,
    fetch: async (input) => {
      requests.push(String(input));
      return new Response(
        JSON.stringify({
          access_token: "t1",
          token_type: "Bearer",
          expires_in: 3600,
          expires_at: "x",
          profile: "ci",
        }),
        { status: 200, headers: { "content-type": "application/json" } },
      );
    },
    ...options,
  });
}

/** A client that holds a valid token for profile `ci` (no scope), and its request forgotten. */
async function clientHoldingToken() {
  const client = newClient();
  await client.getToken("ci");
  requests = [];
  return client;
}

const invalidOption = (name: string) =>
  expect.objectContaining({
    name: "TokenVendingError",
    code: "invalid_option",
    status: 0,
    retryable: false,
    description: expect.stringContaining(name),
  });

const BAD_MIN_VALIDITY = [-1, 1.5, 3601, Number.NaN, Number.POSITIVE_INFINITY, "300"];
const BAD_TIMEOUT = [0, -5, Number.NaN, Number.POSITIVE_INFINITY, 1.5, 2 ** 31, "1000"];

describe("getToken's options", () => {
  it.each(BAD_MIN_VALIDITY)(
    "refuses minValidity %s with invalid_option, with or without a token in memory",
    async (minValidity) => {
      const options = { minValidity } as unknown as GetTokenOptions;

      const empty = await newClient()
        .getToken("ci", options)
        .catch((e: unknown) => e);
      const holding = await (await clientHoldingToken())
        .getToken("ci", options)
        .catch((e: unknown) => e);

      expect(empty).toBeInstanceOf(TokenVendingError);
      expect(empty).toEqual(invalidOption("minValidity"));
      expect(holding).toEqual(invalidOption("minValidity"));
      expect(requests).toEqual([]);
    },
  );

  it.each(BAD_TIMEOUT)(
    "refuses timeoutMs %s with invalid_option, with or without a token in memory",
    async (timeoutMs) => {
      const options = { timeoutMs } as unknown as GetTokenOptions;

      const empty = await newClient()
        .getToken("ci", options)
        .catch((e: unknown) => e);
      const holding = await (await clientHoldingToken())
        .getToken("ci", options)
        .catch((e: unknown) => e);

      expect(empty).toEqual(invalidOption("timeoutMs"));
      expect(holding).toEqual(invalidOption("timeoutMs"));
      expect(requests).toEqual([]);
    },
  );

  it.each([[[1]], [{ scope: "a" }], [42]])(
    "refuses scope %j with invalid_option",
    async (scope) => {
      const options = { scope } as unknown as GetTokenOptions;

      const error = await newClient()
        .getToken("ci", options)
        .catch((e: unknown) => e);

      expect(error).toEqual(invalidOption("scope"));
      expect(requests).toEqual([]);
    },
  );

  it("still takes the edges of each range: minValidity 0 and 3600, timeoutMs 1", async () => {
    const client = newClient();
    await expect(client.getToken("ci", { minValidity: 0 })).resolves.toBeDefined();
    await expect(client.getToken("ci", { minValidity: 3600, timeoutMs: 1 })).resolves.toBeDefined();
  });
});

describe("invalidate's options", () => {
  it.each(BAD_TIMEOUT)(
    "refuses timeoutMs %s with invalid_option, sending nothing and keeping the token it holds",
    async (timeoutMs) => {
      const client = await clientHoldingToken();

      const error = await client
        .invalidate("ci", { timeoutMs } as unknown as { timeoutMs: number })
        .catch((e: unknown) => e);

      expect(error).toEqual(invalidOption("timeoutMs"));
      expect(requests).toEqual([]);
      await client.getToken("ci");
      expect(requests).toEqual([]);
    },
  );
});

describe("the constructor's options", () => {
  it.each<[string, string, Partial<TokenVendingClientOptions>]>([
    ["timeoutMs", "0", { timeoutMs: 0 }],
    ["timeoutMs", "NaN", { timeoutMs: Number.NaN }],
    ["timeoutMs", "-5", { timeoutMs: -5 }],
    ["attemptTimeoutMs", "0", { attemptTimeoutMs: 0 }],
    ["attemptTimeoutMs", "NaN", { attemptTimeoutMs: Number.NaN }],
    ["maxAttempts", "0", { retry: { maxAttempts: 0 } }],
    ["maxAttempts", "1.5", { retry: { maxAttempts: 1.5 } }],
    ["baseDelayMs", "-1", { retry: { baseDelayMs: -1 } }],
    ["maxDelayMs", "NaN", { retry: { maxDelayMs: Number.NaN } }],
  ])("refuses %s of %s with invalid_option", (name, _, options) => {
    let error: unknown;
    try {
      newClient(options);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TokenVendingError);
    expect(error).toEqual(invalidOption(name));
  });
});

describe("a custom domain whose region cannot be told", () => {
  beforeEach(() => {
    vi.stubEnv("AWS_REGION", undefined);
    vi.stubEnv("AWS_DEFAULT_REGION", undefined);
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("is the URL's usage error, InvalidApiUrlError (invalid_url), naming the region option", () => {
    let error: unknown;
    try {
      newClient({ url: "https://tokens.example.com/v1/" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidApiUrlError);
    expect(error).toMatchObject({ code: "invalid_url", message: expect.stringMatching(/region/) });
  });

  it("is bad usage for the CLI: exit 2, one line naming --region, then the usage hint", async () => {
    let stderr = "";
    const code = await runCli(["get", "ci", "--url", "https://tokens.example.com/v1/"], {
      stdout: () => {},
      stderr: (text) => {
        stderr += text;
      },
      env: {},
    });

    expect(code).toBe(2);
    expect(stderr.split("\n")).toEqual([
      expect.stringMatching(/^cyberark-token: .*--region/),
      "Usage: cyberark-token get|delete <profile> --url URL [options]; see cyberark-token --help",
      "",
    ]);
  });
});
