/**
 * Starting the local server: embedded, with a DynamoDB-compatible store in
 * memory, the CyberArk Identity simulator and a demo profile; or with a profiles file against real
 * AWS (or any endpoint through AWS_ENDPOINT_URL). Either way the deployed handler serves requests.
 */
import type { Server } from "node:http";
import { Logger } from "@aws-lambda-powertools/logger";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DescribeKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { CyberArkIdentityClient } from "../adapters/cyberark-identity.js";
import { DynamoDbTokenStore } from "../adapters/dynamodb-token-store.js";
import { EmfMetrics } from "../adapters/emf-metrics.js";
import { KmsDataKeys } from "../adapters/kms-data-keys.js";
import {
  type DataKeyProvider,
  EnvelopeCipher,
  ProcessKeyProvider,
} from "../adapters/token-cipher.js";
import { type LocalSecret, writeLocalSecret } from "../common/local-secret.js";
import type { SecretSource, SecretValue } from "../core/ports.js";
import { type ProfilesConfig, parseProfilesConfig } from "../core/profiles.js";
import { loadProfilesFile } from "../core/profiles-file.js";
import { TokenVendor } from "../core/vendor.js";
import { createHandler } from "../vend/app.js";
import { createAwsVendor, systemClock } from "../vend/aws-vendor.js";
import { describeSetupError } from "./aws-setup-errors.js";
import { startEmbeddedDynamoDb } from "./embedded-dynamodb.js";
import { IdentitySimulator } from "./identity-simulator.js";
import { startRenewalTimer, validRenewEvery } from "./renewal-timer.js";
import { LOCAL_API } from "./rest-event.js";
import { createLocalServer, listen } from "./server.js";
import { ensureTokenTable } from "./token-table-setup.js";

/** Options of {@link startLocalServer}; the contract's command-line options. */
export interface LocalServerStartOptions {
  /** @default 8787 */
  readonly port?: number;
  /** Use this profiles file with real AWS services instead of the embedded demo. */
  readonly profilesFile?: string;
  /** With `profilesFile`. @default "cyberark-token-vending-local" */
  readonly table?: string;
  /** With `profilesFile`: seal cached tokens with this KMS key. @default a key local to this process */
  readonly kmsKeyId?: string;
  /** The caller identity for requests without `x-caller-arn`. @default {@link DEMO_CALLER} */
  readonly caller?: string;
  /** Seconds between scheduled renewals of `prewarm` profiles; 0 turns them off. @default 60 */
  readonly renewEverySeconds?: number;
}

/** A started local server. */
export interface RunningLocalServer {
  readonly url: string;
  /** What to print: where it listens, how to fetch a token. */
  readonly readyMessage: string;
  close(): Promise<void>;
}

/** The embedded demo's caller, allowed for the demo profile. */
export const DEMO_CALLER = "arn:aws:sts::000000000000:assumed-role/demo-caller/local";
/** The embedded demo's admin, who may `DELETE`. */
export const DEMO_ADMIN = "arn:aws:sts::000000000000:assumed-role/demo-admin/local";
/** The embedded demo's profile name. */
export const DEMO_PROFILE = "demo";
const DEFAULT_TABLE = "cyberark-token-vending-local";
const DEMO_SECRET_ID = "demo/cyberark";
const DEMO_CREDENTIALS = {
  client_id: "demo-service-user@example.com",
  client_secret: "demo-secret",
};

/**
 * Starts the local server.
 * @throws {Error} with a one-line message (bad profiles file, unreachable endpoint, port in use).
 */
export async function startLocalServer(
  options: LocalServerStartOptions = {},
): Promise<RunningLocalServer> {
  const logger = new Logger({ serviceName: "cyberark-token-vending-local" });
  const renewEvery = validRenewEvery(options.renewEverySeconds ?? 60);
  // Aggregated over a second: a server answering many requests a second writes one record per
  // metric and dimensions, not one per request.
  const metrics = new EmfMetrics({ flushIntervalMs: 1000 });
  const backend = options.profilesFile
    ? await profilesBackend(options.profilesFile, options, logger, metrics)
    : await embeddedBackend(logger, metrics);
  const caller = options.caller ?? DEMO_CALLER;
  // With real tokens, only requests carrying the per-start secret (written once the port is known).
  let secret: LocalSecret | undefined;
  const server = createLocalServer({
    // The local server's events carry this API and stage (see `toRestEvent`).
    handler: createHandler({ vendor: backend.vendor, clock: systemClock, logger, api: LOCAL_API }),
    defaultCaller: caller,
    logger,
    ...(options.profilesFile ? { secret: { matches: (v) => secret?.matches(v) ?? false } } : {}),
  });
  let port: number;
  try {
    port = await listen(server, options.port ?? 8787);
    if (options.profilesFile) secret = writeLocalSecret(port);
  } catch (error) {
    await closeServer(server);
    metrics.close();
    await backend.close();
    throw error;
  }
  const url = `http://127.0.0.1:${port}`;
  const renewals = startRenewalTimer(() => backend.vendor.renewScheduled(), renewEvery, logger);
  return {
    url,
    readyMessage: readyMessage(url, caller, backend, secret?.file),
    close: async () => {
      secret?.remove();
      await closeServer(server);
      await renewals.stop();
      metrics.close();
      await backend.close();
    },
  };
}

interface Backend {
  readonly vendor: TokenVendor;
  readonly description: string;
  readonly exampleProfile: string;
  close(): Promise<void>;
}

async function embeddedBackend(logger: Logger, metrics: EmfMetrics): Promise<Backend> {
  const simulator = new IdentitySimulator({
    clients: [
      { clientId: DEMO_CREDENTIALS.client_id, clientSecret: DEMO_CREDENTIALS.client_secret },
    ],
  });
  const tenantUrl = await simulator.start();
  const store = await startEmbeddedDynamoDb();
  const dynamodb = store.client;
  // dynalite has no TTL API; the cache checks expiry on every read, so it does not need one.
  await ensureTokenTable(dynamodb, DEFAULT_TABLE, { enableTtl: false });

  const config = parseProfilesConfig(
    {
      profiles: {
        [DEMO_PROFILE]: {
          tenantUrl,
          secretId: DEMO_SECRET_ID,
          allowedCallers: ["arn:aws:iam::000000000000:role/demo-caller"],
        },
      },
      adminCallers: ["arn:aws:iam::000000000000:role/demo-admin"],
    },
    { allowLoopbackHttp: true },
  );
  const vendor = new TokenVendor({
    config,
    secrets: new InMemorySecrets({ [DEMO_SECRET_ID]: JSON.stringify(DEMO_CREDENTIALS) }),
    store: new DynamoDbTokenStore(
      dynamodb,
      DEFAULT_TABLE,
      new EnvelopeCipher(new ProcessKeyProvider()),
      logger,
    ),
    identity: new CyberArkIdentityClient(),
    clock: systemClock,
    logger,
    metrics,
  });
  return {
    vendor,
    description: `embedded: DynamoDB-compatible store in memory, CyberArk Identity simulator at ${tenantUrl}, profile "${DEMO_PROFILE}"`,
    exampleProfile: DEMO_PROFILE,
    close: async () => {
      await Promise.all([simulator.stop(), store.close()]);
    },
  };
}

async function profilesBackend(
  file: string,
  options: LocalServerStartOptions,
  logger: Logger,
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
  return {
    vendor: createAwsVendor({
      config,
      tableName: table,
      clients: {
        secretsManager: new SecretsManagerClient({}),
        dynamodb,
        identity: new CyberArkIdentityClient(),
        dataKeys,
      },
      logger,
      metrics,
    }),
    description: `profiles from ${file}; secrets from Secrets Manager; table ${table}${created ? " (created)" : ""}; tokens sealed with ${options.kmsKeyId ? `KMS key ${options.kmsKeyId}` : "a key local to this process"}`,
    exampleProfile: [...config.profiles.keys()][0] ?? "<profile>",
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

function readyMessage(
  url: string,
  caller: string,
  backend: Backend,
  secretFile: string | undefined,
): string {
  const tokenUrl = `${url}/tokens/${backend.exampleProfile}`;
  // curl reads the header line from the file, so the secret shows on no command line.
  const withSecret = secretFile ? ` -H ${shellQuote(`@${secretFile}`)}` : "";
  return [
    `cyberark-token-vending local server listening on ${url}`,
    `  ${backend.description}`,
    `  caller: ${caller} (per request: header x-caller-arn)`,
    ...(secretFile
      ? [
          `  answers only requests with its per-start secret, in ${secretFile} (readable by you`,
          "  alone; the CLI sends it by itself)",
        ]
      : []),
    "",
    "Fetch a token:",
    `  curl -s --fail-with-body${withSecret} ${tokenUrl}`,
    `  npm run --silent cyberark-token -- get ${backend.exampleProfile} --url ${url}`,
    ...(backend.exampleProfile === DEMO_PROFILE
      ? [
          "Drop the cached token (as the demo admin):",
          `  curl -s --fail-with-body -X DELETE -H 'x-caller-arn: ${DEMO_ADMIN}' ${tokenUrl}`,
        ]
      : []),
    "",
    "Stop with Ctrl-C.",
  ].join("\n");
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

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
