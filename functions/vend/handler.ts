/**
 * The Lambda entry point. Wiring only: configuration is read and validated once, at cold start,
 * and every client is built once, here at module scope; `composition.ts` puts them together.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { KMSClient } from "@aws-sdk/client-kms";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { CyberArkIdentityClient } from "../adapters/cyberark-identity.js";
import { EmfMetrics } from "../adapters/emf-metrics.js";
import { KmsDataKeys } from "../adapters/kms-data-keys.js";
import { lambdaFunctionUrlLookup } from "../adapters/lambda-function-url.js";
import { SecretsManagerSource } from "../adapters/secrets-manager.js";
import { FUNCTION_ENV, LAMBDA_RUNTIME_ENV } from "../core/function-environment.js";
import { withGrantedCallers } from "../core/granted-callers.js";
import { loadProfilesFile } from "../core/profiles-file.js";
import { AWS_ATTEMPT_TIMEOUT_MS } from "../core/timing.js";
import {
  createVendingService,
  DEPLOYED_SDK_CONFIG,
  doorHandler,
  type FrontDoor,
} from "./composition.js";
import { defaultProvider } from "./lambda-credentials.js";
import { ownFunctionUrl } from "./own-function-url.js";
import { routeEvents } from "./renewal-event.js";

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} must be set`);
  return value;
}

// The door the deployment put in front of the function, and how to recognise its events. The
// function URL's identity is looked up at its first event, not here (see own-function-url.ts).
function frontDoor(): FrontDoor {
  const kind = process.env[FUNCTION_ENV.frontDoor] ?? "rest-api";
  if (kind === "function-url") {
    const lookup = lambdaFunctionUrlLookup({
      functionName: requiredEnv(LAMBDA_RUNTIME_ENV.functionName),
      region: requiredEnv(LAMBDA_RUNTIME_ENV.region),
      credentials: defaultProvider(),
      endpoint: process.env.AWS_ENDPOINT_URL_LAMBDA ?? process.env.AWS_ENDPOINT_URL,
      timeoutMs: AWS_ATTEMPT_TIMEOUT_MS,
    });
    return { kind, url: ownFunctionUrl(lookup, logger) };
  }
  if (kind !== "rest-api") {
    throw new Error(
      `environment variable ${FUNCTION_ENV.frontDoor} must be rest-api or function-url`,
    );
  }
  const api = {
    apiId: requiredEnv(FUNCTION_ENV.apiId),
    stage: requiredEnv(FUNCTION_ENV.apiStage),
  };
  return { kind, api };
}

const logger = new Logger({ serviceName: "cyberark-token-vending" });
const { vendor, vending } = createVendingService({
  // The file's callers plus those granted in CDK code, resolved at deploy time.
  config: withGrantedCallers(
    loadProfilesFile(requiredEnv(FUNCTION_ENV.profilesFile)),
    process.env[FUNCTION_ENV.grantedCallers],
  ),
  tableName: requiredEnv(FUNCTION_ENV.tableName),
  clients: {
    secrets: new SecretsManagerSource(new SecretsManagerClient(DEPLOYED_SDK_CONFIG)),
    dynamodb: new DynamoDBClient(DEPLOYED_SDK_CONFIG),
    identity: new CyberArkIdentityClient(),
    dataKeys: new KmsDataKeys(
      new KMSClient(DEPLOYED_SDK_CONFIG),
      requiredEnv(FUNCTION_ENV.kmsKeyId),
    ),
  },
  logger,
  metrics: new EmfMetrics({ deployment: requiredEnv(FUNCTION_ENV.deploymentName) }),
});

const api = doorHandler(frontDoor(), vending).use(injectLambdaContext(logger));

/** The front door's events for `/tokens/{profile}`, and the scheduled renewal's event. */
export const handler = routeEvents({ api, renew: () => vendor.renewScheduled(), logger });
