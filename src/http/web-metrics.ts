/**
 * Metrics of the web port itself, on the self-metrics registry.
 *
 * The scrape counters follow promhttp, the Go client's handler instrumentation
 * that node_exporter serves with --web.max-requests, so dashboards and alerts
 * written for it work here: `promhttp_metric_handler_requests_in_flight` and
 * `promhttp_metric_handler_requests_total{code}` (a scrape refused at the cap is
 * code="503"). Connections closed by fleetprobe itself are counted by reason.
 * Every label value is declared here, and every series exists from the start at 0.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** Why fleetprobe closed a web connection (bounded `reason` label values). */
export const DROP_REASONS = [
  /** The connection cap was reached and no idle connection could make room: refused at accept. */
  'max_connections',
  /** An idle connection closed to make room for a new one at the connection cap. */
  'idle_evicted',
  /** A keep-alive connection idle for web.idle_timeout. */
  'idle_timeout',
  /** Request headers (or body) not received within web.read_timeout, including connections that never send. */
  'read_timeout',
  /** A request that does not parse as HTTP (answered 400/431, then closed). */
  'bad_request',
  /** A response the client took no bytes of for web.write_timeout. */
  'write_timeout',
  /** A scrape whose client had read nothing for a while, closed to let a new scrape in at web.max_requests. */
  'scrape_stalled',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** Status codes of scrapes pre-created at zero (others appear when they happen). */
const SCRAPE_CODES = ['200', '503'] as const;

export interface WebMetrics {
  scrapeStarted(): void;
  /** A scrape started with scrapeStarted() is over; `code` is the status it was answered with. */
  scrapeEnded(code: number): void;
  /** A scrape answered 503 at once (web.max_requests). */
  scrapeRefused(): void;
  connections(n: number): void;
  dropped(reason: DropReason): void;
}

/** Register the web port's metrics on `registry` (once per registry). */
export function registerWebMetrics(registry: Registry): WebMetrics {
  const inFlight = new Gauge({
    name: 'promhttp_metric_handler_requests_in_flight',
    help: 'Current number of scrapes being served.',
    registers: [registry],
  });
  const total = new Counter({
    name: 'promhttp_metric_handler_requests_total',
    help: 'Total number of scrapes by HTTP status code.',
    labelNames: ['code'],
    registers: [registry],
  });
  for (const code of SCRAPE_CODES) total.inc({ code }, 0);
  const open = new Gauge({
    name: 'fleetprobe_http_connections',
    help: 'Open connections to the web port.',
    registers: [registry],
  });
  const dropped = new Counter({
    name: 'fleetprobe_http_connections_dropped_total',
    help: 'Web connections closed by fleetprobe to protect itself, by reason (see README, "Limits and abusive clients").',
    labelNames: ['reason'],
    registers: [registry],
  });
  for (const reason of DROP_REASONS) dropped.inc({ reason }, 0);
  return {
    scrapeStarted: () => inFlight.inc(),
    scrapeEnded: (code) => {
      inFlight.dec();
      total.inc({ code: String(code) });
    },
    scrapeRefused: () => total.inc({ code: '503' }),
    connections: (n) => open.set(n),
    dropped: (reason) => dropped.inc({ reason }),
  };
}

/** A WebMetrics that records nothing (an app built without a registry). */
export const NO_WEB_METRICS: WebMetrics = {
  scrapeStarted() {},
  scrapeEnded() {},
  scrapeRefused() {},
  connections() {},
  dropped() {},
};
