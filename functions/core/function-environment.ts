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
  /**
   * Which front door the function serves: `function-url`, or absent for the REST API (whose
   * template predates the setting). With `function-url` the function learns its own URL at run
   * time (see {@link LAMBDA_RUNTIME_ENV}) and answers only events that name it.
   */
  frontDoor: "FRONT_DOOR",
  /** ID of the REST API allowed to invoke the function (`requestContext.apiId`). */
  apiId: "API_ID",
  /** The API stage allowed to invoke the function (`requestContext.stage`). */
  apiStage: "API_STAGE",
  /** The deployment's name: the `Deployment` dimension of every metric. */
  deploymentName: "DEPLOYMENT_NAME",
  /** Callers granted in CDK code, as compact JSON; see `granted-callers.ts`. */
  grantedCallers: "GRANTED_CALLERS",
} as const;

/** {@link FUNCTION_ENV}'s `frontDoor` value of the function URL door. */
export const FUNCTION_URL_FRONT_DOOR = "function-url";

/**
 * Variables Lambda itself sets in every function, which the deployment cannot set. The function
 * URL door relies on them: its URL is created after the function (it names the function), so the
 * function's environment cannot carry the URL's identity without a cycle. Once per instance (at
 * its first URL event) the function calls `lambda:GetFunctionUrlConfig` on its own name (its
 * role may do exactly that) and answers only events whose `requestContext.domainName` is that
 * URL's host.
 */
export const LAMBDA_RUNTIME_ENV = {
  /** The function's name: the `FunctionName` of `GetFunctionUrlConfig`. */
  functionName: "AWS_LAMBDA_FUNCTION_NAME",
  /** The function's region, as in its URL's host (`<id>.lambda-url.<region>.on.aws`). */
  region: "AWS_REGION",
} as const;
