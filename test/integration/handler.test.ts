import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { tokenFingerprint } from "../../functions/core/token.js";
import { IdentitySimulator } from "../../functions/local/identity-simulator.js";
import {
  createKey,
  createSecret,
  createTokenTable,
  dynamodb,
  rotateSecret,
  uniqueName,
} from "../support/aws.js";
import { captureOutput } from "../support/capture-output.js";
import type { EventOptions } from "../support/events.js";
import { HOSTILE_TOKENS } from "../support/hostile-tokens.js";
import { newInstance as newTestInstance } from "../support/instance.js";
import { expectNeverLogged } from "../support/never-logged.js";
import { entryOf, profileItem, putRaw, withEntry } from "../support/profile-items.js";

const ACCOUNT = "111122223333";
const CI_CALLER = `arn:aws:sts::${ACCOUNT}:assumed-role/ci-deployer/run-7`;
const REPORTS_CALLER = `arn:aws:sts::${ACCOUNT}:assumed-role/reports-lambda/fn`;
const ADMIN = `arn:aws:sts::${ACCOUNT}:assumed-role/platform-admin/alice`;
const SECRETS = {
  ci: { client_id: "svc-ci@example.com", client_secret: "ci-Secret+with%chars" },
  reports: { username: "svc-reports@example.com", password: "reports-P@ss:word" },
  rotated: { client_id: "svc-ci@example.com", client_secret: "rotated-Secret" },
};

const output = captureOutput();
const vendedTokens: string[] = [];
expectNeverLogged(output, () => [
  ...vendedTokens,
  SECRETS.ci.client_secret,
  SECRETS.reports.password,
  SECRETS.rotated.client_secret,
]);
const simulator = new IdentitySimulator({
  tls: inject("simulatorTls"),
  clients: [
    { clientId: SECRETS.ci.client_id, clientSecret: SECRETS.ci.client_secret },
    { clientId: SECRETS.reports.username, clientSecret: SECRETS.reports.password },
  ],
  applications: { reports_api: { scopes: ["ReadUserProfile"] }, narrow_api: { scopes: ["Other"] } },
  tokenLifetimeSeconds: 3600,
});
let tableName: string;
let profilesFile: string;
let kmsKeyId: string;
let ciSecret: string;

/** A new function instance: its own memory, the shared table. */
function newInstance() {
  return newTestInstance({
    profilesFile,
    tableName,
    kmsKeyId,
    defaultCaller: CI_CALLER,
    vended: vendedTokens,
  });
}

beforeAll(async () => {
  const tenantUrl = await simulator.start();
  [tableName, kmsKeyId] = await Promise.all([createTokenTable(), createKey()]);
  ciSecret = await createSecret(uniqueName("cyberark/ci"), SECRETS.ci);
  const reportsSecret = await createSecret(uniqueName("cyberark/reports"), SECRETS.reports);
  const profiles = {
    profiles: {
      "ci-deployer": {
        tenantUrl,
        secretId: ciSecret,
        allowedCallers: [`arn:aws:iam::${ACCOUNT}:role/ci-*`],
      },
      "reports-app": {
        tenantUrl,
        secretId: reportsSecret,
        applicationId: "reports_api",
        scope: "ReadUserProfile",
        clientAuth: "basic",
        allowedCallers: [`arn:aws:iam::${ACCOUNT}:role/reports-lambda`],
      },
      "narrow-app": {
        tenantUrl,
        secretId: reportsSecret,
        applicationId: "narrow_api",
        scope: "ReadUserProfile",
        allowedCallers: [ACCOUNT],
      },
      "missing-secret": {
        tenantUrl,
        secretId: uniqueName("cyberark/none"),
        allowedCallers: [ACCOUNT],
      },
    },
    adminCallers: [`arn:aws:iam::${ACCOUNT}:role/platform-admin`],
  };
  profilesFile = join(mkdtempSync(join(tmpdir(), "ctv-profiles-")), "profiles.json");
  writeFileSync(profilesFile, JSON.stringify(profiles));
});

afterAll(async () => {
  output.stop();
  await simulator.stop();
});

beforeEach(async () => {
  simulator.reset();
  // Every test starts with an empty cache for ci-deployer.
  await newInstance()({ method: "DELETE", callerArn: ADMIN });
});

describe("the vending handler against moto and the HTTPS Identity simulator", () => {
  it("vends a platform token with credentials in the body", async () => {
    const response = await newInstance()();

    expect(response.statusCode).toBe(200);
    expect(response.json).toMatchObject({ token_type: "Bearer", profile: "ci-deployer" });
    // Counted from when the request was sent, so never more than the 3600 s granted.
    expect(response.json.expires_in).toBeGreaterThanOrEqual(3598);
    expect(response.json.expires_in).toBeLessThanOrEqual(3600);
    expect(simulator.requests).toMatchObject([
      { path: "/oauth2/platformtoken", clientAuth: "body" },
    ]);
  });

  it("vends an application token with HTTP Basic and scope, returning the granted scope", async () => {
    const response = await newInstance()({ profile: "reports-app", callerArn: REPORTS_CALLER });

    expect(response.json).toMatchObject({ scope: "ReadUserProfile", profile: "reports-app" });
    expect(simulator.requests).toMatchObject([
      {
        path: "/oauth2/token/reports_api",
        clientAuth: "basic",
        clientId: SECRETS.reports.username,
        scope: "ReadUserProfile",
      },
    ]);
  });

  it("serves the second call from memory and another instance from the table, with no upstream request", async () => {
    const first = newInstance();
    const token = (await first()).json.access_token;

    expect((await first()).json.access_token).toBe(token);
    expect((await newInstance()()).json.access_token).toBe(token);
    expect(simulator.requests).toHaveLength(1);
  });

  it("stores the expiry in the ttl attribute and no plaintext token in the item", async () => {
    const before = Math.floor(Date.now() / 1000);
    const token = (await newInstance()()).json.access_token;

    const Item = await profileItem(tableName, "ci-deployer");
    const ttl = Number(Item?.ttl?.N);
    expect(ttl).toBeGreaterThanOrEqual(before + 3600 - 1);
    expect(ttl).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 3600);
    expect(JSON.stringify(Item)).not.toContain(token);
    expect(JSON.stringify(Item)).not.toContain(token.split(".")[1]);
  });

  it("treats a tampered table item as a miss and replaces it", async () => {
    await newInstance()();
    const Item = await profileItem(tableName, "ci-deployer");
    const entry = entryOf(Item, "tokens");
    const sealed = entry?.sealed?.S ?? "";
    if (!Item || !entry) throw new Error("no token");
    const tampered = { M: { ...entry, sealed: { S: `${sealed.slice(0, -2)}AA` } } };
    await putRaw(tableName, withEntry(Item, "tokens", tampered));

    const response = await newInstance()();

    expect(response.statusCode).toBe(200);
    expect(simulator.requests).toHaveLength(2);
    expect(output.text()).toContain(
      "cached token in the profile's item is not usable; treating as a miss",
    );
  });

  it("DELETE drops the token, and the next GET gets a new one", async () => {
    const instance = newInstance();
    const old = (await instance()).json.access_token;

    const deleted = await instance({ method: "DELETE", callerArn: ADMIN });
    const fresh = await instance();

    expect(deleted.statusCode).toBe(204);
    expect(fresh.json.access_token).not.toBe(old);
    expect(simulator.requests).toHaveLength(2);
  });

  it("after a rotation and DELETE, uses the new secret version", async () => {
    const instance = newInstance();
    await instance();
    await rotateSecret(ciSecret, SECRETS.rotated);
    simulator.reset();

    await instance({ method: "DELETE", callerArn: ADMIN });
    const response = await instance();

    // The simulator does not know the rotated secret: the exchange was tried with it, then again
    // after a fresh read, and the rejection is reported. The point: the new version was used.
    expect(response.statusCode).toBe(502);
    expect(simulator.requests).toHaveLength(2);
    await rotateSecret(ciSecret, SECRETS.ci);
  });

  it.each<[string, number, string, EventOptions]>([
    ["an unknown profile", 403, "access_denied", { profile: "nope" }],
    [
      "a caller not allowed",
      403,
      "access_denied",
      { callerArn: `arn:aws:sts::999988887777:assumed-role/ci-x/s` },
    ],
    ["a missing secret", 500, "configuration_error", { profile: "missing-secret" }],
    ["a scope the app refuses", 502, "upstream_rejected", { profile: "narrow-app" }],
    ["a bad min_validity", 400, "invalid_request", { query: { min_validity: ["x"] } }],
    ["a PUT", 405, "invalid_request", { method: "PUT" }],
  ])("answers %s with %i %s", async (_, status, error, options) => {
    const response = await newInstance()({ ...options, requestId: "it-req" });
    expect(response.statusCode).toBe(status);
    expect(response.json).toEqual({
      error,
      error_description: expect.any(String),
      request_id: "it-req",
    });
  });

  it("answers 503 with Retry-After when CyberArk keeps failing", async () => {
    simulator.failNext({ kind: "status", status: 503, retryAfter: "0" }, 3);

    const response = await newInstance()();

    expect(response.statusCode).toBe(503);
    expect(response.json.error).toBe("upstream_unavailable");
    expect(Number(response.headers?.["Retry-After"])).toBeGreaterThan(0);
  });

  it.each(HOSTILE_TOKENS)(
    "answers 503 upstream_unavailable when CyberArk's token has %s, and logs why without the token",
    async (_, token) => {
      const body = JSON.stringify({ access_token: token, token_type: "Bearer", expires_in: 600 });
      simulator.failNext({ kind: "body", contentType: "application/json", body }, 3);
      const logged = output.text().length;

      const response = await newInstance()({ requestId: "hostile-req" });

      expect(response.statusCode).toBe(503);
      expect(response.json.error).toBe("upstream_unavailable");
      expect(JSON.stringify(response.json)).not.toContain(token);
      const log = output.text().slice(logged);
      expect(log).toMatch(/b64token/);
      expect(log).not.toContain(token);
      expect(log).not.toContain(JSON.stringify(token).slice(1, -1));
    },
  );

  it("writes one audit line per request with the token's hash, never the token", async () => {
    const token = (await newInstance()({ requestId: "audit-req" })).json.access_token;

    const lines = output
      .text()
      .split("\n")
      .filter((line) => line.includes('"audit-req"'))
      .map((line) => JSON.parse(line));
    expect(lines).toEqual([
      expect.objectContaining({
        message: "token request",
        caller: CI_CALLER,
        profile: "ci-deployer",
        outcome: "ok",
        cache: "upstream",
        tokenSha256: tokenFingerprint(token),
      }),
    ]);
  });
});

describe("what is never stored in clear", () => {
  it("no vended token appears in plaintext anywhere in the table", async () => {
    const before = vendedTokens.length;
    await newInstance()();
    const scan = (await dynamodb.send(new ScanCommand({ TableName: tableName }))).Items ?? [];

    expect(vendedTokens.length).toBeGreaterThan(before);
    for (const token of vendedTokens) expect(JSON.stringify(scan)).not.toContain(token);
  });
});
