/**
 * fleetprobe_otlp_exports_total{result} and the last-success timestamp, read from
 * /metrics of a real exporter (in this process, real worker threads), follow what a
 * real OTLP receiver on loopback answers: 200, then 400.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { scrapeMetrics, waitFor, type Metrics } from '../helpers/exporter-process.js';
import { startTcpExporter } from '../helpers/tcp-exporter.js';

test('fleetprobe_otlp_exports_total counts successful and failed OTLP requests', { timeout: 30_000 }, async (t) => {
  // A real OTLP/HTTP receiver: accepts the first two requests, then rejects with 400.
  let requests = 0;
  const receiver = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      res.writeHead(requests <= 2 ? 200 : 400, { 'content-type': 'application/json' }).end(requests <= 2 ? '{}' : '{"message":"rejected by the test"}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen({ host: '127.0.0.1', port: 0 }, resolve));
  t.after(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
  const endpoint = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
  const startedAt = Date.now() / 1000;
  const exporter = await startTcpExporter(
    t,
    'fp-otlp-count',
    { workers: 1 },
    {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_METRIC_EXPORT_INTERVAL: '300',
      OTEL_METRIC_EXPORT_TIMEOUT: '300',
    },
  );
  const scrape = (): Promise<Metrics> => scrapeMetrics(`${exporter.url}/metrics`);

  const ok = await waitFor(
    'two successful exports',
    async () => {
      const m = await scrape();
      return (m.value('fleetprobe_otlp_exports_total', { result: 'success' }) ?? 0) >= 2 && m;
    },
    10_000,
    50,
  );
  const lastOk = ok.value('fleetprobe_otlp_last_export_success_timestamp_seconds') ?? 0;
  assert.ok(lastOk >= startedAt && lastOk <= Date.now() / 1000, `last success ${lastOk} is during this test`);

  const failed = await waitFor(
    'two failed exports',
    async () => {
      const m = await scrape();
      return (m.value('fleetprobe_otlp_exports_total', { result: 'failure' }) ?? 0) >= 2 && m;
    },
    10_000,
    50,
  );
  assert.equal(failed.value('fleetprobe_otlp_exports_total', { result: 'success' }), 2, 'the receiver accepted exactly two');
  assert.equal(failed.value('fleetprobe_otlp_last_export_success_timestamp_seconds'), lastOk, 'failures leave the last success time alone');
  // The receiver counts a request before its answer reaches the exporter: at most one is in flight.
  const counted = failed.value('fleetprobe_otlp_exports_total', { result: 'success' })! + failed.value('fleetprobe_otlp_exports_total', { result: 'failure' })!;
  assert.ok(counted <= requests && counted >= requests - 1, `every request the receiver answered is counted once (${counted} counted, ${requests} received)`);
});
