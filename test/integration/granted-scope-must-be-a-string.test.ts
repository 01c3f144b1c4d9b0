/**
 * A tenant's answer names its grant in `scope`, a space-separated string (RFC 6749 section 5.1).
 * An answer whose `scope` is anything else (a list, an object, a number) cannot be compared with
 * the caller's ceiling, so it is unusable: never served, never cached, a 503 for the caller. The
 * deployed handler with real SDK clients against moto, CyberArk being the HTTPS simulator (any
 * https origin may be a profile's `tenantUrl`, so the answer need not be CyberArk's own format).
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
const ADMIN = `arn:aws:sts::${ACCOUNT}:assumed-role/platform-admin/alice`;
const CLIENT = { client_id: "svc-scope-shape@example.com", client_secret: "shape-Secret+%:" };
const READ = "read";
const DEPLOY = "deploy";
const BROADER_TOKEN = "broader-grant-token";

const output = captureOutput();
const vended: string[] = [];
expectNeverLogged(output, () => [...vended, CLIENT.client_secret]);
const simulator = new IdentitySimulator({
  tls: inject("simulatorTls"),
  clients: [{ clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret }],
  applications: { deploy_api: { scopes: [READ, DEPLOY] } },
  tokenLifetimeSeconds: 3600,
});
let profilesFile: string;
let tableName: string;
let kmsKeyId: string;

function newInstance() {
  return newTestInstance({ profilesFile, tableName, kmsKeyId, defaultCaller: READER, vended });
}

const tokenRequests = () => simulator.requests.filter((r) => r.path.startsWith("/oauth2/token/"));

/** The next three answers (every attempt of one request) grant `scope` as given, not a string. */
function answerScopeAs(scope: unknown): void {
  const body = JSON.stringify({
    access_token: BROADER_TOKEN,
    token_type: "Bearer",
    expires_in: 3600,
    scope,
  });
  simulator.failNext({ kind: "body", contentType: "application/json", body }, 3);
}

beforeAll(async () => {
  const tenantUrl = await simulator.start();
  [tableName, kmsKeyId] = await Promise.all([createTokenTable(), createKey()]);
  const secretId = await createSecret(uniqueName("cyberark/scope-shape"), CLIENT);
  profilesFile = join(mkdtempSync(join(tmpdir(), "ctv-scope-shape-")), "profiles.json");
  writeFileSync(
    profilesFile,
    JSON.stringify({
      profiles: {
        app: {
          tenantUrl,
          secretId,
          applicationId: "deploy_api",
          scope: READ,
          scopes: [READ, DEPLOY],
          allowedCallers: [{ caller: `arn:aws:iam::${ACCOUNT}:role/report-job`, scopes: [READ] }],
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
  const dropped = await newInstance()({ method: "DELETE", profile: "app", callerArn: ADMIN });
  expect(dropped.statusCode).toBe(204);
  simulator.reset();
});

describe("a grant whose scope is not a string", () => {
  it.each([
    ["a list broader than the ask", [READ, DEPLOY]],
    ["a list of just the ask", [READ]],
    ["an object", { scope: READ }],
    ["a number", 1],
  ])(
    "is 503 upstream_unavailable for a caller whose ceiling is {read} when the scope is %s, and nothing is cached",
    async (_, scope) => {
      const instance = newInstance();
      answerScopeAs(scope);

      const refused = await instance({ profile: "app", query: { scope: [READ] } });

      expect(refused.statusCode).toBe(503);
      expect(refused.json.error).toBe("upstream_unavailable");
      expect(JSON.stringify(refused.json)).not.toContain(BROADER_TOKEN);
      expect(tokenRequests()).toHaveLength(3);

      // Neither the instance's memory nor the table kept the refused token: the next ask goes
      // to the tenant and is served what it grants, as a string.
      const served = await instance({ profile: "app", query: { scope: [READ] } });
      expect(served.statusCode).toBe(200);
      expect(served.json.access_token).not.toBe(BROADER_TOKEN);
      expect(served.json.scope).toBe(READ);
      expect(tokenRequests()).toHaveLength(4);
    },
  );
});
