/**
 * The k6 scripts cannot run here (k6 is not installable), so the suite checks what it can:
 * they type-check against @types/k6, their shared loopback and bounds rules hold, and the
 * Node stand-ins apply the same thresholds and refuse non-loopback addresses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../helpers/exporter-process.js';
import { judge, parseNetworkGuardArgs } from '../../load-tests/network-guard.js';
import { parseOnDemandLoadArgs } from '../../load-tests/ondemand-api-load.js';
import type { OnDemandTestView } from '../../load-tests/ondemand-client.js';

interface K6Lib {
  loopbackUrl(url: string, name: string): string;
  boundedNumber(raw: string | undefined, dflt: number, min: number, max: number, name: string): number;
  apiHeaders(token: string | undefined): Record<string, string>;
}
const lib = (await import(pathToFileURL(join(REPO_ROOT, 'k6/lib/fleetprobe.js')).href)) as K6Lib;

test('every k6 script type-checks against @types/k6', { timeout: 120_000 }, () => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(REPO_ROOT, 'k6/tsconfig.json')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('k6 scripts: URLs must be on loopback; numbers are bounded', () => {
  assert.equal(lib.loopbackUrl('http://127.0.0.1:9798/', 'X'), 'http://127.0.0.1:9798');
  assert.equal(lib.loopbackUrl('http://127.3.2.1/v1/ping', 'X'), 'http://127.3.2.1/v1/ping');
  assert.equal(lib.loopbackUrl('https://[::1]:9798', 'X'), 'https://[::1]:9798');
  assert.equal(lib.loopbackUrl('http://localhost:1', 'X'), 'http://localhost:1');
  for (const bad of ['http://10.0.0.1:9798', 'http://128.0.0.1', 'http://example.com', 'http://127.0.0.1.example.com', 'ftp://127.0.0.1', '127.0.0.1:9798']) {
    assert.throws(() => lib.loopbackUrl(bad, 'SUT_URL'), /SUT_URL must be an http\(s\) URL on loopback/, bad);
  }
  assert.equal(lib.boundedNumber(undefined, 4, 1, 64, 'VUS'), 4);
  assert.equal(lib.boundedNumber('8', 4, 1, 64, 'VUS'), 8);
  for (const bad of ['0', '65', 'many', 'Infinity']) assert.throws(() => lib.boundedNumber(bad, 4, 1, 64, 'VUS'), /VUS must be a number from 1 to 64/);
  assert.deepEqual(lib.apiHeaders(undefined), { 'Content-Type': 'application/json' });
  assert.equal(lib.apiHeaders('t0k').Authorization, 'Bearer t0k');
});

const done = (loss: number, p99: number | null): OnDemandTestView => ({
  id: 'x',
  state: 'done',
  result: { sent: 100, received: 100 - loss * 100, loss_ratio: loss, rtt_seconds: { min: 0, avg: 0, max: 0, p50: 0, p90: 0, p99 } },
});

test('network-guard stand-in: the thresholds k6 teardown applies', () => {
  assert.deepEqual(judge(done(0, 0.001), 0.01, 50), []);
  assert.deepEqual(judge(done(0.01, 0.05), 0.01, 50), [], 'at the thresholds passes');
  assert.match(judge(done(0.02, 0.001), 0.01, 50).join(), /loss 0.02 above --max-loss 0.01/);
  assert.match(judge(done(0, 0.051), 0.01, 50).join(), /RTT p99 51 ms above/);
  assert.match(judge(done(1, null), 0.01, 50).join(), /RTT p99 null ms/, 'no reply at all fails on RTT too');
  assert.match(judge(null, 0.01, 50).join(), /did not finish: no answer/);
  assert.match(judge({ id: 'x', state: 'cancelled' }, 0.01, 50).join(), /did not finish: cancelled/);
});

test('the stand-ins refuse anything off loopback and unbounded runs', () => {
  assert.equal(parseNetworkGuardArgs([]).sut, 'http://127.0.0.1:9800/v1/ping');
  assert.throws(() => parseNetworkGuardArgs(['--sut', 'http://192.0.2.1/']), /--sut must be a loopback/);
  assert.throws(() => parseNetworkGuardArgs(['--fleetprobe', 'http://example.com']), /--fleetprobe must be a loopback/);
  assert.throws(() => parseNetworkGuardArgs(['--address', '10.1.1.1']), /--address must be on loopback/);
  assert.throws(() => parseNetworkGuardArgs(['--duration', '11m']), /at most 10m/);
  assert.throws(() => parseOnDemandLoadArgs(['--url', 'http://10.0.0.1:9798']), /--url must be a loopback/);
  assert.throws(() => parseOnDemandLoadArgs(['--tests-per-s', '500']), /1\.\.200/);
  assert.equal(parseOnDemandLoadArgs(['--stream-clients', '0']).streamClients, 0);
});
