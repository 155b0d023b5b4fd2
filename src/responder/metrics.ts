/**
 * Responder counters. The hot paths (one call per TCP read, per datagram, per HTTP
 * request) only add to plain numbers in ResponderStats; prom-client reads them in
 * collect() at scrape time, so no label hashing happens per frame.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { Proto, REJECT_PAIRS, REJECT_REASONS, RESPONDER_PROTOCOLS, type Reject } from './limits.js';

export class ResponderStats {
  tcpConnectionsOpen = 0;
  tcpConnectionsTotal = 0;
  tcpFrames = 0;
  udpDatagrams = 0;
  httpRequests = 0;
  /** Bytes sent back, indexed by Proto. */
  readonly bytes = new Float64Array(RESPONDER_PROTOCOLS.length);
  /** Refusals, indexed by proto * REJECT_REASONS.length + reason. */
  readonly rejected = new Float64Array(RESPONDER_PROTOCOLS.length * REJECT_REASONS.length);
  /** UDP sends the kernel refused (ENOBUFS, EAGAIN...): logged at debug, counted here. */
  udpSendErrors = 0;

  reject(proto: Proto, reason: Reject): void {
    this.rejected[proto * REJECT_REASONS.length + reason]++;
  }

  rejectedCount(proto: Proto, reason: Reject): number {
    return this.rejected[proto * REJECT_REASONS.length + reason];
  }
}

/** Counter whose value is copied from `read()` at scrape time. */
function mirroredCounter(registry: Registry, name: string, help: string, read: () => number): Counter {
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      // The stats object is the source of truth; reset+inc is how a prom-client
      // Counter is set (it has no set()), done synchronously so no scrape sees 0.
      this.reset();
      this.inc(read());
    },
  });
}

/** Register the fleetprobe_responder_* metrics on `registry` (once per registry); returns their names. */
export function registerResponderMetrics(registry: Registry, stats: ResponderStats): string[] {
  const before = new Set(registry.getMetricsAsArray().map((m) => m.name));
  const added = () =>
    registry
      .getMetricsAsArray()
      .map((m) => m.name)
      .filter((name) => !before.has(name));
  try {
    createResponderMetrics(registry, stats);
  } catch (err) {
    // A name already registered: leave the registry as it was.
    for (const name of added()) registry.removeSingleMetric(name);
    throw err;
  }
  return added();
}

function createResponderMetrics(registry: Registry, stats: ResponderStats): void {
  new Gauge({
    name: 'fleetprobe_responder_connections',
    help: 'Open TCP echo connections.',
    registers: [registry],
    collect() {
      this.set(stats.tcpConnectionsOpen);
    },
  });
  mirroredCounter(
    registry,
    'fleetprobe_responder_connections_total',
    'TCP echo connections admitted (after the allowlist and the connection limit).',
    () => stats.tcpConnectionsTotal,
  );
  mirroredCounter(registry, 'fleetprobe_responder_frames_total', 'TCP echo 16-byte frames echoed.', () => stats.tcpFrames);
  mirroredCounter(registry, 'fleetprobe_responder_datagrams_total', 'UDP echo datagrams echoed.', () => stats.udpDatagrams);
  mirroredCounter(
    registry,
    'fleetprobe_responder_http_requests_total',
    'HTTP GET /v1/ping requests answered with 200.',
    () => stats.httpRequests,
  );
  new Counter({
    name: 'fleetprobe_responder_bytes_total',
    help: 'Payload bytes sent back (echoed frames and datagrams, HTTP ping bodies).',
    labelNames: ['protocol'],
    registers: [registry],
    collect() {
      this.reset();
      for (let p = 0; p < RESPONDER_PROTOCOLS.length; p++) this.inc({ protocol: RESPONDER_PROTOCOLS[p] }, stats.bytes[p]);
    },
  });
  new Counter({
    name: 'fleetprobe_responder_rejected_total',
    help: 'Connections, datagrams and requests refused or dropped, by protocol and reason.',
    labelNames: ['protocol', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [proto, reason] of REJECT_PAIRS) {
        this.inc(
          { protocol: RESPONDER_PROTOCOLS[proto], reason: REJECT_REASONS[reason] },
          stats.rejectedCount(proto, reason),
        );
      }
    },
  });
  mirroredCounter(
    registry,
    'fleetprobe_responder_udp_send_errors_total',
    'UDP echoes the kernel refused to send.',
    () => stats.udpSendErrors,
  );
}
