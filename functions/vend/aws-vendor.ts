/**
 * A {@link TokenVendor} backed by AWS: Secrets Manager, DynamoDB, KMS and CyberArk over HTTPS.
 * SDK clients use the standard environment (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL`).
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { CyberArkIdentityClient } from "../adapters/cyberark-identity.js";
import { DynamoDbTokenStore } from "../adapters/dynamodb-token-store.js";
import { SecretsManagerSource } from "../adapters/secrets-manager.js";
import { type DataKeyProvider, EnvelopeCipher } from "../adapters/token-cipher.js";
import type { Clock, Logger } from "../core/ports.js";
import type { ProfilesConfig } from "../core/profiles.js";
import { TokenVendor } from "../core/vendor.js";

/** What {@link createAwsVendor} needs. */
export interface AwsVendorOptions {
  readonly config: ProfilesConfig;
  readonly tableName: string;
  /** Data keys for sealing tokens: KMS in the cloud (see `KmsDataKeys`). */
  readonly dataKeys: DataKeyProvider;
  readonly logger: Logger;
  /** @default a client configured from the standard AWS environment */
  readonly dynamodb?: DynamoDBClient;
  /** @default the system clock */
  readonly clock?: Clock;
}

/** The system clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** Builds the vendor with real AWS clients. Call once per process (cold start), not per request. */
export function createAwsVendor(options: AwsVendorOptions): TokenVendor {
  const clock = options.clock ?? systemClock;
  const cipher = new EnvelopeCipher(options.dataKeys, () => clock.now());
  return new TokenVendor({
    config: options.config,
    secrets: new SecretsManagerSource(new SecretsManagerClient({})),
    store: new DynamoDbTokenStore(
      options.dynamodb ?? new DynamoDBClient({}),
      options.tableName,
      cipher,
      options.logger,
    ),
    identity: new CyberArkIdentityClient(),
    clock,
    logger: options.logger,
  });
}
