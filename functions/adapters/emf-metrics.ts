/**
 * The core's metrics as CloudWatch Embedded Metric Format lines in the function's log, written
 * with Powertools Metrics. Each record carries exactly the dimensions the dashboard and alarms
 * read: `Profile`, plus the metric's one extra dimension when it has one. Powertools' default
 * `service` dimension is cleared for that reason.
 */
import { MetricUnit, Metrics as PowertoolsMetrics } from "@aws-lambda-powertools/metrics";
import {
  METRIC_DIMENSIONS,
  METRIC_NAMESPACE,
  METRICS,
  type MetricName,
  PROFILE_DIMENSION,
} from "../core/metrics.js";
import type { Metrics } from "../core/ports.js";

const EXTRA_DIMENSION: Partial<Record<MetricName, string>> = {
  [METRICS.vended]: METRIC_DIMENSIONS.cacheLevel,
  [METRICS.upstreamErrors]: METRIC_DIMENSIONS.error,
  [METRICS.renewals]: METRIC_DIMENSIONS.trigger,
};

/** Writes one EMF record per metric added, at once (nothing is buffered across requests). */
export class EmfMetrics implements Metrics {
  readonly #emf: PowertoolsMetrics;

  constructor() {
    this.#emf = new PowertoolsMetrics({ namespace: METRIC_NAMESPACE });
    this.#emf.clearDefaultDimensions();
  }

  add(metric: MetricName, profile: string, value: number, dimension?: string): void {
    this.#emf.addDimension(PROFILE_DIMENSION, profile);
    const extra = EXTRA_DIMENSION[metric];
    if (extra !== undefined && dimension !== undefined) this.#emf.addDimension(extra, dimension);
    const unit = metric === METRICS.upstreamLatency ? MetricUnit.Milliseconds : MetricUnit.Count;
    this.#emf.addMetric(metric, unit, value);
    this.#emf.publishStoredMetrics();
  }
}
