/**
 * A property of the local server's whole request handling (the Host and Origin guard, the 404,
 * the event building and the real vending handler behind them): whatever arrives, the answer is
 * one of the contract's statuses with its shape. Runs in-process through createRequestHandling,
 * with the core's in-memory fakes behind the handler, so 10,000 requests take seconds. fast-check
 * prints the seed and the shrunk request of a failure; replay it with `seed` and `path` in
 * fc.assert's options.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseProfilesConfig } from "../../functions/core/profiles.js";
import { TokenVendor } from "../../functions/core/vendor.js";
import { createRequestHandling, type LocalRequest } from "../../functions/local/server.js";
import { DEMO_ADMIN, DEMO_CALLER } from "../../functions/local/start.js";
import { createVending } from "../../functions/vend/vending.js";
import { FakeClock, FakeIdentity, FakeSecrets, MemoryStore } from "../support/fakes.js";

const PORT = 8787;
const RUNS = 10_000;

/** The contract's statuses, each with the one `error` code it carries. */
const ERROR_CODES: Record<number, string> = {
  400: "invalid_request",
  403: "access_denied",
  404: "invalid_request",
  405: "invalid_request",
  500: "configuration_error",
  502: "upstream_rejected",
  503: "upstream_unavailable",
};

function newHandling() {
  const clock = new FakeClock();
  const secrets = new FakeSecrets();
  secrets.set("demo/cyberark", { client_id: "demo", client_secret: "demo-secret" });
  const logs = { errors: 0 };
  const logger = {
    info: () => {},
    warn: () => {},
    error: () => {
      logs.errors += 1;
    },
  };
  const config = parseProfilesConfig({
    profiles: {
      demo: {
        tenantUrl: "https://abc1234.id.cyberark.cloud",
        secretId: "demo/cyberark",
        allowedCallers: ["arn:aws:iam::000000000000:role/demo-caller"],
      },
      // Its secret does not exist: the 500 configuration_error path.
      broken: {
        tenantUrl: "https://abc1234.id.cyberark.cloud",
        secretId: "missing",
        allowedCallers: ["000000000000"],
      },
    },
    adminCallers: ["arn:aws:iam::000000000000:role/demo-admin"],
  });
  const vendor = new TokenVendor({
    config,
    secrets,
    store: new MemoryStore(),
    identity: new FakeIdentity(),
    clock,
    logger,
  });
  const handle = createRequestHandling({
    vending: createVending({ vendor, clock, logger }),
    defaultCaller: DEMO_CALLER,
    logger,
  });
  return { handle, logs };
}

const text = (max: number) => fc.string({ maxLength: max, unit: "binary" });
const hostHeader = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(`127.0.0.1:${PORT}`, `localhost:${PORT}`, `[::1]:${PORT}`),
  },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.constantFrom("127.0.0.1", `127.0.0.1:${PORT + 1}`, `attacker.example:${PORT}`, ""),
      fc.domain(),
      text(30),
    ),
  },
);
const headerName = fc.oneof(
  fc.constantFrom("content-type", "user-agent", "accept", "x-amz-date", "__proto__", "constructor"),
  fc.stringMatching(/^[a-z][a-z0-9_-]{0,15}$/),
);
const headers = fc
  .record(
    {
      host: hostHeader,
      origin: fc.oneof(fc.webUrl(), fc.constant("null")),
      "x-caller-arn": fc.oneof(fc.constantFrom(DEMO_CALLER, DEMO_ADMIN, ""), text(80)),
      others: fc.dictionary(headerName, fc.oneof(text(40), fc.array(text(20), { maxLength: 3 }))),
    },
    { requiredKeys: [] },
  )
  .map(({ others, ...named }) => ({ ...others, ...named }));
const segment = fc.oneof(
  fc.constantFrom("demo", "broken", "unknown", "", "%", "%zz", "DEMO", "demo%2F..", "__proto__"),
  fc.webSegment(),
  text(70),
);
const target = fc.oneof(
  { weight: 4, arbitrary: segment.map((name) => `/tokens/${name}`) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.webPath(),
      fc.constantFrom("*", "/", "//tokens/demo", "http://attacker.example/tokens/demo"),
      text(40),
      segment.map((name) => `/tokens/${name}/extra`),
    ),
  },
);
const query = fc.oneof(
  fc.constant(""),
  fc.oneof(fc.nat(5000), text(6)).map((value) => `?min_validity=${value}`),
  fc.webQueryParameters().map((q) => `?${q}`),
  fc.constantFrom("?__proto__=1", "?min_validity=1&min_validity=2", "?", "?&&=", "?constructor"),
);
const anyRequest: fc.Arbitrary<LocalRequest> = fc.record({
  method: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom("GET", "DELETE") },
    {
      weight: 1,
      arbitrary: fc.oneof(
        fc.constantFrom("POST", "PUT", "PATCH", "HEAD", "OPTIONS", "get", ""),
        fc.stringMatching(/^[A-Z]{1,10}$/),
      ),
    },
  ),
  target: fc.tuple(target, query).map(([path, q]) => `${path}${q}`),
  headers,
  body: fc.oneof({ weight: 4, arbitrary: fc.constant("") }, { weight: 1, arbitrary: text(200) }),
  localPort: fc.constant(PORT),
});

// Requests a real caller would send, so the run also reaches every success answer (a valid admin
// DELETE is too rare among random requests to count on).
const wellFormedRequest: fc.Arbitrary<LocalRequest> = fc.record({
  method: fc.constantFrom("GET", "DELETE"),
  target: fc.constantFrom("/tokens/demo", "/tokens/broken", "/tokens/demo?min_validity=60"),
  headers: fc.record({
    host: fc.constantFrom(`127.0.0.1:${PORT}`, `localhost:${PORT}`),
    "x-caller-arn": fc.constantFrom(DEMO_CALLER, DEMO_ADMIN),
  }),
  body: fc.constant(""),
  localPort: fc.constant(PORT),
});
const request = fc.oneof(
  { weight: 1, arbitrary: wellFormedRequest },
  { weight: 9, arbitrary: anyRequest },
);

function isServedHost(host: unknown): boolean {
  return (
    typeof host === "string" &&
    [`127.0.0.1:${PORT}`, `localhost:${PORT}`, `[::1]:${PORT}`].includes(host.toLowerCase())
  );
}

describe("local server request handling, property-based", () => {
  it(`answers ${RUNS} random requests each with a contract status and shape: no 500 server_error, no stack trace`, async () => {
    const { handle, logs } = newHandling();
    const statuses = new Set<number>();

    await fc.assert(
      fc.asyncProperty(request, async (sent) => {
        const answer = await handle(sent);
        statuses.add(answer.statusCode);
        const body = answer.body ?? "";

        expect(body).not.toMatch(/\n\s+at |Error:/);
        if (answer.statusCode === 204) {
          expect(body).toBe("");
          return;
        }
        const json = JSON.parse(body);
        if (answer.statusCode === 200) {
          expect(json).toMatchObject({
            access_token: expect.any(String),
            token_type: "Bearer",
            expires_in: expect.any(Number),
            expires_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
            profile: expect.any(String),
          });
        } else {
          expect(Object.keys(ERROR_CODES)).toContain(String(answer.statusCode));
          expect(json).toEqual({
            error: ERROR_CODES[answer.statusCode],
            error_description: expect.any(String),
            request_id: expect.stringMatching(/^[\w-]+$/),
          });
        }
        // Only a request addressed to the loopback address and port, without Origin, is served.
        if (!isServedHost(sent.headers.host) || sent.headers.origin !== undefined) {
          expect(answer.statusCode).toBe(403);
        }
      }),
      { numRuns: RUNS },
    );

    expect(logs.errors).toBe(0);
    // The generators reach the answers that matter, not only refusals.
    expect([...statuses].sort()).toEqual(
      expect.arrayContaining([200, 204, 400, 403, 404, 405, 500]),
    );
  }, 120_000);
});
