import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { BatchWriter } from '../../src/protocol/batch.js';
import { ProbeEvent } from '../../src/protocol/events.js';
import { TargetStore } from '../../src/aggregate/store.js';
import { bucketIndexFor, type ExpHistogramColumnsView } from '../../src/aggregate/exp-histogram.js';
import { renderExpositionText } from '../../src/metrics/exposition.js';
import { PROTOBUF_CONTENT_TYPE, protobufChunks, selfMetricsProtobuf, type SelfMetricJson } from '../../src/metrics/protobuf-exposition.js';
import { PROMETHEUS_TEXT_CONTENT_TYPE, acceptedFormat, readBody, renderMetrics } from '../../src/metrics/scrape.js';
import { parsePrometheusText, type Sample } from '../../src/metrics/text-parse.js';
import { ProtoWriter } from '../../src/metrics/proto-writer.js';
import { varintSize } from '../../src/values/varint.js';
import { populatedStore } from '../helpers/populated-store.js';
import { decodeDelimited, labelsOf, nativeBuckets, seriesKey, type PbFamily, type PbMetric } from '../helpers/prom-protobuf.js';

function textIndex(samples: Sample[]): Map<string, number> {
  return new Map(samples.map((s) => [seriesKey(s.name, s.labels), s.value]));
}

function sameNumber(a: number, b: number, what: string): void {
  if (Number.isNaN(b)) assert.ok(Number.isNaN(a), `${what}: ${a}, want NaN`);
  else assert.equal(a, b, what);
}

function decodeStore(st: TargetStore, classicHistograms = true): PbFamily[] {
  return decodeDelimited(Buffer.concat([...protobufChunks(st.snapshot(), { classicHistograms })]));
}

test("Accept: protobuf only when Prometheus' delimited MetricFamily type outranks every text type; text is the default", () => {
  // What Prometheus 2.42 sends with --enable-feature=native-histograms, and without.
  assert.equal(
    acceptedFormat('application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2'),
    'protobuf',
  );
  assert.equal(
    acceptedFormat('application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'),
    'text',
  );
  assert.equal(acceptedFormat(undefined), 'text');
  assert.equal(acceptedFormat('*/*'), 'text', 'curl');
  assert.equal(acceptedFormat(''), 'text');
  assert.equal(acceptedFormat('application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited'), 'protobuf');
  assert.equal(
    acceptedFormat('application/vnd.google.protobuf;proto="io.prometheus.client.MetricFamily";encoding="delimited"'),
    'protobuf',
    'quoted parameters',
  );
  assert.equal(acceptedFormat('application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text'), 'text', 'not the delimited encoding');
  assert.equal(acceptedFormat('application/vnd.google.protobuf;proto=other.Message;encoding=delimited'), 'text');
  assert.equal(acceptedFormat('application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0'), 'text', 'q=0 refuses');
  assert.equal(
    acceptedFormat('text/plain, application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited'),
    'text',
    'a tie keeps text',
  );
  assert.equal(
    acceptedFormat(['text/plain;q=0.1', 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5']),
    'protobuf',
  );
});

test('ProtoWriter: varints of every size, zigzag, and a message whose length needs two bytes', () => {
  for (const v of [0, 1, 127, 128, 16383, 16384, 2 ** 31, 2 ** 53 - 1]) {
    const w = new ProtoWriter(4);
    w.varint(v);
    const b = w.take();
    assert.equal(b.length, varintSize(v), `size of ${v}`);
    let x = 0;
    for (let i = b.length - 1; i >= 0; i--) x = x * 128 + (b[i] & 0x7f);
    assert.equal(x, v);
  }
  const w = new ProtoWriter(8);
  w.svarint(-1);
  w.svarint(1);
  w.svarint(-64);
  assert.deepEqual([...w.take()], [1, 2, 127]);
  const mark = w.begin(1);
  for (let i = 0; i < 200; i++) w.raw(new Uint8Array([i]));
  w.end(mark);
  const b = w.take();
  assert.deepEqual([...b.subarray(0, 3)], [0x0a, (200 & 0x7f) | 0x80, 1]);
  assert.equal(b.length, 3 + 200);
  assert.equal(b[3 + 199], 199);
});

test("the protobuf exposition has exactly the text exposition's series and values (populated store, every kind)", () => {
  const st = populatedStore();
  const text = parsePrometheusText(renderExpositionText(st.snapshot()));
  const want = textIndex(text.samples);
  const fams = decodeStore(st);
  assert.deepEqual(
    fams.map((f) => f.name),
    [...text.types.keys()],
    'same families, same order',
  );
  let seen = 0;
  for (const f of fams) {
    assert.equal(f.type, text.types.get(f.name)!.toUpperCase(), f.name);
    assert.equal(f.help, text.help.get(f.name), f.name);
    for (const m of f.metric) {
      const labels = labelsOf(m);
      if (f.type === 'HISTOGRAM') {
        const h = m.histogram!;
        sameNumber(h.sample_count ?? 0, want.get(seriesKey(`${f.name}_count`, labels))!, `${f.name}_count ${JSON.stringify(labels)}`);
        sameNumber(h.sample_sum ?? 0, want.get(seriesKey(`${f.name}_sum`, labels))!, `${f.name}_sum`);
        const buckets = h.bucket ?? [];
        assert.equal(buckets.length, st.snapshot().buckets.length, 'one classic bucket per bound (+Inf is the count)');
        for (const b of buckets) {
          const le = String(b.upper_bound);
          const w = text.samples.find(
            (s) =>
              s.name === `${f.name}_bucket` &&
              Number(s.labels.le) === b.upper_bound &&
              seriesKey('', { ...s.labels, le: '' }) === seriesKey('', { ...labels, le: '' }),
          );
          assert.ok(w, `${f.name} le=${le} in the text`);
          assert.equal(b.cumulative_count ?? 0, w.value, `${f.name}_bucket le=${le}`);
        }
        seen += buckets.length + 3; // + the +Inf bucket, _sum, _count
      } else {
        const v = (f.type === 'COUNTER' ? m.counter : m.gauge)!.value;
        const w = want.get(seriesKey(f.name, labels));
        assert.ok(w !== undefined, `${f.name} ${JSON.stringify(labels)} in the text`);
        sameNumber(v ?? 0, w, `${f.name} ${JSON.stringify(labels)}`);
        seen++;
      }
    }
  }
  assert.equal(seen, text.samples.length, 'every text sample accounted for');
});

function rttFamily(fams: PbFamily[]): PbFamily {
  return fams.find((f) => f.name === 'fleetprobe_probe_rtt_seconds')!;
}

test("the RTT histogram carries its native histogram: schema, zero threshold, buckets equal to the store's, count = zero + buckets", () => {
  const st = new TargetStore({ initialSlots: 4 });
  st.defineSlot(0, { name: 'a', kind: 'icmp', address: '127.0.0.1', labels: {} });
  st.defineSlot(1, { name: 'b', kind: 'icmp', address: '127.0.0.2', labels: {} });
  st.defineSlot(2, { name: 'wide', kind: 'icmp', address: '127.0.0.3', labels: {} });
  const rtts = [0.00004, 0.00005, 0.00005, 0.00012, 0.0008, 0.00004];
  const wide = [0.00001, 2, 0.3, 0.00002, 0]; // a downscale, and a 0 in the zero bucket
  const w = new BatchWriter(64);
  for (const v of rtts) w.push(0, ProbeEvent.Reply, 0, 0, v);
  for (const v of wide) w.push(2, ProbeEvent.Reply, 0, 0, v);
  st.applyBatch(w.take(0, 1));
  const snap = st.snapshot();
  const native = snap.rttNative as ExpHistogramColumnsView;
  const fam = rttFamily(decodeStore(st));
  assert.equal(fam.type, 'HISTOGRAM');
  const byTarget = new Map(fam.metric.map((m) => [labelsOf(m).target, m]));
  const a = byTarget.get('a')!.histogram!;
  assert.equal(a.schema, 3);
  assert.equal(a.zero_threshold, 2 ** -128);
  assert.equal(a.sample_count, rtts.length);
  const wantA = new Map<number, number>();
  for (const v of rtts) wantA.set(bucketIndexFor(v, 3), (wantA.get(bucketIndexFor(v, 3)) ?? 0) + 1);
  assert.deepEqual(nativeBuckets(a), wantA);

  const b = byTarget.get('b')!.histogram!;
  assert.equal(b.sample_count ?? 0, 0);
  assert.ok((b.zero_threshold ?? 0) > 0, 'an empty histogram is still native (what Prometheus looks for)');
  assert.equal(nativeBuckets(b).size, 0);

  const c = byTarget.get('wide')!.histogram!;
  assert.equal(c.schema, native.schema[2]);
  assert.ok(native.schema[2] < 3, 'downscaled');
  assert.equal(c.zero_count, 1);
  let total = c.zero_count ?? 0;
  for (const n of nativeBuckets(c).values()) total += n;
  assert.equal(total, wide.length);
  assert.equal(c.sample_count, wide.length);
  for (const v of wide.filter((x) => x > 0)) assert.ok(nativeBuckets(c).has(bucketIndexFor(v, native.schema[2])), `${v} in its bucket`);
});

test('metrics.classic_histograms off: the RTT histogram is native only; the classic-only phase histograms keep their buckets', () => {
  const st = populatedStore();
  const on = decodeStore(st, true);
  const off = decodeStore(st, false);
  for (const m of rttFamily(on).metric) assert.ok((m.histogram!.bucket ?? []).length > 0);
  for (const m of rttFamily(off).metric) {
    assert.equal((m.histogram!.bucket ?? []).length, 0);
    assert.ok((m.histogram!.zero_threshold ?? 0) > 0);
  }
  const phase = (fams: PbFamily[]): PbMetric[] => fams.find((f) => f.name === 'fleetprobe_http_phase_seconds')?.metric ?? [];
  assert.ok(phase(off).length > 0);
  for (const m of phase(off)) assert.ok((m.histogram!.bucket ?? []).length > 0);
  assert.deepEqual(phase(off), phase(on));
});

test('self metrics: counters, gauges, histograms and summaries of a prom-client registry', async () => {
  const reg = new Registry();
  new Counter({ name: 'x_total', help: 'a counter', labelNames: ['k'], registers: [reg] }).inc({ k: 'v' }, 3);
  new Gauge({ name: 'g', help: 'a gauge', registers: [reg] }).set(-2.5);
  const h = new Histogram({ name: 'h_seconds', help: 'a histogram', buckets: [0.1, 1], labelNames: ['p'], registers: [reg] });
  h.observe({ p: 'a' }, 0.05);
  h.observe({ p: 'a' }, 0.5);
  h.observe({ p: 'a' }, 5);
  h.observe({ p: 'b' }, 0.2);
  const s = new Summary({ name: 's', help: 'a summary', percentiles: [0.5], registers: [reg] });
  s.observe(4);
  const fams = decodeDelimited(selfMetricsProtobuf((await reg.getMetricsAsJSON()) as unknown as SelfMetricJson[]));
  const by = new Map(fams.map((f) => [f.name, f]));
  assert.deepEqual([...by.keys()], ['x_total', 'g', 'h_seconds', 's']);
  assert.equal(by.get('x_total')!.type, 'COUNTER');
  assert.deepEqual(labelsOf(by.get('x_total')!.metric[0]), { k: 'v' });
  assert.equal(by.get('x_total')!.metric[0].counter!.value, 3);
  assert.equal(by.get('g')!.metric[0].gauge!.value, -2.5);
  const ha = by.get('h_seconds')!.metric.find((m) => labelsOf(m).p === 'a')!.histogram!;
  assert.deepEqual(labelsOf(by.get('h_seconds')!.metric.find((m) => labelsOf(m).p === 'a')!), { p: 'a' }, 'no le label');
  assert.equal(ha.sample_count, 3);
  assert.equal(ha.sample_sum, 5.55);
  assert.deepEqual(
    ha.bucket!.map((b) => [b.upper_bound, b.cumulative_count]),
    [
      [0.1, 1],
      [1, 2],
    ],
  );
  const hb = by.get('h_seconds')!.metric.find((m) => labelsOf(m).p === 'b')!.histogram!;
  assert.equal(hb.sample_count, 1);
  const sm = by.get('s')!.metric[0].summary!;
  assert.equal(sm.sample_count, 1);
  assert.equal(sm.sample_sum, 4);
  assert.deepEqual(sm.quantile, [{ quantile: 0.5, value: 4 }]);
});

test('renderMetrics: protobuf when asked (content type, self metrics first, gzip too), text otherwise', async () => {
  const st = new TargetStore();
  st.defineSlot(0, { name: 't0', kind: 'icmp', address: '127.0.0.1', labels: {} });
  const reg = new Registry();
  new Counter({ name: 'fleetprobe_self_total', help: 'self', registers: [reg] }).inc();
  const pb = await renderMetrics(st, reg, { gzip: false, format: 'protobuf' });
  assert.equal(pb.headers['content-type'], PROTOBUF_CONTENT_TYPE);
  const fams = decodeDelimited(await readBody(pb.body));
  assert.equal(fams[0].name, 'fleetprobe_self_total');
  assert.ok(fams.some((f) => f.name === 'fleetprobe_probe_rtt_seconds'));
  const gz = await renderMetrics(st, reg, { gzip: true, format: 'protobuf' });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.deepEqual(
    decodeDelimited(gunzipSync(await readBody(gz.body))).map((f) => f.name),
    fams.map((f) => f.name),
  );
  const text = await renderMetrics(st, reg, { gzip: false });
  assert.equal(text.headers['content-type'], PROMETHEUS_TEXT_CONTENT_TYPE);
  assert.match((await readBody(text.body)).toString(), /^# HELP fleetprobe_self_total/);
});
