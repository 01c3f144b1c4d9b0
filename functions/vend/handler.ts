/**
 * The Lambda entry point. Wiring only: configuration is read and validated once, at cold start,
 * and every client is built once, here at module scope.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { KMSClient } from "@aws-sdk/client-kms";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { CyberArkIdentityClient } from "../adapters/cyberark-identity.js";
import { EmfMetrics } from "../adapters/emf-metrics.js";
import { KmsDataKeys } from "../adapters/kms-data-keys.js";
import { FUNCTION_ENV } from "../core/function-environment.js";
import { withGrantedCallers } from "../core/granted-callers.js";
import { loadProfilesFile } from "../core/profiles-file.js";
import { createHandler } from "./app.js";
import { createAwsVendor, DEPLOYED_SDK_CONFIG, systemClock } from "./aws-vendor.js";
import { routeEvents } from "./renewal-event.js";

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} must be set`);
  return value;
}

const logger = new Logger({ serviceName: "cyberark-token-vending" });
const vendor = createAwsVendor({
  // The file's callers plus those granted in CDK code, resolved at deploy time.
  config: withGrantedCallers(
    loadProfilesFile(requiredEnv("PROFILES_FILE")),
    process.env[FUNCTION_ENV.grantedCallers],
  ),
  tableName: requiredEnv("TABLE_NAME"),
  clients: {
    secretsManager: new SecretsManagerClient(DEPLOYED_SDK_CONFIG),
    dynamodb: new DynamoDBClient(DEPLOYED_SDK_CONFIG),
    identity: new CyberArkIdentityClient(),
    dataKeys: new KmsDataKeys(new KMSClient(DEPLOYED_SDK_CONFIG), requiredEnv("KMS_KEY_ID")),
  },
  logger,
  metrics: new EmfMetrics({ deployment: requiredEnv(FUNCTION_ENV.deploymentName) }),
});

const api = createHandler({
  vendor,
  clock: systemClock,
  logger,
  api: { apiId: requiredEnv("API_ID"), stage: requiredEnv("API_STAGE") },
}).use(injectLambdaContext(logger));

/** API Gateway REST proxy events for `/tokens/{profile}`, and the scheduled renewal's event. */
export const handler = routeEvents({ api, renew: () => vendor.renewScheduled(), logger });
