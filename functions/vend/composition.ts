/**
 * The composition root: the one place that puts the vendor and the request handling together, for
 * the Lambda entry (`handler.ts`) and the local server (`local/start.ts`) alike. Clients are built
 * by the caller, once per process (the Lambda entry at module scope, the local server at start),
 * and passed in; nothing here reads the environment.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CappedRetryStrategy } from "../adapters/capped-retry-strategy.js";
import { DynamoDbIssuedTokens } from "../adapters/dynamodb-issued-tokens.js";
import { DynamoDbProfileStore } from "../adapters/dynamodb-profile-store.js";
import { type DataKeyProvider, EnvelopeCipher } from "../adapters/token-cipher.js";
import type { Clock, IdentityProvider, Logger, Metrics, SecretSource } from "../core/ports.js";
import type { ProfilesConfig } from "../core/profiles.js";
import { AWS_ATTEMPT_TIMEOUT_MS, AWS_MAX_ATTEMPTS } from "../core/timing.js";
import { TokenVendor } from "../core/vendor.js";
import { type DoorHandler, functionUrlHandler, restApiHandler } from "./app.js";
import type { AuditLogger } from "./audit.js";
import type { OwnFunctionUrl } from "./own-function-url.js";
import type { ApiIdentity } from "./rest-api-door.js";
import { createVending, type Vending } from "./vending.js";

/** What the vendor talks through. */
export interface VendorClients {
  /** The profiles' secrets: Secrets Manager in the cloud (see `SecretsManagerSource`). */
  readonly secrets: SecretSource;
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
  readonly logger: Logger & AuditLogger;
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
    secrets: clients.secrets,
    store: new DynamoDbProfileStore(
      clients.dynamodb,
      options.tableName,
      cipher,
      options.logger,
      () => clock.now(),
    ),
    issued: new DynamoDbIssuedTokens(clients.dynamodb, options.tableName, cipher, options.logger),
    identity: clients.identity,
    clock,
    logger: options.logger,
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
}

/** The service of one process: its vendor, and the request handling every door shares. */
export interface VendingService {
  readonly vendor: TokenVendor;
  readonly vending: Vending;
}

/** Builds the vendor and its request handling. Call once per process. */
export function createVendingService(options: AwsVendorOptions): VendingService {
  const vendor = createAwsVendor(options);
  const clock = options.clock ?? systemClock;
  return { vendor, vending: createVending({ vendor, clock, logger: options.logger }) };
}

/** The front doors, and what each needs to recognise its own events. */
export type FrontDoor =
  | { readonly kind: "rest-api"; readonly api: ApiIdentity }
  | { readonly kind: "function-url"; readonly url: OwnFunctionUrl };

/** The Lambda handler of a door, over the shared request handling. */
export function doorHandler(door: FrontDoor, vending: Vending): DoorHandler {
  return door.kind === "rest-api"
    ? restApiHandler(vending, door.api)
    : functionUrlHandler(vending, door.url);
}
