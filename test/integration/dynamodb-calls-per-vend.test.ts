/**
 * What a vend costs in DynamoDB calls, measured through the deployed handler on moto (the counts
 * the README's cost table states): a cold miss, a table hit on an instance with an empty memory, a
 * warm hit, and a DELETE, for a profile whose tokens CyberArk can revoke (the ledger is written)
 * and for one whose tokens it cannot (no ledger).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger } from "@aws-lambda-powertools/logger";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CyberArkIdentityClient } from "../../functions/adapters/cyberark-identity.js";
import { KmsDataKeys } from "../../functions/adapters/kms-data-keys.js";
import { SecretsManagerSource } from "../../functions/adapters/secrets-manager.js";
import { loadProfilesFile } from "../../functions/core/profiles-file.js";
import { IdentitySimulator } from "../../functions/local/identity-simulator.js";
import { createHandler } from "../../functions/vend/app.js";
import { createAwsVendor, systemClock } from "../../functions/vend/composition.js";
import {
  createKey,
  createSecret,
  createTokenTable,
  kms,
  secretsManager,
  uniqueName,
} from "../support/aws.js";
import { lambdaContext, restEvent, TEST_API } from "../support/events.js";

const ACCOUNT = "111122223333";
const CALLER = `arn:aws:sts::${ACCOUNT}:assumed-role/app/run`;
const ADMIN = `arn:aws:sts::${ACCOUNT}:assumed-role/platform-admin/alice`;
const CLIENT = { client_id: "svc-cost@example.com", client_secret: "cost-Secret" };

const simulator = new IdentitySimulator({
  tls: inject("simulatorTls"),
  clients: [{ clientId: CLIENT.client_id, clientSecret: CLIENT.client_secret }],
  applications: { reports_api: { scopes: ["ReadUserProfile"] } },
  tokenLifetimeSeconds: 3600,
});
let profilesFile: string;
let tableName: string;
let kmsKeyId: string;

/** Every DynamoDB command an instance sends, by name. */
const sent: string[] = [];
const dynamodb = new DynamoDBClient({});
dynamodb.middlewareStack.add(
  (next, context) => (args) => {
    sent.push(String(context.commandName).replace(/Command$/, ""));
    return next(args);
  },
  { step: "initialize", name: "countCommands" },
);

function newInstance() {
  const logger = new Logger({ serviceName: "cost", logLevel: "ERROR" });
  const vendor = createAwsVendor({
    config: loadProfilesFile(profilesFile),
    tableName,
    clients: {
      secrets: new SecretsManagerSource(secretsManager),
      dynamodb,
      identity: new CyberArkIdentityClient(),
      dataKeys: new KmsDataKeys(kms, kmsKeyId),
    },
    logger,
  });
  const handler = createHandler({ vendor, clock: systemClock, logger, api: TEST_API });
  return async (options: { profile: string; method?: "GET" | "DELETE"; callerArn?: string }) => {
    sent.length = 0;
    const response = await handler(restEvent({ callerArn: CALLER, ...options }), lambdaContext());
    return { status: response.statusCode, calls: count(sent) };
  };
}

function count(names: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of names) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

beforeAll(async () => {
  const tenantUrl = await simulator.start();
  [tableName, kmsKeyId] = await Promise.all([createTokenTable(), createKey()]);
  const secretId = await createSecret(uniqueName("cyberark/cost"), CLIENT);
  const shared = { tenantUrl, secretId, allowedCallers: [ACCOUNT] };
  profilesFile = join(mkdtempSync(join(tmpdir(), "ctv-cost-")), "profiles.json");
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
  await simulator.stop();
});

describe("DynamoDB calls per vend", () => {
  it("a profile without revocation: cold miss 2 GetItem + 2 PutItem; table hit 1 GetItem; warm hit none; DELETE 1 UpdateItem", async () => {
    const instance = newInstance();
    expect(await instance({ profile: "platform" })).toEqual({
      status: 200,
      calls: { GetItem: 2, PutItem: 2 },
    });
    expect(await instance({ profile: "platform" })).toEqual({ status: 200, calls: {} });
    expect(await newInstance()({ profile: "platform" })).toEqual({
      status: 200,
      calls: { GetItem: 1 },
    });
    expect(await instance({ profile: "platform", method: "DELETE", callerArn: ADMIN })).toEqual({
      status: 204,
      calls: { UpdateItem: 1 },
    });
  });

  it("a profile with revocation: the cold miss also remembers the token in the ledger, and a DELETE reads and prunes it", async () => {
    const instance = newInstance();
    // The ledger's first entry: a refused add (no ledger yet), then the item is started.
    expect(await instance({ profile: "app" })).toEqual({
      status: 200,
      calls: { GetItem: 2, PutItem: 2, UpdateItem: 2 },
    });
    expect(await instance({ profile: "app", method: "DELETE", callerArn: ADMIN })).toEqual({
      status: 204,
      calls: { UpdateItem: 2, GetItem: 1 },
    });
    // A cold miss once the ledger exists: one add.
    expect(await newInstance()({ profile: "app" })).toEqual({
      status: 200,
      calls: { GetItem: 2, PutItem: 2, UpdateItem: 1 },
    });
  });
});
