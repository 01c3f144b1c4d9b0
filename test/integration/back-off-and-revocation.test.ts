/**
 * Two promises that need a real tenant conversation: a Retry-After back-off is honoured per
 * profile, and a DELETE revokes an app token at CyberArk. The deployed handler runs with real SDK
 * clients against moto; CyberArk is the HTTPS simulator.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { IdentitySimulator } from "../../functions/local/identity-simulator.js";
import { createKey, createSecret, createTokenTable, uniqueName } from "../support/aws.js";
import { captureOutput } from "../support/capture-output.js";
import { newInstance as newTestInstance } from "../support/instance.js";
import { expectNeverLogged } from "../support/never-logged.js";
import { setBackOff } from "../support/profile-items.js";

const ACCOUNT = "111122223333";
const CALLER = `arn:aws:sts::${ACCOUNT}:assumed-role/app/run`;
const ADMIN = `arn:aws:sts::${ACCOUNT}:assumed-role/platform-admin/alice`;
const CLIENT = { client_id: "svc-app@example.com", client_secret: "app-Secret+%:" };

const output = captureOutput();
const vended: string[] = [];
expectNeverLogged(output, () => [...vended, CLIENT.client_secret]);
const simulator = new IdentitySimulator({
  tls: inject("simulatorTls"),
  clients: [{ clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret }],
  applications: { reports_api: { scopes: ["ReadUserProfile"] } },
  tokenLifetimeSeconds: 3600,
});
let profilesFile: string;
let tableName: string;
let kmsKeyId: string;
// A clock the tests move forward, shared by the instances of a test.
let offsetMs = 0;
const clock = { now: () => Date.now() + offsetMs };

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

beforeAll(async () => {
  const tenantUrl = await simulator.start();
  [tableName, kmsKeyId] = await Promise.all([createTokenTable(), createKey()]);
  const secretId = await createSecret(uniqueName("cyberark/app"), CLIENT);
  const shared = { tenantUrl, secretId, allowedCallers: [ACCOUNT] };
  profilesFile = join(mkdtempSync(join(tmpdir(), "ctv-backoff-")), "profiles.json");
  writeFileSync(
    profilesFile,
    JSON.stringify({
      profiles: {
        app: { ...shared, applicationId: "reports_api", scope: "ReadUserProfile" },
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
  for (const profile of ["app", "platform"]) {
    await newInstance()({ method: "DELETE", profile, callerArn: ADMIN });
    // A back-off outlives a DELETE on purpose (the tenant asked for it); not a test's, though.
    await setBackOff(tableName, profile, 0);
  }
  simulator.reset();
});

describe("a tenant that answers 429 with Retry-After: 60", () => {
  it("gets one request, then the profile sends none until the back-off passes: 503s with a decreasing Retry-After", async () => {
    const instance = newInstance();
    simulator.failNext({ kind: "status", status: 429, retryAfter: "60" });

    const first = await instance({ profile: "platform" });
    offsetMs += 20_000;
    const second = await instance({ profile: "platform" });
    offsetMs += 30_000;
    const third = await instance({ profile: "platform" });

    expect([first, second, third].map((r) => r.statusCode)).toEqual([503, 503, 503]);
    expect([first, second, third].map((r) => Number(r.headers?.["Retry-After"]))).toEqual([
      60, 40, 10,
    ]);
    expect(simulator.requests).toHaveLength(1);
    offsetMs += 11_000;
    expect((await instance({ profile: "platform" })).statusCode).toBe(200);
    expect(simulator.requests).toHaveLength(2);
  });

  it("holds back every instance, not only the one CyberArk told", async () => {
    simulator.failNext({ kind: "status", status: 429, retryAfter: "60" });
    expect((await newInstance()({ profile: "platform" })).statusCode).toBe(503);

    offsetMs += 5_000;
    const elsewhere = await newInstance()({ profile: "platform" });

    expect(elsewhere.statusCode).toBe(503);
    expect(Number(elsewhere.headers?.["Retry-After"])).toBe(55);
    expect(simulator.requests).toHaveLength(1);
  });

  it("keeps serving a cached token that is still valid during the back-off", async () => {
    const instance = newInstance();
    const cached = await instance({ profile: "platform" });
    offsetMs += (3600 - 300 - 900 + 1) * 1000; // the cached token is due for renewal
    simulator.failNext({ kind: "status", status: 429, retryAfter: "60" });

    const during = await instance({ profile: "platform", query: { min_validity: ["0"] } });
    const later = await instance({ profile: "platform", query: { min_validity: ["0"] } });

    expect([during.statusCode, later.statusCode]).toEqual([200, 200]);
    expect(later.json.access_token).toBe(cached.json.access_token);
    expect(simulator.requests.length).toBeLessThanOrEqual(2); // the first token, one renewal try
  });
});

describe("DELETE after a leak", () => {
  it("revokes an app profile's token at CyberArk, and the next GET gets a new one", async () => {
    const instance = newInstance();
    const leaked = (await instance({ profile: "app" })).json.access_token as string;
    expect(simulator.isRevoked(leaked)).toBe(false);

    const deleted = await instance({ method: "DELETE", profile: "app", callerArn: ADMIN });
    const next = (await instance({ profile: "app" })).json.access_token as string;

    expect(deleted.statusCode).toBe(204);
    expect(simulator.isRevoked(leaked)).toBe(true);
    expect(next).not.toBe(leaked);
    expect(simulator.isRevoked(next)).toBe(false);
  });

  it("sends no revocation for a platform profile", async () => {
    const instance = newInstance();
    await instance({ profile: "platform" });

    const deleted = await instance({ method: "DELETE", profile: "platform", callerArn: ADMIN });

    expect(deleted.statusCode).toBe(204);
    expect(simulator.requests.filter((r) => r.path.startsWith("/oauth2/revoke"))).toHaveLength(0);
  });

  it("answers 204 when revocation fails twice, and logs the failure without the token", async () => {
    const instance = newInstance();
    const token = (await instance({ profile: "app" })).json.access_token as string;
    simulator.failRevocations({ kind: "status", status: 500 }, 2);
    const logStart = output.text().length;

    const deleted = await instance({ method: "DELETE", profile: "app", callerArn: ADMIN });
    const log = output.text().slice(logStart);

    expect(deleted.statusCode).toBe(204);
    expect(simulator.requests.filter((r) => r.path.startsWith("/oauth2/revoke"))).toHaveLength(2);
    expect(simulator.isRevoked(token)).toBe(false);
    expect(log).toContain("token revocation failed; retrying once");
    expect(log).toContain('"revoked":"failed"');
    expect(log).not.toContain(token);
  });
});
