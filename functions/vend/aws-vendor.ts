/**
 * A {@link TokenVendor} backed by AWS: Secrets Manager, DynamoDB, KMS and CyberArk over HTTPS.
 * The clients are built by the caller, once per process (the Lambda entry at module scope, or the
 * local server at start-up), and passed in.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { CappedRetryStrategy } from "../adapters/capped-retry-strategy.js";
import { DynamoDbTokenStore } from "../adapters/dynamodb-token-store.js";
import { SecretsManagerSource } from "../adapters/secrets-manager.js";
import { type DataKeyProvider, EnvelopeCipher } from "../adapters/token-cipher.js";
import type { Clock, IdentityProvider, Logger, Metrics } from "../core/ports.js";
import type { ProfilesConfig } from "../core/profiles.js";
import { AWS_ATTEMPT_TIMEOUT_MS, AWS_MAX_ATTEMPTS } from "../core/timing.js";
import { TokenVendor } from "../core/vendor.js";

/** The clients the vendor talks through. */
export interface VendorClients {
  readonly secretsManager: SecretsManagerClient;
  readonly dynamodb: DynamoDBClient;
  /** CyberArk Identity (see `CyberArkIdentityClient`). */
  readonly identity: IdentityProvider;
  /** Data keys for sealing tokens: KMS in the cloud (see `KmsDataKeys`). */
  readonly dataKeys: DataKeyProvider;
}

/** What {@link createAwsVendor} needs. */
export interface AwsVendorOptions {
  readonly config: ProfilesConfig;
  readonly tableName: string;
  readonly clients: VendorClients;
  readonly logger: Logger;
  /** Where the vendor's metrics go (see `EmfMetrics`). @default no metrics */
  readonly metrics?: Metrics;
  /** @default the system clock */
  readonly clock?: Clock;
}

/**
 * Settings of the deployed function's AWS SDK clients: attempts, pauses between them and timeouts
 * from the timing budget, so a slow or throttled AWS call cannot push a request past the
 * function timeout.
 */
export const DEPLOYED_SDK_CONFIG = {
  maxAttempts: AWS_MAX_ATTEMPTS,
  retryStrategy: new CappedRetryStrategy(),
  requestHandler: {
    connectionTimeout: AWS_ATTEMPT_TIMEOUT_MS,
    requestTimeout: AWS_ATTEMPT_TIMEOUT_MS,
  },
} as const;

/** The system clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** Builds the vendor over the given clients. Call once per process, not per request. */
export function createAwsVendor(options: AwsVendorOptions): TokenVendor {
  const clock = options.clock ?? systemClock;
  const { clients } = options;
  const cipher = new EnvelopeCipher(clients.dataKeys, () => clock.now());
  return new TokenVendor({
    config: options.config,
    secrets: new SecretsManagerSource(clients.secretsManager),
    store: new DynamoDbTokenStore(clients.dynamodb, options.tableName, cipher, options.logger),
    identity: clients.identity,
    clock,
    logger: options.logger,
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
}
