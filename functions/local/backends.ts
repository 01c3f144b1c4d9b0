/**
 * What the local server vends from: the embedded demo (a DynamoDB-compatible store in memory, the
 * CyberArk Identity simulator, a demo profile), or a profiles file against real AWS (or any
 * endpoint through AWS_ENDPOINT_URL). Either way the composition root builds the service, as it
 * does for the deployed function.
 */

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DescribeKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { CyberArkIdentityClient } from "../adapters/cyberark-identity.js";
import type { EmfMetrics } from "../adapters/emf-metrics.js";
import { KmsDataKeys } from "../adapters/kms-data-keys.js";
import { SecretsManagerSource } from "../adapters/secrets-manager.js";
import { type DataKeyProvider, ProcessKeyProvider } from "../adapters/token-cipher.js";
import type { SecretSource, SecretValue } from "../core/ports.js";
import { type ProfilesConfig, parseProfilesConfig } from "../core/profiles.js";
import { loadProfilesFile } from "../core/profiles-file.js";
import {
  type AwsVendorOptions,
  createVendingService,
  type VendingService,
} from "../vend/composition.js";
import { describeSetupError } from "./aws-setup-errors.js";
import { startEmbeddedDynamoDb } from "./embedded-dynamodb.js";
import { IdentitySimulator } from "./identity-simulator.js";
import { ensureTokenTable } from "./token-table-setup.js";

/** The embedded demo's caller, allowed for both demo profiles (any of the scoped one's scopes). */
export const DEMO_CALLER = "arn:aws:sts::000000000000:assumed-role/demo-caller/local";
/** The embedded demo's second caller: the scoped profile only, and its `read` scope only. */
export const DEMO_READER = "arn:aws:sts::000000000000:assumed-role/demo-reader/local";
/** The embedded demo's admin, who may `DELETE`. */
export const DEMO_ADMIN = "arn:aws:sts::000000000000:assumed-role/demo-admin/local";
/** The embedded demo's profile name. */
export const DEMO_PROFILE = "demo";
/** The embedded demo's profile of a custom app with scopes: `deploy read` at most, `read` by default. */
export const DEMO_SCOPED_PROFILE = "demo-scoped";
/** The simulated custom app behind {@link DEMO_SCOPED_PROFILE}. */
const DEMO_APPLICATION = "demo_app";
/** The table the local server uses unless told otherwise. */
export const DEFAULT_TABLE = "cyberark-token-vending-local";
const DEMO_SECRET_ID = "demo/cyberark";
const DEMO_CREDENTIALS = {
  client_id: "demo-service-user@example.com",
  client_secret: "demo-secret",
};

type BackendLogger = AwsVendorOptions["logger"];

/** A started backend: the service, and what the ready message says about it. */
export interface Backend extends VendingService {
  readonly description: string;
  /** The profiles it serves, in the file's order. */
  readonly config: ProfilesConfig;
  /** Whether this is the embedded demo (its profiles and callers are the DEMO_* ones). */
  readonly embedded: boolean;
  close(): Promise<void>;
}

/** The embedded demo: nothing to set up. */
export async function embeddedBackend(
  logger: BackendLogger,
  metrics: EmfMetrics,
): Promise<Backend> {
  const simulator = new IdentitySimulator({
    clients: [
      { clientId: DEMO_CREDENTIALS.client_id, clientSecret: DEMO_CREDENTIALS.client_secret },
    ],
    applications: { [DEMO_APPLICATION]: { scopes: ["read", "deploy"] } },
  });
  const tenantUrl = await simulator.start();
  const store = await startEmbeddedDynamoDb();
  // dynalite has no TTL API; the cache checks expiry on every read, so it does not need one.
  await ensureTokenTable(store.client, DEFAULT_TABLE, { enableTtl: false });
  const config = parseProfilesConfig(
    {
      profiles: {
        [DEMO_PROFILE]: {
          tenantUrl,
          secretId: DEMO_SECRET_ID,
          allowedCallers: ["arn:aws:iam::000000000000:role/demo-caller"],
        },
        [DEMO_SCOPED_PROFILE]: {
          tenantUrl,
          secretId: DEMO_SECRET_ID,
          applicationId: DEMO_APPLICATION,
          scope: "read",
          scopes: ["read", "deploy"],
          allowedCallers: [
            "arn:aws:iam::000000000000:role/demo-caller",
            { caller: "arn:aws:iam::000000000000:role/demo-reader", scopes: ["read"] },
          ],
        },
      },
      adminCallers: ["arn:aws:iam::000000000000:role/demo-admin"],
    },
    { allowLoopbackHttp: true },
  );
  const service = createVendingService({
    config,
    tableName: DEFAULT_TABLE,
    clients: {
      secrets: new InMemorySecrets({ [DEMO_SECRET_ID]: JSON.stringify(DEMO_CREDENTIALS) }),
      dynamodb: store.client,
      identity: new CyberArkIdentityClient(),
      dataKeys: new ProcessKeyProvider(),
    },
    logger,
    metrics,
  });
  return {
    ...service,
    description: `embedded: DynamoDB-compatible store in memory, CyberArk Identity simulator at ${tenantUrl}, profiles "${DEMO_PROFILE}" and "${DEMO_SCOPED_PROFILE}"`,
    config,
    embedded: true,
    close: async () => {
      await Promise.all([simulator.stop(), store.close()]);
    },
  };
}

/** What {@link profilesBackend} reads besides the file. */
export interface ProfilesBackendOptions {
  /** @default {@link DEFAULT_TABLE} */
  readonly table?: string | undefined;
  /** @default a key local to this process */
  readonly kmsKeyId?: string | undefined;
}

/** A profiles file, with the standard AWS environment. */
export async function profilesBackend(
  file: string,
  options: ProfilesBackendOptions,
  logger: BackendLogger,
  metrics: EmfMetrics,
): Promise<Backend> {
  const config: ProfilesConfig = loadProfilesFile(file, { allowLoopbackHttp: true });
  const table = options.table ?? DEFAULT_TABLE;
  const dynamodb = new DynamoDBClient({});
  // Creating (or finding) the table is also the check that DynamoDB is reachable at all.
  const created = await reachable("DynamoDB", () => ensureTokenTable(dynamodb, table));
  let dataKeys: DataKeyProvider = new ProcessKeyProvider();
  if (options.kmsKeyId) {
    const kms = new KMSClient({});
    await reachable("KMS", () => kms.send(new DescribeKeyCommand({ KeyId: options.kmsKeyId })));
    dataKeys = new KmsDataKeys(kms, options.kmsKeyId);
  }
  const service = createVendingService({
    config,
    tableName: table,
    clients: {
      secrets: new SecretsManagerSource(new SecretsManagerClient({})),
      dynamodb,
      identity: new CyberArkIdentityClient(),
      dataKeys,
    },
    logger,
    metrics,
  });
  return {
    ...service,
    description: `profiles from ${file}; secrets from Secrets Manager; table ${table}${created ? " (created)" : ""}; tokens sealed with ${options.kmsKeyId ? `KMS key ${options.kmsKeyId}` : "a key local to this process"}`,
    config,
    embedded: false,
    close: async () => dynamodb.destroy(),
  };
}

async function reachable<T>(service: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw new Error(describeSetupError(service, error));
  }
}

/** Secrets held in memory, for the embedded demo. */
class InMemorySecrets implements SecretSource {
  readonly #values: Record<string, string>;
  constructor(values: Record<string, string>) {
    this.#values = values;
  }
  async read(secretId: string): Promise<SecretValue> {
    return { secretString: this.#values[secretId], versionId: "local" };
  }
}
