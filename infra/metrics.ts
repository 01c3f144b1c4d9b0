/**
 * The service's CloudWatch metrics as CDK objects: one metric of a profile, or the sum over every
 * profile (and extra dimension) the function has emitted, which an alarm or a graph can use alike.
 */
import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import {
  METRIC_DIMENSIONS,
  METRIC_NAMESPACE,
  METRICS,
  type MetricName,
  PROFILE_DIMENSION,
} from "../functions/core/metrics.js";

/** The extra dimension each metric carries beside `Profile`, if any. */
export const EXTRA_DIMENSION: Readonly<Record<MetricName, string | undefined>> = {
  [METRICS.vended]: METRIC_DIMENSIONS.cacheLevel,
  [METRICS.denied]: undefined,
  [METRICS.upstreamRequests]: undefined,
  [METRICS.upstreamLatency]: undefined,
  [METRICS.upstreamErrors]: METRIC_DIMENSIONS.error,
  [METRICS.leaseWaits]: undefined,
  [METRICS.renewals]: METRIC_DIMENSIONS.trigger,
};

/** The period every chart and alarm of the service uses. */
export const METRIC_PERIOD = Duration.minutes(5);

// Metrics Insights aggregates; it has no percentiles.
const INSIGHTS_FUNCTION: Readonly<Record<string, string>> = {
  Sum: "SUM",
  Average: "AVG",
  Maximum: "MAX",
  Minimum: "MIN",
  SampleCount: "COUNT",
};

/** Whether the metric counts (Sum by default) or measures (Average by default). */
function defaultStatistic(name: MetricName): string {
  return name === METRICS.upstreamLatency ? "Average" : "Sum";
}

/**
 * One of the service's metrics. With every dimension of the metric given (`Profile`, and its
 * extra dimension if it has one) this is that exact CloudWatch metric. With fewer, it is a Metrics
 * Insights query summing (or averaging) over the dimensions left open, filtered by those given,
 * so `metric("UpstreamErrors")` counts every error of every profile; such a query has no
 * percentiles.
 * @throws {Error} for a name the service does not emit, or a percentile over open dimensions.
 */
export function serviceMetric(
  name: MetricName,
  props: cloudwatch.MetricOptions = {},
): cloudwatch.IMetric {
  if (!(name in EXTRA_DIMENSION)) {
    throw new Error(
      `metric: "${name}" is not a metric of the service (${Object.keys(EXTRA_DIMENSION).join(", ")})`,
    );
  }
  const extra = EXTRA_DIMENSION[name];
  const dimensionNames = [PROFILE_DIMENSION, ...(extra ? [extra] : [])];
  const given = props.dimensionsMap ?? {};
  const statistic = props.statistic ?? defaultStatistic(name);
  const period = props.period ?? METRIC_PERIOD;
  if (dimensionNames.every((dimension) => given[dimension] !== undefined)) {
    return new cloudwatch.Metric({
      ...props,
      namespace: METRIC_NAMESPACE,
      metricName: name,
      statistic,
      period,
    });
  }

  const aggregate = INSIGHTS_FUNCTION[statistic];
  if (!aggregate) {
    throw new Error(
      `metric: "${statistic}" of ${name} needs every dimension (${dimensionNames.join(", ")}); over several series only ${Object.keys(INSIGHTS_FUNCTION).join(", ")} are possible`,
    );
  }
  const where = Object.entries(given)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([dimension, value]) => `${dimension} = '${value.replaceAll("'", "''")}'`);
  const schema = [METRIC_NAMESPACE, ...[...dimensionNames].sort()].join(", ");
  return new cloudwatch.MathExpression({
    expression: `SELECT ${aggregate}(${name}) FROM SCHEMA(${schema})${
      where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""
    }`,
    usingMetrics: {},
    period,
    ...(props.label === undefined ? { label: name } : { label: props.label }),
    ...(props.color === undefined ? {} : { color: props.color }),
  });
}

/**
 * A dashboard line per series of the metric (per profile, and per value of its extra dimension),
 * found by CloudWatch SEARCH, so profiles and error codes need no listing here. `label` may use
 * dynamic labels such as `\${PROP('Dim.Profile')}`.
 */
export function searchEach(
  name: MetricName,
  statistic: string,
  label: string,
): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: `SEARCH('${searchTerm(name, {})}', '${statistic}', ${METRIC_PERIOD.toSeconds()})`,
    usingMetrics: {},
    period: METRIC_PERIOD,
    label,
  });
}

/** One dashboard line: the sum over every series SEARCH finds for the metric and filter. */
export function searchSum(
  name: MetricName,
  filter: Readonly<Record<string, string>>,
  label: string,
): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: `SUM(SEARCH('${searchTerm(name, filter)}', 'Sum', ${METRIC_PERIOD.toSeconds()}))`,
    usingMetrics: {},
    period: METRIC_PERIOD,
    label,
  });
}

function searchTerm(name: MetricName, filter: Readonly<Record<string, string>>): string {
  const extra = EXTRA_DIMENSION[name];
  const schema = [METRIC_NAMESPACE, ...(extra ? [extra] : []), PROFILE_DIMENSION].join(",");
  const terms = Object.entries(filter).map(([dimension, value]) => ` ${dimension}="${value}"`);
  return `{${schema}} MetricName="${name}"${terms.join("")}`;
}
