// A k6 load test that also proves the network was healthy while it ran: setup() asks
// fleetprobe for an on-demand test toward the system under load, the VUs load it, and
// teardown() fetches the test's result and fails the run (exit code 110) when the loss
// or the RTT p99 broke a threshold. A slow answer under load then points at the
// application, not the network, or the other way round.
//
// NEEDS k6 (not installable here; see k6/README or the README's Benchmarks section).
// The Node stand-in doing the same: node dist/load-tests/network-guard.js (same variables as flags).
//
//   k6 run -e FLEETPROBE_URL=http://127.0.0.1:9798 -e SUT_URL=http://127.0.0.1:9800/v1/ping \
//          -e TEST_ADDRESS=127.0.0.1 -e TEST_KIND=icmp -e DURATION=30s k6/network-guard.js
//
// Variables: FLEETPROBE_URL (fleetprobe's web address), SUT_URL (what the VUs GET),
// TEST_TARGET (a configured target's name) or TEST_ADDRESS + TEST_KIND (a new one),
// TEST_INTERVAL_MS (default 100), VUS (1-64, default 4), DURATION (default 30s; the test
// sends DURATION / TEST_INTERVAL_MS probes), MAX_LOSS (ratio, default 0.01),
// MAX_RTT_P99_MS (default 50), FLEETPROBE_API_TOKEN (when the exporter has api.token).
// Loopback only: every URL is checked (project network-safety rule).
import http from 'k6/http';
import exec from 'k6/execution';
import { check, sleep } from 'k6';
import { apiHeaders, boundedNumber, loopbackUrl } from './lib/fleetprobe.js';

const FLEETPROBE = loopbackUrl(__ENV.FLEETPROBE_URL || 'http://127.0.0.1:9798', 'FLEETPROBE_URL');
const SUT = loopbackUrl(__ENV.SUT_URL || 'http://127.0.0.1:9800/v1/ping', 'SUT_URL');
const VUS = boundedNumber(__ENV.VUS, 4, 1, 64, 'VUS');
const DURATION_S = boundedNumber((__ENV.DURATION || '30s').replace(/s$/, ''), 30, 1, 3600, 'DURATION (seconds)');
const INTERVAL_MS = boundedNumber(__ENV.TEST_INTERVAL_MS, 100, 10, 60_000, 'TEST_INTERVAL_MS');
const MAX_LOSS = boundedNumber(__ENV.MAX_LOSS, 0.01, 0, 1, 'MAX_LOSS');
const MAX_RTT_P99_MS = boundedNumber(__ENV.MAX_RTT_P99_MS, 50, 0, 60_000, 'MAX_RTT_P99_MS');
const HEADERS = apiHeaders(__ENV.FLEETPROBE_API_TOKEN);

export const options = {
  vus: VUS,
  duration: `${DURATION_S}s`,
  // The on-demand test outlives the load by at most its timeout; then teardown reads it.
  teardownTimeout: '60s',
  thresholds: { http_req_failed: ['rate<0.01'] },
};

/** The on-demand test's body: a configured target, or a new address with its kind. */
function testBody() {
  const count = Math.max(1, Math.floor((DURATION_S * 1000) / INTERVAL_MS));
  // A timeout may span at most 15 intervals (fleetprobe's rule for every target): 10, at most 1 s.
  const common = { count, interval: `${INTERVAL_MS}ms`, timeout: `${Math.min(1000, INTERVAL_MS * 10)}ms`, tags: { source: 'k6', script: 'network-guard' } };
  if (__ENV.TEST_TARGET) return { target: __ENV.TEST_TARGET, ...common };
  const address = __ENV.TEST_ADDRESS || '127.0.0.1';
  if (!/^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|\[::1\])(:\d+)?$/.test(address)) throw new Error(`TEST_ADDRESS must be on loopback, got ${address}`);
  return { address, kind: __ENV.TEST_KIND || 'icmp', ...common };
}

export function setup() {
  const res = http.post(`${FLEETPROBE}/api/v1/tests`, JSON.stringify(testBody()), { headers: HEADERS, tags: { endpoint: 'tests_start' } });
  if (res.status !== 202) exec.test.abort(`fleetprobe refused the on-demand test: ${res.status} ${String(res.body)}`);
  return { id: String(res.json('id')) };
}

export default function () {
  const res = http.get(SUT, { tags: { endpoint: 'sut' } });
  check(res, { 'system under load answers 200': (r) => r.status === 200 });
  sleep(0.01);
}

/** @param {{ id: string }} data */
export function teardown(data) {
  const url = `${FLEETPROBE}/api/v1/tests/${encodeURIComponent(data.id)}`;
  /** @type {any} */
  let test = null;
  for (let i = 0; i < 110; i++) {
    const res = http.get(url, { headers: HEADERS, tags: { endpoint: 'tests_get' } });
    test = res.status === 200 ? res.json() : null;
    if (test && test.state !== 'running') break;
    sleep(0.5);
  }
  if (!test || test.state !== 'done') {
    exec.test.fail(`on-demand test ${data.id} did not finish: ${test ? test.state : 'no answer'}`);
    return;
  }
  const r = test.result;
  const p99Ms = r.rtt_seconds.p99 === null ? null : r.rtt_seconds.p99 * 1000;
  console.log(`network during the load: sent ${r.sent}, received ${r.received}, loss ${r.loss_ratio}, rtt p99 ${p99Ms} ms`);
  if (r.loss_ratio > MAX_LOSS) exec.test.fail(`loss ${r.loss_ratio} above MAX_LOSS ${MAX_LOSS} toward ${test.target || data.id}`);
  if (p99Ms === null || p99Ms > MAX_RTT_P99_MS) exec.test.fail(`RTT p99 ${p99Ms} ms above MAX_RTT_P99_MS ${MAX_RTT_P99_MS}`);
}
