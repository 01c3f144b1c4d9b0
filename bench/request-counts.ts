/**
 * `npx tsx bench/request-counts.ts`: how many token requests CyberArk receives, measured through
 * local servers (the service as the composition root builds it, on one embedded table) in front
 * of the CyberArk Identity simulator, on the real clock. Two scenarios:
 *
 * 1. renewals: one profile, 8 scope sets (the default and 7 others) asked over and over with
 *    `min_validity=3600`, the tenant granting tokens of `LIFETIME_S` seconds (600 s scaled down;
 *    every rule that decides a renewal is a fraction of the lifetime or capped at half of it, so
 *    the count per lifetime does not depend on the scale). Asked by one caller (one IAM role),
 *    then with the sets spread over 3 callers: one caller holds at most 3 of the 7 non-default
 *    places, so one caller is served 4 sets and 3 callers all 8. Prints the token requests per
 *    token lifetime once renewals run (after the first lifetime).
 * 2. refused sets: a caller cycling through 7 scope sets that CyberArk refuses (`invalid_scope`)
 *    for `WINDOW_S` seconds, against 1 and then `INSTANCES` servers on one table (its requests
 *    spread round robin, as a load balancer would). A refusal is remembered for 10 s by the
 *    instance that got it; nothing is scaled here. Prints the requests in the window, per 5
 *    minutes at that rate (a window that is a multiple of 10 s extrapolates exactly), and what
 *    the rule gives: each instance asks each refused set it may place (the caller's 3) once per 10 s.
 *
 * Environment: LIFETIME_S (default 8), LIFETIMES (default 4), WINDOW_S (default 30),
 * INSTANCES (default 3).
 */
import type { Server } from "node:http";
import { CyberArkIdentityClient } from "../functions/adapters/cyberark-identity.js";
import { ProcessKeyProvider } from "../functions/adapters/token-cipher.js";
import { parseProfilesConfig } from "../functions/core/profiles.js";
import { startEmbeddedDynamoDb } from "../functions/local/embedded-dynamodb.js";
import { IdentitySimulator } from "../functions/local/identity-simulator.js";
import { createLocalServer, listen } from "../functions/local/server.js";
import { ensureTokenTable } from "../functions/local/token-table-setup.js";
import { createVendingService } from "../functions/vend/composition.js";

const LIFETIME_S = Number(process.env.LIFETIME_S ?? 8);
const LIFETIMES = Number(process.env.LIFETIMES ?? 4);
const WINDOW_S = Number(process.env.WINDOW_S ?? 30);
const INSTANCES = Number(process.env.INSTANCES ?? 3);

const CALLER = "arn:aws:sts::111122223333:assumed-role/app/bench";
/** Callers of other roles (each role holds its own share of a profile's places). */
const callerOf = (k: number) =>
  k === 0 ? CALLER : `arn:aws:sts::111122223333:assumed-role/app-${k + 1}/bench`;
const CLIENT = { client_id: "bench@example.com", client_secret: "bench-secret" };
const GRANTED = ["s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"];
const REFUSED = ["r1", "r2", "r3", "r4", "r5", "r6", "r7"];
const TABLE = "request-counts";

const simulator = new IdentitySimulator({
  clients: [{ clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret }],
  applications: { bench_app: { scopes: GRANTED } },
  tokenLifetimeSeconds: LIFETIME_S,
});
const tenantUrl = await simulator.start();
const store = await startEmbeddedDynamoDb();
await ensureTokenTable(store.client, TABLE, { enableTtl: false });
// One data key provider for every instance: they share the table, so they open each other's tokens.
const dataKeys = new ProcessKeyProvider();
const profile = (scopes: string[]) => ({
  tenantUrl,
  secretId: "bench/cyberark",
  applicationId: "bench_app",
  scope: "s1",
  scopes,
  allowedCallers: [
    "arn:aws:iam::111122223333:role/app",
    "arn:aws:iam::111122223333:role/app-2",
    "arn:aws:iam::111122223333:role/app-3",
  ],
});
const config = parseProfilesConfig(
  {
    profiles: {
      renewing: profile(GRANTED),
      "renewing-shared": profile(GRANTED),
      refused: profile(["s1", ...REFUSED]),
    },
    adminCallers: [],
  },
  { allowLoopbackHttp: true },
);
const quiet = { info() {}, warn() {}, error() {} };
const print = (line: string) => process.stdout.write(`${line}\n`);

interface Instance {
  readonly url: string;
  readonly server: Server;
}

async function startInstance(): Promise<Instance> {
  const { vending } = createVendingService({
    config,
    tableName: TABLE,
    clients: {
      secrets: {
        read: async () => ({ secretString: JSON.stringify(CLIENT), versionId: "bench" }),
      },
      dynamodb: store.client,
      identity: new CyberArkIdentityClient(),
      dataKeys,
    },
    logger: quiet,
  });
  const server = createLocalServer({ vending, defaultCaller: CALLER, logger: quiet });
  const port = await listen(server, 0);
  return { url: `http://127.0.0.1:${port}`, server };
}

async function ask(
  instance: Instance,
  profileName: string,
  query: string,
  caller = CALLER,
): Promise<number> {
  const response = await fetch(`${instance.url}/tokens/${profileName}?${query}`, {
    headers: { "x-caller-arn": caller },
  });
  await response.arrayBuffer();
  return response.status;
}

const tokenRequests = (path: string) =>
  simulator.requests.filter((request) => request.path === path).length;
const TOKEN_PATH = "/oauth2/token/bench_app";

// 1. Renewals: 8 sets asked in turn as fast as the server answers, for LIFETIMES lifetimes, by
// one caller and then by 3 (set i asked by caller i mod 3), each run on a fresh profile.
for (const callers of [1, 3]) {
  simulator.reset();
  const instance = await startInstance();
  const profileName = callers === 1 ? "renewing" : "renewing-shared";
  const start = Date.now();
  const lifetimeMs = LIFETIME_S * 1000;
  let afterFirst: number | undefined;
  const statuses = new Map<number, number>();
  while (Date.now() - start < LIFETIMES * lifetimeMs) {
    for (const [i, scope] of GRANTED.entries()) {
      const query = `scope=${scope}&min_validity=3600`;
      const status = await ask(instance, profileName, query, callerOf(i % callers));
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    if (afterFirst === undefined && Date.now() - start >= lifetimeMs) {
      afterFirst = tokenRequests(TOKEN_PATH);
    }
  }
  const total = tokenRequests(TOKEN_PATH);
  const steady = (total - (afterFirst ?? 0)) / (LIFETIMES - 1);
  print(
    `renewals: 8 sets over ${callers} caller(s), ${LIFETIME_S} s tokens, min_validity=3600, ` +
      `${LIFETIMES} lifetimes: ${total} token requests (${afterFirst} in the first lifetime); ` +
      `${steady.toFixed(1)} per lifetime after it; ` +
      `answers ${JSON.stringify(Object.fromEntries(statuses))}`,
  );
  instance.server.close();
  instance.server.closeAllConnections();
}

// 2. Refused sets: a caller cycling through 7 refused sets for WINDOW_S, on 1 then INSTANCES servers.
for (const count of [1, INSTANCES]) {
  simulator.reset();
  const instances = await Promise.all(Array.from({ length: count }, startInstance));
  // A fresh profile state: every refused set starts without a place or a remembered refusal.
  await Promise.all(
    REFUSED.map((_, i) => ask(instances[i % count] as Instance, "refused", "scope=s1")),
  );
  simulator.reset();
  const start = Date.now();
  let asks = 0;
  const statuses = new Map<number, number>();
  while (Date.now() - start < WINDOW_S * 1000) {
    for (const scope of REFUSED) {
      const status = await ask(instances[asks % count] as Instance, "refused", `scope=${scope}`);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      asks += 1;
    }
  }
  const sent = tokenRequests(TOKEN_PATH);
  print(
    `refused sets: 7 sets cycled for ${WINDOW_S} s over ${count} instance(s): ${asks} asks, ` +
      `${sent} token requests (${((sent * 300) / WINDOW_S).toFixed(0)} per 5 min at that rate; ` +
      `the rule: 3 x ${Math.ceil(WINDOW_S / 10)} x ${count} = ${3 * Math.ceil(WINDOW_S / 10) * count}); ` +
      `answers ${JSON.stringify(Object.fromEntries(statuses))}`,
  );
  for (const instance of instances) {
    instance.server.close();
    instance.server.closeAllConnections();
  }
}

await Promise.all([simulator.stop(), store.close()]);
