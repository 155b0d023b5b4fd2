/**
 * Self metrics of the live streams, read from the hub at scrape time:
 *   fleetprobe_stream_clients{transport}                     gauge
 *   fleetprobe_stream_events_total{transport}                counter (result and state events sent)
 *   fleetprobe_stream_dropped_clients_total{transport,reason} counter (buffer_full, stalled)
 *   fleetprobe_stream_rejected_total{transport,reason}       counter (limit, not_found, invalid, unauthorized)
 * Every label combination exists from the start at zero.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { StreamHub } from './hub.js';
import { DROP_REASONS, REJECT_REASONS, TRANSPORTS } from './types.js';

export function registerStreamMetrics(registry: Registry, hub: StreamHub): void {
  const clients: Gauge<'transport'> = new Gauge({
    name: 'fleetprobe_stream_clients',
    help: 'Live stream subscribers connected (SSE /api/v1/stream, gRPC Telemetry/Subscribe).',
    labelNames: ['transport'],
    registers: [registry],
    collect: () => {
      for (const t of TRANSPORTS) clients.set({ transport: t }, hub.clients(t));
    },
  });
  const events: Counter<'transport'> = new Counter({
    name: 'fleetprobe_stream_events_total',
    help: 'Result and state events sent to live stream subscribers.',
    labelNames: ['transport'],
    registers: [registry],
    collect: () => {
      events.reset();
      for (const t of TRANSPORTS) events.inc({ transport: t }, hub.stats.events[t]);
    },
  });
  const dropped: Counter<'transport' | 'reason'> = new Counter({
    name: 'fleetprobe_stream_dropped_clients_total',
    help: 'Live stream subscribers dropped because they could not keep up (buffer_full: backlog over stream.max_buffer_bytes; stalled: no drain within stream.stall_timeout).',
    labelNames: ['transport', 'reason'],
    registers: [registry],
    collect: () => {
      dropped.reset();
      for (const t of TRANSPORTS) for (const r of DROP_REASONS) dropped.inc({ transport: t, reason: r }, hub.stats.dropped[t][r]);
    },
  });
  const rejected: Counter<'transport' | 'reason'> = new Counter({
    name: 'fleetprobe_stream_rejected_total',
    help: 'Live stream subscriptions refused: limit (stream.max_clients), not_found (unknown target), invalid (bad request), unauthorized (API token).',
    labelNames: ['transport', 'reason'],
    registers: [registry],
    collect: () => {
      rejected.reset();
      for (const t of TRANSPORTS) for (const r of REJECT_REASONS) rejected.inc({ transport: t, reason: r }, hub.stats.rejected[t][r]);
    },
  });
}
