/**
 * DELETE after a leak kills every live token of the profile, not only the one it dropped: the
 * deployed handler with real SDK clients against moto, CyberArk being the HTTPS simulator, whose
 * introspection tells whether each token is still alive.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { issuedItemKey } from "../../functions/adapters/issued-ledger-updates.js";
import { tokenFingerprint } from "../../functions/core/token.js";
import { IdentitySimulator } from "../../functions/local/identity-simulator.js";
import { createKey, createSecret, createTokenTable, dynamodb, uniqueName } from "../support/aws.js";
import { captureOutput } from "../support/capture-output.js";
import { newInstance as newTestInstance } from "../support/instance.js";
import { expectNeverLogged } from "../support/never-logged.js";

const ACCOUNT = "111122223333";
const CALLER = `arn:aws:sts::${ACCOUNT}:assumed-role/app/run`;
const ADMIN = `arn:aws:sts::${ACCOUNT}:assumed-role/platform-admin/alice`;
const CLIENT = { client_id: "svc-ledger@example.com", client_secret: "ledger-Secret+%:" };

/**
 * The scope set the second and third GETs ask for, beside the profile's default
 * (`ReadUserProfile`) that the first asks: three tokens of two sets, the second set's first token
 * replaced by a renewal while it still had minutes to live.
 */
const SECOND_SET = "WriteUserProfile";

const output = captureOutput();
const vended: string[] = [];
expectNeverLogged(output, () => [...vended, CLIENT.client_secret]);
// A clock the tests move forward, shared by the instances and the tenant.
let offsetMs = 0;
const clock = { now: () => Date.now() + offsetMs };
const simulator = new IdentitySimulator({
  tls: inject("simulatorTls"),
  clients: [{ clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret }],
  applications: { reports_api: { scopes: ["ReadUserProfile", "WriteUserProfile"] } },
  tokenLifetimeSeconds: 3600,
  now: clock.now,
});
let profilesFile: string;
let tableName: string;
let kmsKeyId: string;

function newInstance() {
  return newTestInstance({
    profilesFile,
    tableName,
    kmsKeyId,
    defaultCaller: CALLER,
    vended,
    clock,
  });
}

type Instance = ReturnType<typeof newInstance>;

/** The tenant's own view of the token (RFC 7662 introspection). */
async function isActive(token: string): Promise<boolean> {
  const response = await fetch(new URL("/oauth2/introspect", simulator.url), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token, ...CLIENT }),
  });
  return ((await response.json()) as { active: boolean }).active;
}

async function accessToken(instance: Instance, query: Record<string, string> = {}) {
  const response = await instance({
    profile: "app",
    query: Object.fromEntries(Object.entries(query).map(([key, value]) => [key, [value]])),
  });
  expect(response.statusCode).toBe(200);
  return response.json.access_token as string;
}

/**
 * Three live tokens of the app profile in two scope sets: the default set's (an hour), then after
 * half an hour the second set's (granted for ten minutes), then that set's renewal once its token
 * runs short of the caller's min_validity (the replaced one has minutes left).
 */
async function threeLiveTokens(instance: Instance): Promise<string[]> {
  const second = { scope: SECOND_SET };
  const first = await accessToken(instance);
  simulator.grantNext({ expiresIn: 600 });
  offsetMs += 1801_000;
  const replaced = await accessToken(instance, second);
  offsetMs += 301_000;
  const renewal = await accessToken(instance, second);
  return [first, replaced, renewal];
}

const revocations = () => simulator.requests.filter((r) => r.path.startsWith("/oauth2/revoke/"));

beforeAll(async () => {
  const tenantUrl = await simulator.start();
  [tableName, kmsKeyId] = await Promise.all([createTokenTable(), createKey()]);
  const secretId = await createSecret(uniqueName("cyberark/ledger"), CLIENT);
  const shared = { tenantUrl, secretId, allowedCallers: [ACCOUNT] };
  profilesFile = join(mkdtempSync(join(tmpdir(), "ctv-ledger-")), "profiles.json");
  writeFileSync(
    profilesFile,
    JSON.stringify({
      profiles: {
        app: {
          ...shared,
          applicationId: "reports_api",
          scope: "ReadUserProfile",
          scopes: ["ReadUserProfile", "WriteUserProfile"],
        },
        platform: shared,
      },
      adminCallers: [`arn:aws:iam::${ACCOUNT}:role/platform-admin`],
    }),
  );
});

afterAll(async () => {
  output.stop();
  await simulator.stop();
});

beforeEach(async () => {
  offsetMs = 0;
  await newInstance()({ method: "DELETE", profile: "app", callerArn: ADMIN });
  simulator.reset();
});

describe("DELETE revokes every live token of the profile", () => {
  it("kills three live tokens of two scope sets, the one a renewal replaced included: each is dead in the tenant's introspection", async () => {
    const tokens = await threeLiveTokens(newInstance());
    expect(new Set(tokens).size).toBe(3);
    // Two sets: the tenant was asked the default set once and the second set twice.
    const asked = simulator.requests
      .filter((r) => r.path.startsWith("/oauth2/token/"))
      .map((r) => r.scope);
    expect(asked).toEqual(["ReadUserProfile", SECOND_SET, SECOND_SET]);
    for (const token of tokens) expect(await isActive(token)).toBe(true);
    const logStart = output.text().length;

    const deleted = await newInstance()({ method: "DELETE", profile: "app", callerArn: ADMIN });

    expect(deleted.statusCode).toBe(204);
    for (const token of tokens) expect(await isActive(token)).toBe(false);
    expect(
      revocations()
        .map((r) => r.token)
        .sort(),
    ).toEqual([...tokens].sort());
    const log = output.text().slice(logStart);
    expect(log).toContain('"revoked":"true"');
    for (const token of tokens) expect(log).toContain(tokenFingerprint(token));
  });

  it("retries a revocation the tenant failed, and still answers 204 with every token dead", async () => {
    const tokens = await threeLiveTokens(newInstance());
    simulator.failRevocations({ kind: "status", status: 500 });
    const logStart = output.text().length;

    const deleted = await newInstance()({ method: "DELETE", profile: "app", callerArn: ADMIN });

    expect(deleted.statusCode).toBe(204);
    expect(revocations()).toHaveLength(4);
    for (const token of tokens) expect(await isActive(token)).toBe(false);
    expect(output.text().slice(logStart)).toContain("token revocation failed; retrying once");
  });

  it("forgets what it revoked: the next DELETE has nothing left to revoke", async () => {
    await threeLiveTokens(newInstance());
    await newInstance()({ method: "DELETE", profile: "app", callerArn: ADMIN });
    simulator.reset();

    const again = await newInstance()({ method: "DELETE", profile: "app", callerArn: ADMIN });

    expect(again.statusCode).toBe(204);
    expect(revocations()).toEqual([]);
  });

  it("keeps no ledger for a platform-token profile, whose tokens CyberArk cannot revoke", async () => {
    await newInstance()({ profile: "platform" });

    const { Item } = await dynamodb.send(
      new GetItemCommand({
        TableName: tableName,
        Key: { pk: { S: issuedItemKey("platform") } },
        ConsistentRead: true,
      }),
    );

    expect(Item).toBeUndefined();
  });
});
