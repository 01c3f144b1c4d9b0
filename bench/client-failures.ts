/**
 * `npx tsx bench/client-failures.ts`: the published client seen from a caller while the API
 * misbehaves, on the real clock over loopback, with the client's defaults (10 s per call, 4
 * attempts). For each scenario: the time until `getToken` settled, the attempts the server saw,
 * and the outcome. A call still pending after 45 s is reported as such.
 *
 * - stalled: the server accepts every connection and never answers.
 * - 503 burst: three `503`s with `Retry-After: 1`, then the token.
 * - 503 burst at the service's own pace: two `503`s with `Retry-After: 5` (what the function
 *   sends when CyberArk fails and gave no `Retry-After`), then the token.
 * - 502/504 burst: a `502` and a `504` from a gateway (no `Retry-After`), then the token.
 *
 * `CLIENT_MODULE=<path>` measures another build of the client (e.g. an older commit's
 * `functions/client/client.ts`) with the same scenarios.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { TokenVendingClient } from "../functions/client/client.js";
import { type Behaviour, startFlakyApi } from "../test/support/flaky-api.js";

const GIVE_UP_MS = 45_000;
const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "bench" };

type ClientClass = new (options: {
  url: string;
  credentials: typeof credentials;
}) => Pick<TokenVendingClient, "getToken">;

const modulePath = process.env.CLIENT_MODULE ?? "functions/client/client.ts";
const { TokenVendingClient: Client } = (await import(pathToFileURL(resolve(modulePath)).href)) as {
  TokenVendingClient: ClientClass;
};

const scenarios: [string, Behaviour[]][] = [
  ["stalled server", Array.from({ length: 20 }, () => ({ kind: "stall" as const }))],
  [
    "503 burst (3 x Retry-After: 1)",
    Array.from({ length: 3 }, () => ({
      kind: "status" as const,
      status: 503,
      retryAfter: "1",
      body: { error: "upstream_unavailable", error_description: "busy", request_id: "r" },
    })),
  ],
  [
    "503 burst (2 x Retry-After: 5)",
    Array.from({ length: 2 }, () => ({
      kind: "status" as const,
      status: 503,
      retryAfter: "5",
      body: { error: "upstream_unavailable", error_description: "busy", request_id: "r" },
    })),
  ],
  [
    "502 then 504 from a gateway",
    [
      { kind: "status", status: 502, body: { message: "Internal server error" } },
      { kind: "status", status: 504, body: { message: "Endpoint request timed out" } },
    ],
  ],
];

const api = await startFlakyApi();
process.stdout.write(`client: ${modulePath}\n`);
for (const [name, script] of scenarios) {
  api.reset();
  api.script(...script);
  const client = new Client({ url: api.url, credentials });
  const started = performance.now();
  const outcome = await Promise.race([
    client.getToken("bench").then(
      (token) => `token ${token.access_token}`,
      (error: { error?: string; message?: string }) => `error ${error.error ?? error.message}`,
    ),
    new Promise<string>((done) =>
      setTimeout(() => done(`still pending after ${GIVE_UP_MS / 1000} s`), GIVE_UP_MS).unref(),
    ),
  ]);
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  process.stdout.write(`${name}: ${seconds} s, ${api.requests.length} attempt(s), ${outcome}\n`);
}
await api.close();
process.exit(0);
