/**
 * Cuts one export's metrics into OTLP requests of at most `maxPoints` data points,
 * building each request's points only when that request is asked for (next()), so an
 * export holds one request's points at a time instead of the whole fleet's.
 *
 * The requests are exactly those the OTel SDK's reader makes with maxExportBatchSize
 * from the same metrics all built at once (sdk-metrics splitMetricData): the points of
 * every scope's metrics in order, cut every `maxPoints` points; a request holds one
 * ScopeMetrics per scope it touches and, per metric, one contiguous run of its points
 * under the metric's own descriptor; a metric that ends exactly where a request fills
 * up does not appear in the next one. The one difference: a metric without any point is
 * left out (the SDK would send it with an empty point list; fleetprobe's producers
 * never return one).
 */
import type { MetricData, ScopeMetrics } from '@opentelemetry/sdk-metrics';
import type { MetricStream } from './otel-producer.js';

/** A scope's metrics, each a stream of points built on demand. */
export interface ScopeStream {
  readonly scope: ScopeMetrics['scope'];
  readonly metrics: readonly MetricStream[];
}

export class RequestBuilder {
  private scopeIndex = 0;
  private metricIndex = 0;
  /** Points handed out so far (all requests). */
  points = 0;
  /** Requests handed out so far. */
  requests = 0;

  constructor(
    private readonly scopes: readonly ScopeStream[],
    private readonly maxPoints: number,
  ) {
    if (!Number.isInteger(maxPoints) || maxPoints <= 0) throw new Error('maxPoints must be a positive integer');
  }

  /** Build the next request's metrics, or undefined once every point has been handed out. */
  next(): ScopeMetrics[] | undefined {
    const out: ScopeMetrics[] = [];
    let current: ScopeMetrics | undefined;
    let count = 0;
    while (this.scopeIndex < this.scopes.length) {
      const { scope, metrics } = this.scopes[this.scopeIndex];
      if (this.metricIndex >= metrics.length) {
        this.scopeIndex++;
        this.metricIndex = 0;
        current = undefined;
        continue;
      }
      const metric = metrics[this.metricIndex];
      const dataPoints = metric.take(this.maxPoints - count);
      if (dataPoints.length === 0) {
        this.metricIndex++;
        continue;
      }
      if (current === undefined) out.push((current = { scope, metrics: [] }));
      current.metrics.push({ ...metric.header, dataPoints } as MetricData);
      count += dataPoints.length;
      if (count === this.maxPoints) break;
    }
    if (out.length === 0) return undefined;
    this.points += count;
    this.requests++;
    return out;
  }
}
