/**
 * Per-caller scope ceilings and per-set grants end to end: the deployed handler with real SDK
 * clients against moto, CyberArk being the HTTPS simulator, which checks each ask against the
 * app's allowed scopes and grants what was asked.
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

const ACCOUNT = "111122223333";
const READER = `arn:aws:sts::${ACCOUNT}:assumed-role/report-job/run`;
const WRITER = `arn:aws:sts::${ACCOUNT}:assumed-role/deploy-job/run`;
const CLIENT = { client_id: "svc-scopes@example.com", client_secret: "scopes-Secret+%:" };
const READ = "ReadUserProfile";
const WRITE = "WriteUserProfile";

const output = captureOutput();
const vended: string[] = [];
expectNeverLogged(output, () => [...vended, CLIENT.client_secret]);
const simulator = new IdentitySimulator({
  tls: inject("simulatorTls"),
  clients: [{ clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret }],
  applications: { reports_api: { scopes: [READ, WRITE] } },
  tokenLifetimeSeconds: 3600,
});
let profilesFile: string;
let tableName: string;
let kmsKeyId: string;

function newInstance() {
  return newTestInstance({ profilesFile, tableName, kmsKeyId, defaultCaller: READER, vended });
}

const get = (callerArn: string, scope?: string) =>
  newInstance()({
    profile: "app",
    callerArn,
    query: scope === undefined ? {} : { scope: [scope] },
  });

const tokenRequests = () => simulator.requests.filter((r) => r.path.startsWith("/oauth2/token/"));

/** The tenant's own view of the token (RFC 7662 introspection). */
async function introspect(token: string): Promise<{ active: boolean; scope?: string }> {
  const response = await fetch(new URL("/oauth2/introspect", simulator.url), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token, ...CLIENT }),
  });
  return (await response.json()) as { active: boolean; scope?: string };
}

beforeAll(async () => {
  const tenantUrl = await simulator.start();
  [tableName, kmsKeyId] = await Promise.all([createTokenTable(), createKey()]);
  const secretId = await createSecret(uniqueName("cyberark/scopes"), CLIENT);
  profilesFile = join(mkdtempSync(join(tmpdir(), "ctv-scopes-")), "profiles.json");
  writeFileSync(
    profilesFile,
    JSON.stringify({
      profiles: {
        app: {
          tenantUrl,
          secretId,
          applicationId: "reports_api",
          scope: READ,
          scopes: [READ, WRITE],
          allowedCallers: [
            { caller: `arn:aws:iam::${ACCOUNT}:role/report-job`, scopes: [READ] },
            `arn:aws:iam::${ACCOUNT}:role/deploy-job`,
          ],
        },
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
  // Each test starts from an empty cache: the table is shared by the tests.
  const admin = `arn:aws:sts::${ACCOUNT}:assumed-role/platform-admin/alice`;
  expect(
    (await newInstance()({ method: "DELETE", profile: "app", callerArn: admin })).statusCode,
  ).toBe(204);
  simulator.reset();
});

describe("a caller entry with its own ceiling", () => {
  it("is refused a scope outside its ceiling with 403 access_denied naming it, and CyberArk is not asked", async () => {
    const refused = await get(READER, `${READ} ${WRITE}`);

    expect(refused.statusCode).toBe(403);
    expect(refused.json.error).toBe("access_denied");
    expect(refused.json.error_description).toContain(WRITE);
    expect(tokenRequests()).toEqual([]);
  });

  it("is served a scope inside its ceiling, with the scope CyberArk granted", async () => {
    const served = await get(READER, READ);

    expect(served.statusCode).toBe(200);
    expect(served.json.scope).toBe(READ);
    expect(await introspect(served.json.access_token)).toMatchObject({ active: true, scope: READ });
  });

  it("leaves a caller of the profile's whole ceiling free to ask beyond the narrowed caller's", async () => {
    const served = await get(WRITER, WRITE);

    expect(served.statusCode).toBe(200);
    expect(served.json.scope).toBe(WRITE);
  });
});

describe("each scope set gets what it asked from the simulator", () => {
  it("asks CyberArk each set's own scope once and serves each its own grant, as normalised", async () => {
    const both = await get(WRITER, `${WRITE} ${READ} ${WRITE}`);
    const write = await get(WRITER, WRITE);
    const again = await get(WRITER, `${READ} ${WRITE}`);

    expect([both.statusCode, write.statusCode, again.statusCode]).toEqual([200, 200, 200]);
    expect(both.json.scope).toBe(`${READ} ${WRITE}`);
    expect(write.json.scope).toBe(WRITE);
    expect(again.json.access_token).toBe(both.json.access_token); // the same set: cached
    expect(write.json.access_token).not.toBe(both.json.access_token);
    expect(tokenRequests().map((r) => r.scope)).toEqual([`${READ} ${WRITE}`, WRITE]);
    expect(await introspect(both.json.access_token)).toMatchObject({ scope: `${READ} ${WRITE}` });
    expect(await introspect(write.json.access_token)).toMatchObject({ scope: WRITE });
  });
});
