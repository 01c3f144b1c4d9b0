/**
 * `@cyberark-token-vending/aws/cdk`: the construct for CDK apps (peer dependencies `aws-cdk-lib` and
 * `constructs`).
 */
export { METRIC_NAMESPACE, METRICS, type MetricName } from "../functions/core/metrics.js";
export { ProfilesConfigError } from "../functions/core/profiles.js";
export { MAX_SCOPES } from "../functions/core/scope-set.js";
export { GRANTED_CALLERS_BUDGET } from "./granted-callers.js";
export type { TokenVendingAlarms } from "./operations.js";
export {
  type ApiAccess,
  type ApiEndpoint,
  type ApiThrottling,
  type CallerDefinition,
  CyberArkTokenVending,
  type CyberArkTokenVendingProps,
  type GrantGetTokenOptions,
  type ProfileDefinition,
  type ProfilesDefinition,
  STAGE_NAME,
} from "./token-vending.js";
