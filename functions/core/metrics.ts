/**
 * The names of the service's metrics: one definition for the function that emits them (CloudWatch
 * Embedded Metric Format) and the construct that charts and alarms on them. Every metric carries
 * the dimensions {@link DEPLOYMENT_DIMENSION} and {@link PROFILE_DIMENSION}, and is also written
 * with {@link DEPLOYMENT_DIMENSION} alone (the deployment's total, which alarms and the
 * construct's `metricXxx()` read); none carries a token, a secret or a caller ARN.
 */

/** CloudWatch namespace of every metric the service emits. */
export const METRIC_NAMESPACE = "CyberArkTokenVending";

/**
 * The dimension every metric carries: the deployment's name (the construct's `name`), so two
 * deployments in one account never add to each other's metrics.
 */
export const DEPLOYMENT_DIMENSION = "Deployment";

/** The `Deployment` of the local server's metrics. */
export const LOCAL_DEPLOYMENT = "local";

/** The dimension every metric carries beside the deployment: the profile name. */
export const PROFILE_DIMENSION = "Profile";

/** Metric names, with their unit and extra dimension. */
export const METRICS = {
  /** Count; extra dimension `CacheLevel`: `memory` | `table` | `upstream`. */
  vended: "Vended",
  /** Count: requests refused with `access_denied`. */
  denied: "Denied",
  /** Count: token requests sent to CyberArk. */
  upstreamRequests: "UpstreamRequests",
  /** Milliseconds: duration of one exchange with CyberArk. */
  upstreamLatency: "UpstreamLatency",
  /** Count; extra dimension `Error`: the contract's error code, or `timeout`. */
  upstreamErrors: "UpstreamErrors",
  /** Count: requests that waited for another instance's refresh lease. */
  leaseWaits: "LeaseWaits",
  /** Count; extra dimension `Trigger`: `ahead` | `schedule`. */
  renewals: "Renewals",
} as const;

/** One of {@link METRICS}. */
export type MetricName = (typeof METRICS)[keyof typeof METRICS];

/** Extra dimension names, by the metric that carries them. */
export const METRIC_DIMENSIONS = {
  cacheLevel: "CacheLevel",
  error: "Error",
  trigger: "Trigger",
} as const;

/**
 * The extra dimension each metric carries beside `Profile`, if any: one table for the function
 * that writes the metrics and the construct that reads them.
 */
export const EXTRA_DIMENSION: Readonly<Record<MetricName, string | undefined>> = {
  [METRICS.vended]: METRIC_DIMENSIONS.cacheLevel,
  [METRICS.denied]: undefined,
  [METRICS.upstreamRequests]: undefined,
  [METRICS.upstreamLatency]: undefined,
  [METRICS.upstreamErrors]: METRIC_DIMENSIONS.error,
  [METRICS.leaseWaits]: undefined,
  [METRICS.renewals]: METRIC_DIMENSIONS.trigger,
};
