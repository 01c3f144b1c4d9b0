/**
 * The service's CloudWatch metrics as CDK objects, always of one deployment (`Deployment`
 * dimension): the deployment's total or one profile's series as a plain metric, or a Metrics
 * Insights sum over any dimensions left open, which an alarm or a graph can use alike.
 */
import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import {
  DEPLOYMENT_DIMENSION,
  EXTRA_DIMENSION,
  METRIC_NAMESPACE,
  METRICS,
  type MetricName,
  PROFILE_DIMENSION,
} from "../functions/core/metrics.js";

export { EXTRA_DIMENSION };

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
 * One of the service's metrics of one deployment, as a plain CloudWatch metric: the
 * deployment's total without `dimensionsMap`, or one series with every dimension of the metric
 * (`Profile`, and its extra dimension if it has one).
 * @throws {Error} for a name the service does not emit, or dimensions that name no series.
 */
export function deploymentMetric(
  name: MetricName,
  deployment: string,
  props: cloudwatch.MetricOptions = {},
): cloudwatch.Metric {
  const dimensionNames = dimensionNamesOf(name);
  const given = Object.keys(props.dimensionsMap ?? {});
  if (given.length > 0 && !sameNames(given, dimensionNames)) {
    throw new Error(
      `metric${name}: give no dimensionsMap (the deployment's total) or exactly ${dimensionNames.join(" and ")} (one series), not ${given.join(", ")}; metricQuery("${name}", ...) sums over any of them`,
    );
  }
  return new cloudwatch.Metric({
    ...props,
    namespace: METRIC_NAMESPACE,
    metricName: name,
    dimensionsMap: { ...props.dimensionsMap, [DEPLOYMENT_DIMENSION]: deployment },
    statistic: props.statistic ?? defaultStatistic(name),
    period: props.period ?? METRIC_PERIOD,
  });
}

function dimensionNamesOf(name: MetricName): string[] {
  if (!(name in EXTRA_DIMENSION)) {
    throw new Error(
      `metric: "${name}" is not a metric of the service (${Object.keys(EXTRA_DIMENSION).join(", ")})`,
    );
  }
  const extra = EXTRA_DIMENSION[name];
  return [PROFILE_DIMENSION, ...(extra ? [extra] : [])];
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item) => b.includes(item));
}

/**
 * One of the service's metrics of one deployment, for any dimensions. With every dimension of
 * the metric given (`Profile`, and its extra dimension if it has one) this is that exact
 * CloudWatch metric. With fewer, it is a Metrics Insights query summing (or averaging) over the
 * dimensions left open, filtered by those given, so `metricQuery("Vended", { dimensionsMap: {
 * Profile: "x" } })` counts one profile's tokens at every cache level; such a query has no
 * percentiles.
 * @throws {Error} for a name the service does not emit, or a percentile over open dimensions.
 */
export function insightsMetric(
  name: MetricName,
  deployment: string,
  props: cloudwatch.MetricOptions = {},
): cloudwatch.IMetric {
  const dimensionNames = dimensionNamesOf(name);
  const given = props.dimensionsMap ?? {};
  const statistic = props.statistic ?? defaultStatistic(name);
  const period = props.period ?? METRIC_PERIOD;
  if (dimensionNames.every((dimension) => given[dimension] !== undefined)) {
    return deploymentMetric(name, deployment, props);
  }

  const aggregate = INSIGHTS_FUNCTION[statistic];
  if (!aggregate) {
    throw new Error(
      `metric: "${statistic}" of ${name} needs every dimension (${dimensionNames.join(", ")}); over several series only ${Object.keys(INSIGHTS_FUNCTION).join(", ")} are possible`,
    );
  }
  const where = Object.entries({ ...given, [DEPLOYMENT_DIMENSION]: deployment })
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([dimension, value]) => `${dimension} = '${value.replaceAll("'", "''")}'`);
  const schema = [METRIC_NAMESPACE, ...[...dimensionNames, DEPLOYMENT_DIMENSION].sort()].join(", ");
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
  deployment: string,
  statistic: string,
  label: string,
): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: `SEARCH('${searchTerm(name, { [DEPLOYMENT_DIMENSION]: deployment })}', '${statistic}', ${METRIC_PERIOD.toSeconds()})`,
    usingMetrics: {},
    period: METRIC_PERIOD,
    label,
  });
}

/** One dashboard line: the sum over every series SEARCH finds for the metric and filter. */
export function searchSum(
  name: MetricName,
  deployment: string,
  filter: Readonly<Record<string, string>>,
  label: string,
): cloudwatch.MathExpression {
  const term = searchTerm(name, { ...filter, [DEPLOYMENT_DIMENSION]: deployment });
  return new cloudwatch.MathExpression({
    expression: `SUM(SEARCH('${term}', 'Sum', ${METRIC_PERIOD.toSeconds()}))`,
    usingMetrics: {},
    period: METRIC_PERIOD,
    label,
  });
}

function searchTerm(name: MetricName, filter: Readonly<Record<string, string>>): string {
  const extra = EXTRA_DIMENSION[name];
  const schema = [
    METRIC_NAMESPACE,
    ...(extra ? [extra] : []),
    DEPLOYMENT_DIMENSION,
    PROFILE_DIMENSION,
  ].join(",");
  // A name may hold only letters, digits, "-" and "_", so it needs no escaping in the term.
  const terms = Object.entries(filter).map(([dimension, value]) => ` ${dimension}="${value}"`);
  return `{${schema}} MetricName="${name}"${terms.join("")}`;
}
