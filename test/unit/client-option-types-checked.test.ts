/**
 * Every option of the client and of its calls is checked where it is given, the same way
 * whatever the client holds in memory: one of the wrong type is `invalid_option` before any
 * request, never a `TypeError` from deep inside a request, never read as something else
 * (`forceRefresh: "false"` is not a yes), and never a different answer depending on whether a
 * token happened to be in memory.
 */
import { beforeEach, describe, expect, it } from "vitest";
import {
  type GetTokenOptions,
  TokenVendingClient,
  type TokenVendingClientOptions,
} from "../../functions/client/client.js";

const API = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/v1/";
const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };

let requests: number;
beforeEach(() => {
  requests = 0;
});

function newClient(options: Partial<TokenVendingClientOptions> = {}) {
  return new TokenVendingClient({
    url: API,
    credentials,
    fetch: async () => {
      requests += 1;
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

const invalidOption = (name: string) =>
  expect.objectContaining({
    name: "TokenVendingError",
    code: "invalid_option",
    description: expect.stringContaining(name),
  });

// `null` is taken as no signal, as `fetch` takes it.
const BAD_SIGNALS = ["x", {}, 1, { aborted: false }];
const BAD_FLAGS = ["false", "true", 0, 1, null, {}];

describe("a call's options of the wrong type", () => {
  it.each(BAD_SIGNALS)(
    "getToken refuses signal %o with invalid_option, with or without a token in memory",
    async (signal) => {
      const options = { signal } as unknown as GetTokenOptions;
      const holding = newClient();
      await holding.getToken("ci");
      requests = 0;

      const empty = await newClient()
        .getToken("ci", options)
        .catch((e: unknown) => e);
      const held = await holding.getToken("ci", options).catch((e: unknown) => e);

      expect(empty).toEqual(invalidOption("signal"));
      expect(held).toEqual(invalidOption("signal"));
      expect(requests).toBe(0);
    },
  );

  it.each(BAD_SIGNALS)("invalidate refuses signal %o with invalid_option", async (signal) => {
    const error = await newClient()
      .invalidate("ci", { signal } as unknown as GetTokenOptions)
      .catch((e: unknown) => e);

    expect(error).toEqual(invalidOption("signal"));
    expect(requests).toBe(0);
  });

  it.each(BAD_FLAGS)(
    "getToken refuses forceRefresh %o with invalid_option, with or without a token in memory",
    async (forceRefresh) => {
      const options = { forceRefresh } as unknown as GetTokenOptions;
      const holding = newClient();
      await holding.getToken("ci");
      requests = 0;

      const empty = await newClient()
        .getToken("ci", options)
        .catch((e: unknown) => e);
      const held = await holding.getToken("ci", options).catch((e: unknown) => e);

      expect(empty).toEqual(invalidOption("forceRefresh"));
      expect(held).toEqual(invalidOption("forceRefresh"));
      expect(requests).toBe(0);
    },
  );

  it("still takes a real AbortSignal and a boolean forceRefresh", async () => {
    const client = newClient();
    const signal = new AbortController().signal;

    await client.getToken("ci", { signal, forceRefresh: false });
    await client.getToken("ci", { signal, forceRefresh: true });
    await client.invalidate("ci", { signal }).catch(() => undefined);

    expect(requests).toBe(3);
  });
});

describe("the client's region", () => {
  it.each(["", 5, {}])("is refused with invalid_option when it is %o", (region) => {
    expect(() => newClient({ region } as unknown as TokenVendingClientOptions)).toThrow(
      invalidOption("region"),
    );
  });
});
