/**
 * A function instance for integration tests: the deployed handler with real AWS SDK clients (moto),
 * its own memory, the shared table.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import type { APIGatewayProxyResult } from "aws-lambda";
import { CyberArkIdentityClient } from "../../functions/adapters/cyberark-identity.js";
import { KmsDataKeys } from "../../functions/adapters/kms-data-keys.js";
import { SecretsManagerSource } from "../../functions/adapters/secrets-manager.js";
import type { Clock } from "../../functions/core/ports.js";
import { loadProfilesFile } from "../../functions/core/profiles-file.js";
import { createHandler } from "../../functions/vend/app.js";
import { createAwsVendor, systemClock } from "../../functions/vend/composition.js";
import { dynamodb, kms, secretsManager } from "./aws.js";
import { type EventOptions, lambdaContext, restEvent, TEST_API } from "./events.js";

/** Where an instance finds its configuration and table. */
export interface InstanceSetup {
  readonly profilesFile: string;
  readonly tableName: string;
  readonly kmsKeyId: string;
  /** @default the system clock */
  readonly clock?: Clock;
  /** The caller when a request names none. */
  readonly defaultCaller: string;
  /** Receives every access token vended, for the "never logged" checks. */
  readonly vended?: string[];
}

/** A response of the handler, with its body parsed. */
export type InstanceResponse = APIGatewayProxyResult & {
  // biome-ignore lint/suspicious/noExplicitAny: test responses are inspected field by field
  readonly json: any;
};

/** Builds a new instance; each call of the result is one API Gateway request. */
export function newInstance(
  setup: InstanceSetup,
): (options?: EventOptions) => Promise<InstanceResponse> {
  const logger = new Logger({ serviceName: "cyberark-token-vending" });
  const clock = setup.clock ?? systemClock;
  const vendor = createAwsVendor({
    config: loadProfilesFile(setup.profilesFile),
    tableName: setup.tableName,
    clients: {
      secrets: new SecretsManagerSource(secretsManager),
      dynamodb,
      identity: new CyberArkIdentityClient(),
      dataKeys: new KmsDataKeys(kms, setup.kmsKeyId),
    },
    logger,
    clock,
  });
  const handler = createHandler({ vendor, clock, logger, api: TEST_API });
  return async (options = {}) => {
    const response = await handler(
      restEvent({ callerArn: setup.defaultCaller, ...options }),
      lambdaContext(),
    );
    const json = response.body ? JSON.parse(response.body) : undefined;
    if (json?.access_token) setup.vended?.push(json.access_token);
    return { ...response, json };
  };
}
