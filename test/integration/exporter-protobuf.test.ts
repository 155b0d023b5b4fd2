/**
 * The real CLI (child process, ICMP to loopback; needs root) answers /metrics in the
 * protobuf exposition when the Accept header asks for it, in the text format otherwise,
 * gzip for both; and metrics.classic_histograms changed by a SIGHUP reload applies to
 * the next scrape.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { ExporterProcess, NEEDS_ROOT, tempDir, waitFor } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';
import { decodeDelimited, labelsOf, nativeBuckets, type PbFamily } from '../helpers/prom-protobuf.js';

const PROMETHEUS_ACCEPT =
  'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2';

test('protobuf by Accept, text by default, gzip for both; metrics.classic_histograms applies at reload', { skip: NEEDS_ROOT, timeout: 60_000 }, async (t) => {
  const dir = tempDir('fp-protobuf');
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const config = (classic: boolean): string =>
    dir.file('c.yaml', {
      workers: 1,
      flush_interval: '100ms',
      web: { listen_address: listen },
      metrics: { classic_histograms: classic },
      probe_defaults: { interval: '100ms', timeout: '500ms' },
      targets: [{ name: 'lo', address: '127.0.0.1', labels: { rack: 'r1' } }],
    });
  const exp = new ExporterProcess(['run', '--config', config(true)], listen);
  t.after(async () => {
    await exp.stop(2000);
    dir.cleanup();
  });
  await exp.waitReady(15_000);

  const protobuf = async (): Promise<PbFamily[]> => {
    const r = await exp.request('/metrics', { headers: { accept: PROMETHEUS_ACCEPT } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited');
    return decodeDelimited(r.body);
  };
  const rtt = (fams: PbFamily[]) => fams.find((f) => f.name === 'fleetprobe_probe_rtt_seconds')!.metric[0];

  const fams = await waitFor(
    'answered probes in the protobuf exposition',
    async () => {
      const f = await protobuf();
      return (rtt(f).histogram?.sample_count ?? 0) >= 5 && f;
    },
    15_000,
    200,
  );
  const h = rtt(fams).histogram!;
  assert.deepEqual(labelsOf(rtt(fams)), { target: 'lo', address: '127.0.0.1', kind: 'icmp', rack: 'r1' });
  assert.equal(h.schema, 3);
  assert.ok((h.bucket ?? []).length > 0, 'classic buckets (default on)');
  let native = h.zero_count ?? 0;
  for (const c of nativeBuckets(h).values()) native += c;
  assert.equal(native, h.sample_count, 'native buckets count every answer');
  assert.ok(
    fams.some((f) => f.name === 'fleetprobe_workers'),
    'self metrics too',
  );

  const text = await exp.request('/metrics');
  assert.match(text.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  assert.match(text.text(), /^fleetprobe_probe_rtt_seconds_bucket\{target="lo",/m);
  const star = await exp.request('/metrics', { headers: { accept: '*/*' } });
  assert.match(star.headers['content-type'], /^text\/plain/);

  const gz = await exp.request('/metrics', { headers: { accept: PROMETHEUS_ACCEPT, 'accept-encoding': 'gzip' } });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.ok(decodeDelimited(gunzipSync(gz.body)).some((f) => f.name === 'fleetprobe_probe_rtt_seconds'));

  config(false);
  exp.signal('SIGHUP');
  const after = await waitFor(
    'the RTT histogram without classic buckets after the reload',
    async () => {
      const f = await protobuf();
      return (rtt(f).histogram!.bucket ?? []).length === 0 && f;
    },
    15_000,
    200,
  );
  assert.ok((rtt(after).histogram!.sample_count ?? 0) >= (h.sample_count ?? 0), 'counters carried on');
  assert.ok(nativeBuckets(rtt(after).histogram!).size > 0, 'still native');
});
