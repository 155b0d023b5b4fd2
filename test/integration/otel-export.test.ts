// OTLP export end to end: the real OTLP exporters (gRPC, protobuf over HTTP, JSON
// over HTTP) posting to a real OTLP receiver on 127.0.0.1 that decodes every request
// with the official opentelemetry-proto schema (test/helpers/otlp-receiver.ts), fed
// from a real TargetStore merged from real batches and a real self-metrics registry.
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { TargetStore } from '../../src/aggregate/store.js';
import { BatchWriter } from '../../src/protocol/batch.js';
import { ErrorReason, HTTP_PHASE_NAMES, ProbeEvent } from '../../src/protocol/events.js';
import { startOtelExport, type OtelExport, type OtelLogger } from '../../src/metrics/otel.js';
import { ConfigError } from '../../src/config/errors.js';
import { OtlpReceiver, TEMPORALITY_CUMULATIVE, TEMPORALITY_DELTA, mergeRequests, metricOf, pointOf, type NRequest } from '../helpers/otlp-receiver.js';

// ---- fixtures -------------------------------------------------------------------

class RecordingLogger implements OtelLogger {
  readonly lines: { level: string; msg: string; obj: object }[] = [];
  info(obj: object, msg: string): void {
    this.lines.push({ level: 'info', msg, obj });
  }
  warn(obj: object, msg: string): void {
    this.lines.push({ level: 'warn', msg, obj });
  }
  error(obj: object, msg: string): void {
    this.lines.push({ level: 'error', msg, obj });
  }
  debug(obj: object, msg: string): void {
    this.lines.push({ level: 'debug', msg, obj });
  }
  at(level: string): string[] {
    return this.lines.filter((l) => l.level === level).map((l) => l.msg);
  }
}

const BUCKETS = [0.001, 0.01, 0.1];

/** Three targets of three kinds, fed through real batches. */
function fleetStore(): TargetStore {
  const store = new TargetStore({ buckets: BUCKETS });
  store.defineSlot(0, { name: 'gw', kind: 'icmp', address: '127.0.0.1', labels: { site: 'lab 1' } });
  store.defineSlot(1, { name: 'echo', kind: 'tcp_echo', address: '127.0.0.1:7' });
  store.defineSlot(2, { name: 'web', kind: 'http', url: 'http://127.0.0.1:8080/' });
  const w = new BatchWriter(16);
  for (let i = 0; i < 5; i++) w.push(0, ProbeEvent.Sent);
  w.push(0, ProbeEvent.Reply, 0, 0, 0.0004);
  w.push(0, ProbeEvent.Reply, 0, 0, 0.002);
  w.push(0, ProbeEvent.Reply, 0, 0, 0.05);
  w.push(0, ProbeEvent.Timeout);
  w.push(0, ProbeEvent.Error, ErrorReason.host_unreachable);
  w.push(1, ProbeEvent.Connect);
  w.push(1, ProbeEvent.Connected, 0, 1);
  w.push(2, ProbeEvent.Sent);
  w.push(2, ProbeEvent.Phase, 0, HTTP_PHASE_NAMES.indexOf('total'), 0.02);
  w.push(2, ProbeEvent.Status, 0, 200);
  store.applyBatch(w.take(0, 1));
  return store;
}

/** The assertions shared by every protocol. */
function checkFleet(r: NRequest): void {
  assert.equal(r.resource['service.name'], 'probe-lab');
  assert.equal(r.resource['deployment.environment'], 'test env');
  assert.match(
    r.resource['service.instance.id'] ?? '',
    /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    'a random UUID v4 per process',
  );
  assert.equal(r.resource['host.name'], hostname());
  assert.equal(r.resource['service.version'], '1.2.3');
  assert.equal(metricOf(r, 'fleetprobe.probe.sent').scope, 'fleetprobe');

  const sent = metricOf(r, 'fleetprobe.probe.sent');
  assert.equal(sent.type, 'sum');
  assert.equal(sent.monotonic, true);
  assert.equal(sent.temporality, 2, 'AGGREGATION_TEMPORALITY_CUMULATIVE');
  assert.equal(sent.unit, '{probe}');
  const gwSent = pointOf(r, 'fleetprobe.probe.sent', { target: 'gw' });
  assert.equal(gwSent.value, 5);
  assert.deepEqual(gwSent.attrs, { target: 'gw', address: '127.0.0.1', kind: 'icmp', site: 'lab 1' });
  assert.ok(gwSent.start > 0n && gwSent.start <= gwSent.time, 'start time set and not after the point time');
  assert.equal(pointOf(r, 'fleetprobe.probe.received', { target: 'gw' }).value, 3);
  assert.equal(pointOf(r, 'fleetprobe.probe.timeouts', { target: 'gw' }).value, 1);
  assert.equal(pointOf(r, 'fleetprobe.probe.errors', { target: 'gw', reason: 'host_unreachable' }).value, 1);
  assert.equal(pointOf(r, 'fleetprobe.probe.errors', { target: 'gw', reason: 'send_failed' }).value, 0);

  const rtt = metricOf(r, 'fleetprobe.probe.rtt');
  assert.equal(rtt.type, 'histogram');
  assert.equal(rtt.unit, 's');
  assert.equal(rtt.temporality, 2);
  const gwRtt = pointOf(r, 'fleetprobe.probe.rtt', { target: 'gw' });
  assert.deepEqual(gwRtt.bounds, BUCKETS);
  assert.deepEqual(gwRtt.counts, [1, 1, 1, 0]);
  assert.equal(gwRtt.count, 3);
  assert.ok(Math.abs(gwRtt.sum! - 0.0524) < 1e-12);

  assert.equal(pointOf(r, 'fleetprobe.probe.last_rtt', { target: 'gw' }).value, 0.05);
  assert.equal(metricOf(r, 'fleetprobe.probe.last_rtt').points.length, 1, 'no last RTT for targets never answered');
  assert.equal(pointOf(r, 'fleetprobe.probe.loss_ratio', { target: 'gw' }).value, 0.4);
  assert.equal(pointOf(r, 'fleetprobe.connects', { target: 'echo' }).value, 1);
  assert.equal(pointOf(r, 'fleetprobe.connected', { target: 'echo' }).value, 1);
  const total = pointOf(r, 'fleetprobe.http.phase', { target: 'web', phase: 'total' });
  assert.deepEqual(total.counts, [0, 0, 1, 0]);
  assert.equal(pointOf(r, 'fleetprobe.http.status_code', { target: 'web' }).value, 200);
  assert.equal(pointOf(r, 'fleetprobe.http.phase', { target: 'web', phase: 'dns' }).count, 0);
}

function envFor(base: string, protocol: string): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: base,
    OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
    OTEL_SERVICE_NAME: 'probe-lab',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test%20env',
    // Long interval: only forceFlush/shutdown export in these tests.
    OTEL_METRIC_EXPORT_INTERVAL: '600000',
    OTEL_METRIC_EXPORT_TIMEOUT: '5000',
  };
}

/** A registry like SelfMetrics': one labelled counter is enough to follow. */
function selfRegistry(): { registry: Registry; restarts: Counter<'worker'> } {
  const registry = new Registry();
  const restarts = new Counter({ name: 'fleetprobe_worker_restarts_total', help: 'restarts', labelNames: ['worker'], registers: [registry] });
  restarts.inc({ worker: '0' }, 2);
  return { registry, restarts };
}

const PROTOCOLS = ['grpc', 'http/protobuf', 'http/json'] as const;

// ---- tests ------------------------------------------------------------------------

describe('OTLP export', () => {
  const receiver = new OtlpReceiver();
  let httpBase: string;
  let grpcBase: string;
  const endpoint = (protocol: string): string => (protocol === 'grpc' ? grpcBase : httpBase);
  before(async () => {
    httpBase = await receiver.listenHttp();
    grpcBase = await receiver.listenGrpc();
  });
  after(() => receiver.close());

  it('starts nothing without OTEL variables, and throws the ConfigError loadConfig would have given for bad ones', () => {
    const logger = new RecordingLogger();
    assert.equal(startOtelExport({ store: fleetStore(), logger, env: {} }), null);
    assert.deepEqual(logger.at('error'), []);
    assert.throws(
      () => startOtelExport({ store: fleetStore(), logger, env: { OTEL_EXPORTER_OTLP_ENDPOINT: httpBase, OTEL_EXPORTER_OTLP_PROTOCOL: 'carrier-pigeon' } }),
      (err: unknown) => err instanceof ConfigError && /OTEL_EXPORTER_OTLP_PROTOCOL: must be one of grpc, http\/protobuf, http\/json/.test(err.message),
    );
    assert.equal(receiver.requests.length, 0);
  });

  for (const protocol of PROTOCOLS) {
    it(`${protocol}: forceFlush sends every series with the store values, and the self metrics, decoded with the official schema`, async () => {
      const from = receiver.requests.length;
      const { registry } = selfRegistry();
      const exp = startOtelExport({
        store: fleetStore(),
        selfRegistry: registry,
        logger: new RecordingLogger(),
        env: envFor(endpoint(protocol), protocol),
        serviceVersion: '1.2.3',
      });
      assert.ok(exp);
      try {
        assert.equal(exp.protocol, protocol);
        assert.equal(exp.url, protocol === 'grpc' ? grpcBase : `${httpBase}/v1/metrics`);
        await exp.forceFlush();
        await receiver.waitFor(from + 1, 5000);
        assert.deepEqual(receiver.decodeErrors, []);
        const got = receiver.requests[from];
        assert.equal(got.protocol, protocol);
        assert.equal(got.path, protocol === 'grpc' ? '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export' : '/v1/metrics');
        checkFleet(got.decoded);
        const restarts = metricOf(got.decoded, 'fleetprobe_worker_restarts');
        assert.equal(restarts.scope, 'fleetprobe.self');
        assert.equal(restarts.type, 'sum');
        assert.equal(restarts.monotonic, true);
        assert.equal(pointOf(got.decoded, 'fleetprobe_worker_restarts', { worker: '0' }).value, 2);
        assert.equal(exp.stats.exports, 1);
        assert.equal(exp.stats.failures, 0);
      } finally {
        await exp.shutdown();
      }
    });
  }

  it('http/protobuf is the default protocol, and OTEL_EXPORTER_OTLP_HEADERS reach the collector (HTTP headers and gRPC metadata)', async () => {
    // Headers are read by the OTLP exporters themselves, from process.env.
    process.env.OTEL_EXPORTER_OTLP_HEADERS = 'x-tenant=fleet%20a';
    try {
      for (const protocol of [undefined, 'grpc'] as const) {
        const from = receiver.requests.length;
        const env = envFor(endpoint(protocol ?? 'http/protobuf'), protocol ?? '');
        if (protocol === undefined) delete env.OTEL_EXPORTER_OTLP_PROTOCOL;
        const exp = startOtelExport({ store: fleetStore(), logger: new RecordingLogger(), env, serviceVersion: '1.2.3' });
        assert.ok(exp);
        try {
          assert.equal(exp.protocol, protocol ?? 'http/protobuf');
          await exp.forceFlush();
          await receiver.waitFor(from + 1, 5000);
          const got = receiver.requests[from];
          if (protocol === undefined) assert.equal(got.headers['content-type'], 'application/x-protobuf');
          assert.equal(got.headers['x-tenant'], 'fleet a', String(protocol));
          checkFleet(got.decoded);
        } finally {
          await exp.shutdown();
        }
      }
    } finally {
      delete process.env.OTEL_EXPORTER_OTLP_HEADERS;
    }
  });

  it('shutdown exports the final values once, then nothing more is sent', async () => {
    const store = fleetStore();
    const exp = startOtelExport({
      store,
      logger: new RecordingLogger(),
      env: { ...envFor(httpBase, 'http/json'), OTEL_METRIC_EXPORT_INTERVAL: '200', OTEL_METRIC_EXPORT_TIMEOUT: '200' },
    });
    assert.ok(exp);
    const w = new BatchWriter(8);
    for (let i = 0; i < 7; i++) w.push(0, ProbeEvent.Sent);
    store.applyBatch(w.take(0, 2));
    const from = receiver.requests.length;
    await exp.shutdown();
    await receiver.waitFor(from + 1, 5000);
    const last = receiver.requests[receiver.requests.length - 1].decoded;
    assert.equal(pointOf(last, 'fleetprobe.probe.sent', { target: 'gw' }).value, 12, 'final value, including the last batch');
    const count = receiver.requests.length;
    await exp.shutdown(); // idempotent
    await exp.forceFlush(); // after shutdown: no export, no throw
    await new Promise((r) => setTimeout(r, 500)); // > 2 intervals: the timer is gone
    assert.equal(receiver.requests.length, count);
  });

  it('exports on its own every OTEL_METRIC_EXPORT_INTERVAL, with cumulative values and a stable start time', async () => {
    const store = fleetStore();
    const from = receiver.requests.length;
    const exp = startOtelExport({
      store,
      logger: new RecordingLogger(),
      env: { ...envFor(httpBase, 'http/json'), OTEL_METRIC_EXPORT_INTERVAL: '150', OTEL_METRIC_EXPORT_TIMEOUT: '150' },
    });
    assert.ok(exp);
    try {
      await receiver.waitFor(from + 1, 3000);
      const w = new BatchWriter(8);
      w.push(0, ProbeEvent.Sent);
      w.push(0, ProbeEvent.Reply, 0, 0, 0.0002);
      store.applyBatch(w.take(0, 2));
      const seen = receiver.requests.length;
      await receiver.waitFor(seen + 1, 3000);
      const first = pointOf(receiver.requests[from].decoded, 'fleetprobe.probe.rtt', { target: 'gw' });
      const later = pointOf(receiver.requests[receiver.requests.length - 1].decoded, 'fleetprobe.probe.rtt', { target: 'gw' });
      assert.equal(metricOf(receiver.requests[from].decoded, 'fleetprobe.probe.rtt').temporality, TEMPORALITY_CUMULATIVE);
      assert.deepEqual(first.counts, [1, 1, 1, 0]);
      assert.deepEqual(later.counts, [2, 1, 1, 0]);
      assert.equal(later.start, first.start, 'cumulative series keep their start time');
      assert.ok(later.time > first.time);
    } finally {
      await exp.shutdown();
    }
  });

  for (const preference of ['delta', 'lowmemory'] as const) {
    it(`${preference} temporality over grpc: every sum and histogram is DELTA, the deltas add up to the totals, intervals tile`, async () => {
      const store = fleetStore();
      const { registry, restarts } = selfRegistry();
      const env = { ...envFor(grpcBase, 'grpc'), OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: preference };
      const exp = startOtelExport({ store, selfRegistry: registry, logger: new RecordingLogger(), env });
      assert.ok(exp);
      const exports: NRequest[] = [];
      try {
        for (let round = 0; round < 4; round++) {
          if (round > 0) {
            const w = new BatchWriter(16);
            for (let i = 0; i < round; i++) w.push(0, ProbeEvent.Sent);
            w.push(0, ProbeEvent.Reply, 0, 0, 0.003 * round);
            if (round === 2) w.push(0, ProbeEvent.Error, ErrorReason.refused);
            store.applyBatch(w.take(0, 3));
            restarts.inc({ worker: '0' });
          }
          const from = receiver.requests.length;
          await exp.forceFlush();
          await receiver.waitFor(from + 1, 5000);
          exports.push(mergeRequests(receiver.since(from).map((r) => r.decoded)));
        }
      } finally {
        await exp.shutdown();
      }
      for (const e of exports) {
        for (const m of e.metrics) {
          if (m.type === 'sum' || m.type === 'histogram') assert.equal(m.temporality, TEMPORALITY_DELTA, `${m.name} is DELTA`);
        }
      }
      // A series whose delta is 0 may be left out (an error reason the kind does not always show).
      const sum = (name: string, match: Record<string, string>, pick: (p: ReturnType<typeof pointOf>) => number): number =>
        exports.reduce((acc, e) => {
          const ps = e.metrics.find((m) => m.name === name)?.points.filter((p) => Object.entries(match).every(([k, v]) => p.attrs[k] === v)) ?? [];
          return acc + ps.reduce((a, p) => a + pick(p), 0);
        }, 0);
      assert.equal(
        sum('fleetprobe.probe.sent', { target: 'gw' }, (p) => p.value!),
        5 + 1 + 2 + 3,
      );
      assert.deepEqual(
        exports.map((e) => pointOf(e, 'fleetprobe.probe.sent', { target: 'gw' }).value),
        [5, 1, 2, 3],
      );
      assert.equal(
        sum('fleetprobe.probe.errors', { target: 'gw', reason: 'refused' }, (p) => p.value!),
        1,
      );
      assert.equal(
        sum('fleetprobe.probe.rtt', { target: 'gw' }, (p) => p.count!),
        3 + 3,
      );
      assert.equal(
        sum('fleetprobe_worker_restarts', { worker: '0' }, (p) => p.value!),
        2 + 3,
        'self metrics are delta too',
      );
      for (let i = 1; i < exports.length; i++) {
        const prev = pointOf(exports[i - 1], 'fleetprobe.probe.sent', { target: 'gw' });
        const cur = pointOf(exports[i], 'fleetprobe.probe.sent', { target: 'gw' });
        assert.equal(cur.start, prev.time, 'each delta starts where the previous one ended');
      }
      // Gauges stay gauges: the newest value.
      assert.equal(pointOf(exports[3], 'fleetprobe.probe.last_rtt', { target: 'gw' }).value, 0.003 * 3);
    });
  }

  it('a rejecting collector is counted and logged once per failure streak, and recovery is logged', async () => {
    const logger = new RecordingLogger();
    const exp = startOtelExport({ store: fleetStore(), logger, env: envFor(httpBase, 'http/json') });
    assert.ok(exp);
    try {
      receiver.status = 400; // not retryable: the exporter reports the failure at once
      await exp.forceFlush();
      await exp.forceFlush();
      assert.equal(exp.stats.failures, 2);
      assert.equal(exp.stats.exports, 0);
      assert.match(exp.stats.lastError ?? '', /400/);
      assert.deepEqual(logger.at('error'), ['OTLP metrics export failed']);
      receiver.status = 200;
      await exp.forceFlush();
      assert.equal(exp.stats.exports, 1);
      assert.ok(logger.at('info').includes('OTLP metrics export recovered'));
    } finally {
      receiver.status = 200;
      await exp.shutdown();
    }
  });
});

/** A TCP listener that accepts connections and reads everything, and never answers. */
async function blackhole(): Promise<{ url: string; connections: () => number; close(): Promise<void> }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const srv = createTcpServer((s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.resume();
  });
  await new Promise<void>((resolve) => srv.listen({ host: '127.0.0.1', port: 0 }, resolve));
  return {
    url: `http://127.0.0.1:${(srv.address() as { port: number }).port}`,
    connections: () => connections,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
}

describe('a collector that never answers', () => {
  for (const protocol of PROTOCOLS) {
    it(`${protocol}: no new export is built while a request of the previous one is pending; the intervals in between are skipped and counted`, async () => {
      const hole = await blackhole();
      // The request timeout is read by the exporter from process.env: 1.2 s, against
      // an export every 100 ms that gives up waiting after 100 ms.
      process.env.OTEL_EXPORTER_OTLP_TIMEOUT = '1200';
      let exp: OtelExport | null = null;
      try {
        exp = startOtelExport({
          store: fleetStore(),
          logger: new RecordingLogger(),
          env: {
            OTEL_EXPORTER_OTLP_ENDPOINT: hole.url,
            OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
            OTEL_METRIC_EXPORT_INTERVAL: '100',
            OTEL_METRIC_EXPORT_TIMEOUT: '100',
          },
        });
        assert.ok(exp);
        const stats = exp.stats;
        await new Promise((r) => setTimeout(r, 3000));
        // ~30 ticks in 3 s; each request stays open 1.2 s, so at most 3–4 exports can
        // have been built (without the gate: one per tick, up to the transport's limit of 30).
        const built = stats.exports + stats.failures;
        assert.ok(stats.skipped >= 15, `${stats.skipped} intervals skipped`);
        assert.ok(built >= 1 && built <= 4, `${built} export requests ended in 3 s`);
        assert.equal(stats.exports, 0);
      } finally {
        delete process.env.OTEL_EXPORTER_OTLP_TIMEOUT;
        await exp?.shutdown(500);
        await hole.close();
      }
    });
  }
});
