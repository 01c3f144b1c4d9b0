/**
 * The Lambda entry point. Wiring only: configuration is read and validated once, at cold start,
 * and the SDK clients are built once, here at module scope.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { KMSClient } from "@aws-sdk/client-kms";
import { KmsDataKeys } from "../adapters/kms-data-keys.js";
import { FUNCTION_ENV } from "../core/function-environment.js";
import { withGrantedCallers } from "../core/granted-callers.js";
import { loadProfilesFile } from "../core/profiles-file.js";
import { createHandler } from "./app.js";
import { createAwsVendor, systemClock } from "./aws-vendor.js";

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
  dataKeys: new KmsDataKeys(new KMSClient({}), requiredEnv("KMS_KEY_ID")),
  logger,
});

/** API Gateway REST proxy handler for `/tokens/{profile}`. */
export const handler = createHandler({ vendor, clock: systemClock, logger }).use(
  injectLambdaContext(logger),
);
