// OTLP export end to end: the real OTLP/HTTP exporters (JSON and protobuf)
// posting to a tiny OTLP receiver on 127.0.0.1, fed from a real TargetStore
// merged from real batches. The receiver decodes both encodings into one
// normalized shape so the same assertions check both.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { TargetStore } from '../../src/aggregate/store.js';
import { BatchWriter } from '../../src/protocol/batch.js';
import { ErrorReason, HTTP_PHASE_NAMES, ProbeEvent } from '../../src/protocol/events.js';
import { startOtelExport, type OtelLogger } from '../../src/metrics/otel.js';

// ---- normalized OTLP request --------------------------------------------------

interface NPoint {
  attrs: Record<string, string>;
  start: bigint;
  time: bigint;
  value?: number;
  count?: number;
  sum?: number;
  counts?: number[];
  bounds?: number[];
}
interface NMetric {
  name: string;
  unit: string;
  type: 'sum' | 'gauge' | 'histogram';
  monotonic?: boolean;
  temporality?: number;
  points: NPoint[];
}
interface NRequest {
  resource: Record<string, string>;
  metrics: NMetric[];
}
interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  decoded: NRequest;
}

// --- OTLP/JSON -----------------------------------------------------------------

type JsonKv = { key: string; value: { stringValue?: string } };
const jsonAttrs = (kvs: JsonKv[] | undefined): Record<string, string> => Object.fromEntries((kvs ?? []).map((kv) => [kv.key, String(kv.value.stringValue)]));

function decodeJson(body: Buffer): NRequest {
  const req = JSON.parse(body.toString('utf8'));
  const out: NRequest = { resource: {}, metrics: [] };
  for (const rm of req.resourceMetrics) {
    Object.assign(out.resource, jsonAttrs(rm.resource?.attributes));
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics) {
        const type = m.sum ? 'sum' : m.gauge ? 'gauge' : 'histogram';
        const body = m.sum ?? m.gauge ?? m.histogram;
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        const points: NPoint[] = body.dataPoints.map((p: any) => ({
          attrs: jsonAttrs(p.attributes),
          start: BigInt(p.startTimeUnixNano),
          time: BigInt(p.timeUnixNano),
          value: p.asInt !== undefined ? Number(p.asInt) : p.asDouble !== undefined ? Number(p.asDouble) : undefined,
          count: p.count !== undefined ? Number(p.count) : undefined,
          sum: p.sum,
          counts: p.bucketCounts?.map(Number),
          bounds: p.explicitBounds,
        }));
        out.metrics.push({ name: m.name, unit: m.unit, type, monotonic: body.isMonotonic, temporality: body.aggregationTemporality, points });
      }
    }
  }
  return out;
}

// --- OTLP/protobuf: a minimal wire-format reader for the fields checked here ---

type Field = { n: number; wt: number; v: bigint | Buffer };
function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): bigint => {
    let r = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[i++];
      r |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return r;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const n = key >>> 3;
    const wt = key & 7;
    if (wt === 0) out.push({ n, wt, v: varint() });
    else if (wt === 1) {
      out.push({ n, wt, v: buf.subarray(i, i + 8) });
      i += 8;
    } else if (wt === 2) {
      const len = Number(varint());
      out.push({ n, wt, v: buf.subarray(i, i + len) });
      i += len;
    } else if (wt === 5) {
      out.push({ n, wt, v: buf.subarray(i, i + 4) });
      i += 4;
    } else throw new Error(`unsupported wire type ${wt}`);
  }
  return out;
}
const all = (fs: Field[], n: number): Buffer[] => fs.filter((f) => f.n === n).map((f) => f.v as Buffer);
const one = (fs: Field[], n: number): Field | undefined => fs.find((f) => f.n === n);
const str = (fs: Field[], n: number): string => ((one(fs, n)?.v as Buffer | undefined) ?? Buffer.alloc(0)).toString('utf8');
const f64 = (b: Buffer): number => b.readDoubleLE(0);
const u64 = (b: Buffer): bigint => b.readBigUInt64LE(0);
function pbAttrs(kvs: Buffer[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of kvs) {
    const f = fields(kv);
    out[str(f, 1)] = str(fields(one(f, 2)!.v as Buffer), 1); // AnyValue.string_value
  }
  return out;
}
function packed(b: Buffer | undefined, read: (x: Buffer) => number): number[] {
  const out: number[] = [];
  if (b !== undefined) for (let o = 0; o < b.length; o += 8) out.push(read(b.subarray(o, o + 8)));
  return out;
}

function decodeProtobuf(body: Buffer): NRequest {
  const out: NRequest = { resource: {}, metrics: [] };
  for (const rm of all(fields(body), 1)) {
    const rmf = fields(rm);
    const res = one(rmf, 1);
    if (res !== undefined) Object.assign(out.resource, pbAttrs(all(fields(res.v as Buffer), 1)));
    for (const sm of all(rmf, 2)) {
      for (const mb of all(fields(sm), 2)) {
        const mf = fields(mb);
        const name = str(mf, 1);
        const unit = str(mf, 3);
        const gauge = one(mf, 5);
        const sum = one(mf, 7);
        const hist = one(mf, 9);
        if (hist !== undefined) {
          const hf = fields(hist.v as Buffer);
          const points = all(hf, 1).map((pb): NPoint => {
            const pf = fields(pb);
            return {
              attrs: pbAttrs(all(pf, 9)),
              start: u64(one(pf, 2)!.v as Buffer),
              time: u64(one(pf, 3)!.v as Buffer),
              count: Number(u64(one(pf, 4)!.v as Buffer)),
              sum: one(pf, 5) ? f64(one(pf, 5)!.v as Buffer) : undefined,
              counts: packed(one(pf, 6)?.v as Buffer | undefined, (x) => Number(u64(x))),
              bounds: packed(one(pf, 7)?.v as Buffer | undefined, f64),
            };
          });
          out.metrics.push({ name, unit, type: 'histogram', temporality: Number(one(hf, 2)?.v ?? 0n), points });
          continue;
        }
        const body = fields(((sum ?? gauge)!.v as Buffer));
        const points = all(body, 1).map((pb): NPoint => {
          const pf = fields(pb);
          const asDouble = one(pf, 4);
          const asInt = one(pf, 6);
          return {
            attrs: pbAttrs(all(pf, 7)),
            start: u64(one(pf, 2)!.v as Buffer),
            time: u64(one(pf, 3)!.v as Buffer),
            value: asDouble ? f64(asDouble.v as Buffer) : asInt ? Number((asInt.v as Buffer).readBigInt64LE(0)) : 0,
          };
        });
        out.metrics.push({
          name,
          unit,
          type: sum ? 'sum' : 'gauge',
          monotonic: sum ? one(body, 3)?.v === 1n : undefined,
          temporality: sum ? Number(one(body, 2)?.v ?? 0n) : undefined,
          points,
        });
      }
    }
  }
  return out;
}

// ---- receiver -------------------------------------------------------------------

class OtlpReceiver {
  readonly requests: Received[] = [];
  /** HTTP status to answer with (a real collector rejecting data). */
  status = 200;
  private server: Server;
  private waiters: (() => void)[] = [];

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        if (this.status === 200 && req.method === 'POST') {
          const ct = req.headers['content-type'] ?? '';
          const decoded = ct.includes('json') ? decodeJson(body) : decodeProtobuf(body);
          this.requests.push({ path: req.url ?? '', headers: req.headers, body, decoded });
        }
        res.statusCode = this.status;
        res.setHeader('content-type', req.headers['content-type'] ?? 'application/json');
        // An empty ExportMetricsServiceResponse is valid in both encodings.
        res.end(req.headers['content-type']?.includes('json') ? '{}' : '');
        for (const w of this.waiters.splice(0)) w();
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolve once `count` requests have been stored, or reject after `ms`. */
  async waitFor(count: number, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.requests.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`receiver got ${this.requests.length} requests, wanted ${count}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

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

function metricOf(r: NRequest, name: string): NMetric {
  const m = r.metrics.find((x) => x.name === name);
  assert.ok(m, `no ${name} in ${r.metrics.map((x) => x.name).join(', ')}`);
  return m;
}
function pointOf(r: NRequest, name: string, attrs: Record<string, string>): NPoint {
  const ps = metricOf(r, name).points.filter((p) => Object.entries(attrs).every(([k, v]) => p.attrs[k] === v));
  assert.equal(ps.length, 1, `${name} ${JSON.stringify(attrs)}`);
  return ps[0];
}

/** The assertions shared by both encodings. */
function checkFleet(r: NRequest): void {
  assert.equal(r.resource['service.name'], 'probe-lab');
  assert.equal(r.resource['deployment.environment'], 'test env');
  assert.ok(r.resource['service.instance.id'], 'service.instance.id set');

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

// ---- tests ------------------------------------------------------------------------

describe('OTLP export', () => {
  let receiver: OtlpReceiver;
  let base: string;
  before(async () => {
    receiver = new OtlpReceiver();
    base = await receiver.listen();
  });
  after(() => receiver.close());

  it('starts nothing without OTEL variables, and refuses grpc with an error log', () => {
    const logger = new RecordingLogger();
    assert.equal(startOtelExport({ store: fleetStore(), logger, env: {} }), null);
    assert.deepEqual(logger.at('error'), []);
    assert.equal(startOtelExport({ store: fleetStore(), logger, env: { OTEL_EXPORTER_OTLP_ENDPOINT: base, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' } }), null);
    assert.match(logger.at('error')[0], /grpc is not supported/);
    assert.equal(receiver.requests.length, 0);
  });

  it('http/json: forceFlush posts every series with the store values to /v1/metrics', async () => {
    const from = receiver.requests.length;
    const logger = new RecordingLogger();
    const exp = startOtelExport({ store: fleetStore(), logger, env: envFor(base, 'http/json') });
    assert.ok(exp);
    try {
      assert.equal(exp.url, `${base}/v1/metrics`);
      assert.equal(exp.protocol, 'http/json');
      await exp.forceFlush();
      await receiver.waitFor(from + 1, 5000);
      const got = receiver.requests[from];
      assert.equal(got.path, '/v1/metrics');
      assert.match(String(got.headers['content-type']), /^application\/json/);
      checkFleet(got.decoded);
      assert.equal(exp.stats.exports, 1);
      assert.equal(exp.stats.failures, 0);
    } finally {
      await exp.shutdown();
    }
  });

  it('http/protobuf: the default protocol posts the same series as protobuf, with OTEL_EXPORTER_OTLP_HEADERS', async () => {
    const from = receiver.requests.length;
    const env = envFor(base, '');
    delete env.OTEL_EXPORTER_OTLP_PROTOCOL; // http/protobuf is the default
    // Headers are read by the OTLP exporter itself, from process.env.
    process.env.OTEL_EXPORTER_OTLP_HEADERS = 'x-tenant=fleet%20a';
    const exp = startOtelExport({ store: fleetStore(), logger: new RecordingLogger(), env });
    assert.ok(exp);
    try {
      assert.equal(exp.protocol, 'http/protobuf');
      await exp.forceFlush();
      await receiver.waitFor(from + 1, 5000);
      const got = receiver.requests[from];
      assert.equal(got.headers['content-type'], 'application/x-protobuf');
      assert.equal(got.headers['x-tenant'], 'fleet a');
      assert.ok(got.body.length > 500, `protobuf body of ${got.body.length} bytes`);
      checkFleet(got.decoded);
    } finally {
      await exp.shutdown();
      delete process.env.OTEL_EXPORTER_OTLP_HEADERS;
    }
  });

  it('shutdown exports the final values once, then nothing more is sent', async () => {
    const store = fleetStore();
    const exp = startOtelExport({ store, logger: new RecordingLogger(), env: { ...envFor(base, 'http/json'), OTEL_METRIC_EXPORT_INTERVAL: '200', OTEL_METRIC_EXPORT_TIMEOUT: '200' } });
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
    const exp = startOtelExport({ store, logger: new RecordingLogger(), env: { ...envFor(base, 'http/json'), OTEL_METRIC_EXPORT_INTERVAL: '150', OTEL_METRIC_EXPORT_TIMEOUT: '150' } });
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
      assert.deepEqual(first.counts, [1, 1, 1, 0]);
      assert.deepEqual(later.counts, [2, 1, 1, 0]);
      assert.equal(later.start, first.start, 'cumulative series keep their start time');
      assert.ok(later.time > first.time);
    } finally {
      await exp.shutdown();
    }
  });

  it('a rejecting collector is counted and logged once per failure streak, and recovery is logged', async () => {
    const logger = new RecordingLogger();
    const exp = startOtelExport({ store: fleetStore(), logger, env: envFor(base, 'http/json') });
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
