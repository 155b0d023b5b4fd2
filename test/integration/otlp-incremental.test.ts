/**
 * The OTLP export built one request at a time, against a real OTLP/HTTP (http/json)
 * collector on loopback that this test controls (answers, refuses or holds a request),
 * with delta temporality over a filled in-memory store:
 *  - one request at a time, never above the batch size, every series once per export;
 *  - a request that does not answer within OTEL_METRIC_EXPORT_TIMEOUT ends the export
 *    after it: the points not built yet are not sent then, and go with the next export
 *    (their increase since their previous point): summed over everything the collector
 *    received, every series equals the store's cumulative value (the code before this
 *    change advanced every series at the snapshot and lost them);
 *  - a request refused by the collector does not end the export, and its increases
 *    count as exported (documented): the next points start where it ended, so no
 *    series' intervals overlap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { TargetStore } from '../../src/aggregate/store.js';
import { BatchWriter } from '../../src/protocol/batch.js';
import { ErrorReason, ProbeEvent } from '../../src/protocol/events.js';
import { startOtelExport, type OtelExport } from '../../src/metrics/otel.js';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { StoreMetricProducer } from '../../src/metrics/otel-producer.js';

const TARGETS = 60;
const BATCH = 50;

/** What the collector does with request number n (1-based, over the test). */
type Reply = 'ok' | 'refuse' | 'hold';

interface JsonPoint {
  attributes: { key: string; value: { stringValue?: string } }[];
  startTimeUnixNano: string;
  timeUnixNano: string;
  asInt?: string | number;
  asDouble?: number;
  count?: string | number;
  sum?: number;
}
interface JsonMetric {
  name: string;
  sum?: { dataPoints: JsonPoint[] };
  gauge?: { dataPoints: JsonPoint[] };
  histogram?: { dataPoints: JsonPoint[] };
}
interface Received {
  n: number;
  reply: Reply;
  points: { key: string; kind: 'sum' | 'gauge' | 'histogram'; p: JsonPoint }[];
}

async function collector(plan: (n: number) => Reply): Promise<{ url: string; got: Received[]; maxOpen: () => number; close(): Promise<void> }> {
  const got: Received[] = [];
  const held: ServerResponse[] = [];
  let open = 0;
  let maxOpen = 0;
  const srv = createServer((req: IncomingMessage, res: ServerResponse) => {
    open++;
    maxOpen = Math.max(maxOpen, open);
    res.on('close', () => open--);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = got.length + 1;
      const reply = plan(n);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceMetrics: { scopeMetrics: { metrics: JsonMetric[] }[] }[];
      };
      const points: Received['points'] = [];
      for (const rm of body.resourceMetrics)
        for (const sm of rm.scopeMetrics)
          for (const m of sm.metrics)
            for (const kind of ['sum', 'gauge', 'histogram'] as const)
              for (const p of m[kind]?.dataPoints ?? []) {
                const attrs = p.attributes
                  .map((a) => `${a.key}=${a.value.stringValue ?? ''}`)
                  .sort()
                  .join(',');
                points.push({ key: `${m.name}|${attrs}`, kind, p });
              }
      got.push({ n, reply, points });
      if (reply === 'hold') held.push(res);
      else if (reply === 'refuse') res.writeHead(400, { 'content-type': 'application/json' }).end('{}');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => srv.listen({ host: '127.0.0.1', port: 0 }, resolve));
  return {
    url: `http://127.0.0.1:${(srv.address() as { port: number }).port}/v1/metrics`,
    got,
    maxOpen: () => maxOpen,
    close: async () => {
      for (const r of held) r.destroy();
      srv.closeAllConnections();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
}

function fleet(): TargetStore {
  const store = new TargetStore({ buckets: [0.001, 0.01, 0.1] });
  for (let s = 0; s < TARGETS; s++)
    store.defineSlot(s, { name: `t${s}`, kind: s % 2 === 0 ? 'icmp' : 'tcp', address: s % 2 === 0 ? '127.0.0.1' : '127.0.0.1:80' });
  return store;
}

/** Some of everything, different each round. */
function record(store: TargetStore, round: number): void {
  const w = new BatchWriter(TARGETS * 8);
  for (let s = 0; s < TARGETS; s++) {
    for (let i = 0; i <= (s + round) % 3; i++) {
      w.push(s, ProbeEvent.Sent);
      w.push(s, ProbeEvent.Reply, 0, 0, 0.0005 * (1 + ((s * 7 + round + i) % 40)));
    }
    if ((s + round) % 5 === 0) w.push(s, ProbeEvent.Timeout);
    if ((s + round) % 7 === 0) w.push(s, ProbeEvent.Error, ErrorReason.refused);
  }
  store.applyBatch(w.take(0, 1));
}

function start(store: TargetStore, url: string, extra: Record<string, string> = {}): OtelExport {
  const silent = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };
  const otel = startOtelExport({
    store,
    logger: silent,
    maxExportBatchSize: BATCH,
    env: {
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
      OTEL_METRIC_EXPORT_INTERVAL: '3600000',
      ...extra,
    },
  });
  assert.ok(otel !== null);
  return otel;
}

const nanos = (x: string): bigint => BigInt(x);
const num = (v: string | number | undefined): number => (v === undefined ? 0 : Number(v));
/** A sum point's value, or a histogram point's count. */
const value = (r: Received['points'][number]): number =>
  r.kind === 'histogram' ? num(r.p.count) : r.p.asInt !== undefined ? num(r.p.asInt) : num(r.p.asDouble);

/** Series key → cumulative value now (sum value or histogram count), from the store itself. */
function cumulative(store: TargetStore): Map<string, number> {
  const out = new Map<string, number>();
  for (const sm of new StoreMetricProducer(store).collectScopeMetrics())
    for (const m of sm.metrics) {
      if (m.dataPointType === DataPointType.GAUGE) continue;
      for (const p of m.dataPoints) {
        const attrs = Object.entries(p.attributes)
          .map(([k, v]) => `${k}=${String(v)}`)
          .sort()
          .join(',');
        const v = p.value as number | { count: number };
        out.set(`${m.descriptor.name}|${attrs}`, typeof v === 'number' ? v : v.count);
      }
    }
  return out;
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('one request at a time, at most the batch size, every series once per export', async () => {
  const c = await collector(() => 'ok');
  const store = fleet();
  record(store, 0);
  const otel = start(store, c.url);
  try {
    await otel.forceFlush();
    const total = c.got.reduce((n, r) => n + r.points.length, 0);
    assert.ok(c.got.length >= 10, `requests: ${c.got.length}`);
    assert.equal(c.got.length, Math.ceil(total / BATCH));
    for (const r of c.got.slice(0, -1)) assert.equal(r.points.length, BATCH);
    assert.equal(c.maxOpen(), 1, 'never two requests open at once');
    const keys = c.got.flatMap((r) => r.points.map((p) => p.key));
    assert.equal(new Set(keys).size, keys.length, 'a series twice in one export');
    assert.equal(otel.stats.exports, c.got.length);
  } finally {
    await otel.shutdown();
    await c.close();
  }
});

test('delta: a request that times out ends the export; the points not built go with the next export, nothing lost or sent twice', async () => {
  // Request 3 is held (read, never answered): the export ends at OTEL_METRIC_EXPORT_TIMEOUT,
  // the transport drops it at OTEL_EXPORTER_OTLP_TIMEOUT.
  const c = await collector((n) => (n === 3 ? 'hold' : 'ok'));
  const store = fleet();
  record(store, 0);
  // The transport reads its timeout from process.env itself (otel-exporter.ts).
  const saved = process.env.OTEL_EXPORTER_OTLP_TIMEOUT;
  process.env.OTEL_EXPORTER_OTLP_TIMEOUT = '800';
  const otel = start(store, c.url, { OTEL_METRIC_EXPORT_TIMEOUT: '400', OTEL_EXPORTER_OTLP_TIMEOUT: '800' });
  if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_TIMEOUT;
  else process.env.OTEL_EXPORTER_OTLP_TIMEOUT = saved;
  try {
    await otel.forceFlush();
    assert.equal(c.got.length, 3, 'the export ended with the request that timed out');
    const first = c.got.length;
    await until(() => !otel.exporting(), 5000);
    record(store, 1);
    await otel.forceFlush();
    assert.ok(c.got.length > first + 3, 'the next export sent the rest');
    // Every point the collector saw (the held request's too: it was received), summed per series.
    const sums = new Map<string, number>();
    for (const r of c.got) for (const p of r.points) if (p.kind !== 'gauge') sums.set(p.key, (sums.get(p.key) ?? 0) + value(p));
    const want = cumulative(store);
    assert.ok(want.size > 3 * BATCH);
    for (const [k, v] of want) assert.equal(sums.get(k) ?? 0, v, k);
    // And a series left out of the first export starts at its slot's start in the second (not at the first snapshot).
    const firstKeys = new Set(c.got.slice(0, first).flatMap((r) => r.points.map((p) => p.key)));
    const later = c.got
      .slice(first)
      .flatMap((r) => r.points)
      .filter((p) => p.kind !== 'gauge' && !firstKeys.has(p.key));
    assert.ok(later.length > 0);
    const firstEnd = c.got[0].points[0].p.timeUnixNano;
    for (const p of later) assert.ok(nanos(p.p.startTimeUnixNano) < nanos(firstEnd), `${p.key} starts before the first export`);
  } finally {
    await otel.shutdown();
    await c.close();
  }
});

test('delta: a refused request does not end the export, and its increases count as sent (the intervals never overlap)', async () => {
  const c = await collector((n) => (n === 2 ? 'refuse' : 'ok'));
  const store = fleet();
  record(store, 0);
  const otel = start(store, c.url);
  try {
    await otel.forceFlush();
    const first = c.got.length;
    const total = c.got.reduce((n, r) => n + r.points.length, 0);
    assert.equal(first, Math.ceil(total / BATCH), 'every request of the export was sent');
    assert.equal(otel.stats.failures, 1);
    record(store, 1);
    await otel.forceFlush();
    // Per series, its points' intervals tile: each starts where the previous ended.
    const bySeries = new Map<string, JsonPoint[]>();
    for (const r of c.got) for (const p of r.points) if (p.kind !== 'gauge') bySeries.set(p.key, [...(bySeries.get(p.key) ?? []), p.p]);
    const refused = new Set(c.got[1].points.map((p) => p.key));
    let checked = 0;
    for (const [k, pts] of bySeries) {
      if (pts.length < 2) continue;
      assert.equal(pts[1].startTimeUnixNano, pts[0].timeUnixNano, k);
      if (refused.has(k)) checked++;
    }
    assert.ok(checked > 0, 'series of the refused request were checked');
  } finally {
    await otel.shutdown();
    await c.close();
  }
});
