import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { Registry, Counter } from 'prom-client';
import { BatchWriter } from '../../src/protocol/batch.js';
import { ProbeEvent } from '../../src/protocol/events.js';
import { TargetStore } from '../../src/aggregate/store.js';
import { PROMETHEUS_TEXT_CONTENT_TYPE, acceptsGzip, readBody, renderMetrics } from '../../src/metrics/scrape.js';
import { renderExpositionText } from '../../src/metrics/exposition.js';
import { parsePrometheusText } from '../../src/metrics/text-parse.js';

function storeWith(n: number): TargetStore {
  const st = new TargetStore();
  for (let s = 0; s < n; s++) st.defineSlot(s, { name: `t${s}`, kind: 'icmp', address: '127.0.0.1', labels: {} });
  return st;
}

test('acceptsGzip reads Accept-Encoding including q-values and wildcards', () => {
  assert.equal(acceptsGzip(undefined), false);
  assert.equal(acceptsGzip(''), false);
  assert.equal(acceptsGzip('gzip'), true);
  assert.equal(acceptsGzip('deflate, GZIP;q=0.5'), true);
  assert.equal(acceptsGzip('gzip;q=0'), false);
  assert.equal(acceptsGzip('identity'), false);
  assert.equal(acceptsGzip('*'), true);
  assert.equal(acceptsGzip(['br', 'x-gzip']), true);
});

test('plain response: text content type, self metrics first, then the per-target families', async () => {
  const st = storeWith(3);
  const reg = new Registry();
  new Counter({ name: 'selftest_things_total', help: 'x', registers: [reg] }).inc(2);
  const r = await renderMetrics(st, reg, { gzip: false });
  assert.equal(r.headers['content-type'], PROMETHEUS_TEXT_CONTENT_TYPE);
  assert.equal(r.headers['content-encoding'], undefined);
  const text = (await readBody(r.body)).toString('utf8');
  assert.ok(text.startsWith('# HELP selftest_things_total'));
  assert.ok(text.endsWith(renderExpositionText(st.snapshot())));
  const { samples } = parsePrometheusText(text);
  assert.equal(samples.find((s) => s.name === 'selftest_things_total')!.value, 2);
  assert.equal(samples.filter((s) => s.name === 'fleetprobe_probe_sent_total').length, 3);
});

test('gzip response decompresses to the same body and says content-encoding gzip', async () => {
  const st = storeWith(2000);
  const plain = (await readBody((await renderMetrics(st, undefined, { gzip: false })).body)).toString('utf8');
  const r = await renderMetrics(st, undefined, { gzip: true });
  assert.equal(r.headers['content-encoding'], 'gzip');
  const gz = await readBody(r.body);
  assert.ok(gz.length < plain.length / 10, `gzip ${gz.length} vs ${plain.length}`);
  assert.equal(gunzipSync(gz).toString('utf8'), plain);
});

test('the body is the store as of the render call, not including later merges', async () => {
  const st = storeWith(1);
  const r = await renderMetrics(st, undefined, { gzip: false });
  const w = new BatchWriter(2);
  w.push(0, ProbeEvent.Sent);
  st.applyBatch(w.take(0, 1));
  const text = (await readBody(r.body)).toString('utf8');
  const sent = parsePrometheusText(text).samples.find((s) => s.name === 'fleetprobe_probe_sent_total')!;
  assert.equal(sent.value, 0);
  assert.equal(st.snapshot().sent[0], 1);
});

test('an empty store and no registry give an empty, valid body', async () => {
  const r = await renderMetrics(new TargetStore(), undefined, { gzip: false });
  assert.equal((await readBody(r.body)).length, 0);
});
