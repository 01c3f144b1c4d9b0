/**
 * Names of the environment variables the deployment gives the vending function: one definition
 * for the construct that sets them and the code that reads them at cold start.
 */

/** The deployment's environment variables, by what they carry. */
export const FUNCTION_ENV = {
  /** The token table's name. */
  tableName: "TABLE_NAME",
  /** ARN of the token key that seals cached items. */
  kmsKeyId: "KMS_KEY_ID",
  /** Path of the profiles file inside the function package. */
  profilesFile: "PROFILES_FILE",
  /** ID of the REST API allowed to invoke the function (`requestContext.apiId`). */
  apiId: "API_ID",
  /** The API stage allowed to invoke the function (`requestContext.stage`). */
  apiStage: "API_STAGE",
  /** The deployment's name: the `Deployment` dimension of every metric. */
  deploymentName: "DEPLOYMENT_NAME",
  /**
   * Which door the function answers: `rest-api` (the default when unset) or `function-url`.
   */
  frontDoor: "FRONT_DOOR",
  /**
   * With the function URL door: the URL's id, the `<id>` of `https://<id>.lambda-url.<region>.on.aws`
   * (`requestContext.apiId` of its events).
   */
  functionUrlId: "FUNCTION_URL_ID",
  /** Callers granted in CDK code, as compact JSON; see `granted-callers.ts`. */
  grantedCallers: "GRANTED_CALLERS",
} as const;
