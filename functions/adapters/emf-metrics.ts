/**
 * The core's metrics as CloudWatch Embedded Metric Format lines in the function's log, written
 * with Powertools Metrics. Each record carries exactly the dimensions the dashboard and alarms
 * read, in two sets: `Deployment`, `Profile` and the metric's one extra dimension when it has one
 * (one series per profile), and `Deployment` alone (the deployment's total, a plain metric an
 * alarm can watch). Powertools' default `service` dimension is cleared for that reason.
 *
 * Two ways to write: at once (the Lambda entry: an instance may be frozen or stopped right after
 * its invocation, so nothing waits), or aggregated over an interval (the local server, which
 * answers many requests a second: counts are summed and latencies listed, one record per metric
 * and dimensions per interval, so metrics do not double the cost of a warm hit).
 */
import { MetricUnit, Metrics as PowertoolsMetrics } from "@aws-lambda-powertools/metrics";
import {
  DEPLOYMENT_DIMENSION,
  EXTRA_DIMENSION,
  LOCAL_DEPLOYMENT,
  METRIC_NAMESPACE,
  METRICS,
  type MetricName,
  PROFILE_DIMENSION,
} from "../core/metrics.js";
import type { Metrics } from "../core/ports.js";

/** Options of {@link EmfMetrics}. */
export interface EmfMetricsOptions {
  /**
   * Aggregate and write every this many milliseconds (and on {@link EmfMetrics.flush}).
   * @default 0: every metric is written at once
   */
  readonly flushIntervalMs?: number;
  /**
   * The `Deployment` dimension: the construct's `name`, which it gives the function.
   * @default "local"
   */
  readonly deployment?: string;
}

interface Pending {
  readonly metric: MetricName;
  readonly profile: string;
  readonly dimension: string | undefined;
  readonly values: number[];
}

/** Writes the service's metrics as EMF records. */
export class EmfMetrics implements Metrics {
  readonly #emf: PowertoolsMetrics;
  // By metric, profile and dimension: nested maps, so counting builds no key and allocates nothing
  // once its series exists; the series counted last is kept at hand, so a warm hit's one metric
  // costs three comparisons and an add.
  readonly #pending = new Map<MetricName, Map<string, Map<string | undefined, Pending>>>();
  #last: Pending | undefined;
  readonly #timer: NodeJS.Timeout | undefined;

  constructor(options: EmfMetricsOptions = {}) {
    this.#emf = new PowertoolsMetrics({ namespace: METRIC_NAMESPACE });
    this.#emf.clearDefaultDimensions();
    this.#emf.setDefaultDimensions({
      [DEPLOYMENT_DIMENSION]: options.deployment ?? LOCAL_DEPLOYMENT,
    });
    const interval = options.flushIntervalMs ?? 0;
    this.#timer = interval > 0 ? setInterval(() => this.flush(), interval).unref() : undefined;
  }

  add(metric: MetricName, profile: string, value: number, dimension?: string): void {
    if (!this.#timer) {
      this.#write({ metric, profile, dimension, values: [value] });
      return;
    }
    // Warm hits count the same series again and again: the last one is at hand without a lookup.
    const last = this.#last;
    const pending =
      last?.metric === metric && last.profile === profile && last.dimension === dimension
        ? last
        : this.#series(metric, profile, dimension);
    if (metric === METRICS.upstreamLatency) pending.values.push(value);
    else pending.values[0] = (pending.values[0] ?? 0) + value;
    this.#last = pending;
  }

  /** Writes what was aggregated since the last write. */
  flush(): void {
    for (const byProfile of this.#pending.values()) {
      for (const byDimension of byProfile.values()) {
        for (const pending of byDimension.values()) this.#write(pending);
      }
    }
    this.#pending.clear();
    this.#last = undefined;
  }

  // The series being aggregated for the metric, profile and dimension (a new one if none).
  #series(metric: MetricName, profile: string, dimension: string | undefined): Pending {
    let byProfile = this.#pending.get(metric);
    if (!byProfile) {
      byProfile = new Map();
      this.#pending.set(metric, byProfile);
    }
    let byDimension = byProfile.get(profile);
    if (!byDimension) {
      byDimension = new Map();
      byProfile.set(profile, byDimension);
    }
    let pending = byDimension.get(dimension);
    if (!pending) {
      pending = { metric, profile, dimension, values: [] };
      byDimension.set(dimension, pending);
    }
    return pending;
  }

  /** Writes what is left and stops the interval. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.flush();
  }

  #write({ metric, profile, dimension, values }: Pending): void {
    const extra = EXTRA_DIMENSION[metric];
    // Two dimension sets, each with the default `Deployment`: per profile, and the total.
    this.#emf.addDimensions({
      [PROFILE_DIMENSION]: profile,
      ...(extra !== undefined && dimension !== undefined ? { [extra]: dimension } : {}),
    });
    this.#emf.addDimensions({});
    const unit = metric === METRICS.upstreamLatency ? MetricUnit.Milliseconds : MetricUnit.Count;
    for (const value of values) this.#emf.addMetric(metric, unit, value);
    this.#emf.publishStoredMetrics();
  }
}
