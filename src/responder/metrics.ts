/**
 * Responder counters. The hot paths (one call per TCP read, per datagram, per HTTP
 * request) only add to numbers in ResponderStats (in the responder thread);
 * prom-client, in the main thread, reads a snapshot of them in collect() at scrape
 * time, so no label hashing happens per frame and nothing runs on a timer.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { Proto, REJECT_PAIRS, REJECT_REASONS, RESPONDER_PROTOCOLS, type Reject } from './limits.js';

/** Where each counter lives in ResponderStats.values. */
const TCP_CONNECTIONS_OPEN = 0;
const TCP_CONNECTIONS_TOTAL = 1;
const TCP_FRAMES = 2;
const UDP_DATAGRAMS = 3;
const HTTP_REQUESTS = 4;
const UDP_SEND_ERRORS = 5;
const BYTES = 6;
const REJECTED = BYTES + RESPONDER_PROTOCOLS.length;
/** Float64 slots of one ResponderStats. */
export const RESPONDER_STATS_LENGTH = REJECTED + RESPONDER_PROTOCOLS.length * REJECT_REASONS.length;

/**
 * The responder's counters as one Float64Array, so that they can live in a
 * SharedArrayBuffer the main thread owns: the responder thread adds to them, and a
 * replacement thread after a crash continues from the same memory (thread.ts,
 * thread-supervisor.ts). Accessors keep the hot paths readable (`stats.tcpFrames++`);
 * V8 inlines them.
 */
export class ResponderStats {
  /** Bytes sent back, indexed by Proto (a view into `values`). */
  readonly bytes: Float64Array;
  /** Refusals, indexed by proto * REJECT_REASONS.length + reason (a view into `values`). */
  readonly rejected: Float64Array;

  constructor(readonly values: Float64Array = new Float64Array(RESPONDER_STATS_LENGTH)) {
    if (values.length !== RESPONDER_STATS_LENGTH) throw new RangeError(`responder stats need ${RESPONDER_STATS_LENGTH} slots, got ${values.length}`);
    this.bytes = values.subarray(BYTES, REJECTED);
    this.rejected = values.subarray(REJECTED);
  }

  /** Open TCP echo connections (a gauge). */
  get tcpConnectionsOpen(): number {
    return this.values[TCP_CONNECTIONS_OPEN];
  }
  set tcpConnectionsOpen(v: number) {
    this.values[TCP_CONNECTIONS_OPEN] = v;
  }
  get tcpConnectionsTotal(): number {
    return this.values[TCP_CONNECTIONS_TOTAL];
  }
  set tcpConnectionsTotal(v: number) {
    this.values[TCP_CONNECTIONS_TOTAL] = v;
  }
  get tcpFrames(): number {
    return this.values[TCP_FRAMES];
  }
  set tcpFrames(v: number) {
    this.values[TCP_FRAMES] = v;
  }
  get udpDatagrams(): number {
    return this.values[UDP_DATAGRAMS];
  }
  set udpDatagrams(v: number) {
    this.values[UDP_DATAGRAMS] = v;
  }
  get httpRequests(): number {
    return this.values[HTTP_REQUESTS];
  }
  set httpRequests(v: number) {
    this.values[HTTP_REQUESTS] = v;
  }
  /** UDP sends the kernel refused (ENOBUFS, EAGAIN...): logged at debug, counted here. */
  get udpSendErrors(): number {
    return this.values[UDP_SEND_ERRORS];
  }
  set udpSendErrors(v: number) {
    this.values[UDP_SEND_ERRORS] = v;
  }

  reject(proto: Proto, reason: Reject): void {
    this.rejected[proto * REJECT_REASONS.length + reason]++;
  }

  rejectedCount(proto: Proto, reason: Reject): number {
    return this.rejected[proto * REJECT_REASONS.length + reason];
  }
}

/**
 * Where the metrics read the counters at scrape time: a snapshot (possibly taken
 * by asking another thread, hence a promise) and the responder thread's restarts.
 */
export interface ResponderStatsSource {
  snapshot(): ResponderStats | Promise<ResponderStats>;
  restarts(): number;
}

/** Counter whose value is copied from the snapshot at scrape time. */
function mirroredCounter(registry: Registry, source: ResponderStatsSource, name: string, help: string, read: (s: ResponderStats) => number): Counter {
  return new Counter({
    name,
    help,
    registers: [registry],
    async collect() {
      const stats = await source.snapshot();
      // The stats are the source of truth; reset+inc is how a prom-client Counter is
      // set (it has no set()), done after the await so no scrape sees 0.
      this.reset();
      this.inc(read(stats));
    },
  });
}

/** Register the fleetprobe_responder_* metrics on `registry` (once per registry); returns their names. */
export function registerResponderMetrics(registry: Registry, source: ResponderStatsSource): string[] {
  const before = new Set(registry.getMetricsAsArray().map((m) => m.name));
  const added = () =>
    registry
      .getMetricsAsArray()
      .map((m) => m.name)
      .filter((name) => !before.has(name));
  try {
    createResponderMetrics(registry, source);
  } catch (err) {
    // A name already registered: leave the registry as it was.
    for (const name of added()) registry.removeSingleMetric(name);
    throw err;
  }
  return added();
}

function createResponderMetrics(registry: Registry, source: ResponderStatsSource): void {
  new Gauge({
    name: 'fleetprobe_responder_connections',
    help: 'Open TCP echo connections.',
    registers: [registry],
    async collect() {
      this.set((await source.snapshot()).tcpConnectionsOpen);
    },
  });
  mirroredCounter(
    registry,
    source,
    'fleetprobe_responder_connections_total',
    'TCP echo connections admitted (after the allowlist, the per-source rate and the connection limit).',
    (s) => s.tcpConnectionsTotal,
  );
  mirroredCounter(registry, source, 'fleetprobe_responder_frames_total', 'TCP echo 16-byte frames echoed.', (s) => s.tcpFrames);
  mirroredCounter(registry, source, 'fleetprobe_responder_datagrams_total', 'UDP echo datagrams echoed.', (s) => s.udpDatagrams);
  mirroredCounter(registry, source, 'fleetprobe_responder_http_requests_total', 'HTTP GET /v1/ping requests answered with 200.', (s) => s.httpRequests);
  new Counter({
    name: 'fleetprobe_responder_bytes_total',
    help: 'Payload bytes sent back (echoed frames and datagrams, HTTP ping bodies).',
    labelNames: ['protocol'],
    registers: [registry],
    async collect() {
      const stats = await source.snapshot();
      this.reset();
      for (let p = 0; p < RESPONDER_PROTOCOLS.length; p++) this.inc({ protocol: RESPONDER_PROTOCOLS[p] }, stats.bytes[p]);
    },
  });
  new Counter({
    name: 'fleetprobe_responder_rejected_total',
    help: 'Connections, datagrams and requests refused or dropped, by protocol and reason.',
    labelNames: ['protocol', 'reason'],
    registers: [registry],
    async collect() {
      const stats = await source.snapshot();
      this.reset();
      for (const [proto, reason] of REJECT_PAIRS) {
        this.inc({ protocol: RESPONDER_PROTOCOLS[proto], reason: REJECT_REASONS[reason] }, stats.rejectedCount(proto, reason));
      }
    },
  });
  mirroredCounter(registry, source, 'fleetprobe_responder_udp_send_errors_total', 'UDP echoes the kernel refused to send.', (s) => s.udpSendErrors);
  new Counter({
    name: 'fleetprobe_responder_restarts_total',
    help: 'Times the responder thread was restarted after it crashed (or failed to listen again).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(source.restarts());
    },
  });
}
