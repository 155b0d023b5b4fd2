/**
 * The Node stand-ins of the k6 scripts against a real exporter on loopback: the network
 * guard passes when the on-demand test is clean and fails (exit 1, naming the threshold)
 * when a threshold cannot hold; the tests-API load starts tests that end done and reads
 * the stream. No privilege needed: the on-demand tests are tcp connects to the exporter's
 * own web port, and the "system under load" is its /healthz.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExporterProcess, REPO_ROOT, tempDir } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

function standIn(script: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'dist/load-tests', script), ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test(
  'k6 stand-ins: network-guard passes on a clean path and fails on a broken threshold; ondemand-api-load runs tests to done',
  { timeout: 120_000 },
  async (t) => {
    const dir = tempDir('fp-k6');
    const port = await freePort();
    const listen = `127.0.0.1:${port}`;
    const cfg = dir.file('c.yaml', {
      workers: 1,
      flush_interval: '100ms',
      web: { listen_address: listen },
      responder: { tcp_echo: 'off', udp_echo: 'off', http: 'off' },
      targets: [{ name: 'self', kind: 'tcp', address: listen }],
    });
    const exp = new ExporterProcess(['run', '--config', cfg], listen);
    t.after(async () => {
      await exp.stop(3000);
      dir.cleanup();
    });
    await exp.waitReady(20_000);
    const url = `http://${listen}`;
    const common = [
      '--fleetprobe',
      url,
      '--sut',
      `${url}/healthz`,
      '--address',
      listen,
      '--kind',
      'tcp',
      '--interval-ms',
      '50',
      '--duration',
      '2s',
      '--concurrency',
      '2',
    ];

    const ok = standIn('network-guard.js', [...common, '--max-loss', '0', '--max-rtt-p99-ms', '1000']);
    assert.equal(ok.code, 0, ok.stderr + ok.stdout);
    const report = JSON.parse(ok.stdout) as {
      load: { requests: number; failed: number };
      test: { state: string; result: { sent: number; received: number } };
      failures: string[];
    };
    assert.equal(report.test.state, 'done');
    assert.ok(report.test.result.sent >= 30 && report.test.result.received === report.test.result.sent, JSON.stringify(report.test.result));
    assert.ok(report.load.requests > 0 && report.load.failed === 0, JSON.stringify(report.load));

    // An RTT p99 under 0 ms cannot hold: the run fails and says why.
    const broken = standIn('network-guard.js', [...common, '--max-rtt-p99-ms', '0']);
    assert.equal(broken.code, 1, broken.stderr);
    assert.match(broken.stderr, /network-guard: RTT p99 [\d.]+ ms above --max-rtt-p99-ms 0/);

    const load = standIn('ondemand-api-load.js', [
      '--url',
      url,
      '--address',
      listen,
      '--kind',
      'tcp',
      '--tests-per-s',
      '4',
      '--stream-clients',
      '2',
      '--duration',
      '3s',
    ]);
    assert.equal(load.code, 0, load.stderr);
    const l = JSON.parse(load.stdout) as {
      endpoints: Record<string, { requests: number; errors: number }>;
      tests: { started: number; refused_429: number; ended: Record<string, number> };
    };
    assert.ok(l.tests.started >= 1, JSON.stringify(l.tests));
    assert.equal(l.tests.ended.done, l.tests.started, `every started test ends done: ${JSON.stringify(l.tests)}`);
    assert.equal(l.tests.started + l.tests.refused_429, l.endpoints.tests_start.requests, 'every start is answered 202 or 429');
    assert.ok(l.endpoints.stream_once.requests > 0 && l.endpoints.stream_once.errors === 0, JSON.stringify(l.endpoints.stream_once));
  },
);
