// k6 load on fleetprobe's newer endpoints: the on-demand tests API (start a short test,
// read it until it ends, list the recent ones) and the live stream (SSE `mode=once`, the
// current state of the selected targets, then the server closes). 429 is an expected
// answer: beyond api tests' concurrency limit fleetprobe must refuse, not queue.
//
// NEEDS k6 (not installable here). The Node stand-in doing the same:
// node dist/load-tests/ondemand-api-load.js (same variables as flags).
//
//   k6 run -e BASE_URL=http://127.0.0.1:9798 -e TEST_ADDRESS=127.0.0.1 -e DURATION=30s k6/ondemand-api-load.js
//
// Variables: BASE_URL, TEST_ADDRESS + TEST_KIND (default 127.0.0.1, icmp), TESTS_PER_S
// (arrival rate of new tests, default 5, at most 200), STREAM_VUS (default 4, at most 64),
// STREAM_TARGET (a target name to select; default: every target), DURATION,
// FLEETPROBE_API_TOKEN. Loopback only.
import http from 'k6/http';
import { check, sleep } from 'k6';
import { apiHeaders, boundedNumber, loopbackUrl } from './lib/fleetprobe.js';

const BASE_URL = loopbackUrl(__ENV.BASE_URL || 'http://127.0.0.1:9798', 'BASE_URL');
const DURATION = __ENV.DURATION || '30s';
const TESTS_PER_S = boundedNumber(__ENV.TESTS_PER_S, 5, 1, 200, 'TESTS_PER_S');
const STREAM_VUS = boundedNumber(__ENV.STREAM_VUS, 4, 1, 64, 'STREAM_VUS');
const ADDRESS = __ENV.TEST_ADDRESS || '127.0.0.1';
if (!/^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1)(:\d+)?$/.test(ADDRESS)) throw new Error(`TEST_ADDRESS must be on loopback, got ${ADDRESS}`);
const HEADERS = apiHeaders(__ENV.FLEETPROBE_API_TOKEN);

http.setResponseCallback(http.expectedStatuses(200, 202, 429));

export const options = {
  scenarios: {
    tests_api: {
      executor: 'constant-arrival-rate',
      exec: 'testsApi',
      rate: TESTS_PER_S,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: Math.min(200, TESTS_PER_S * 4),
    },
    streams: { executor: 'constant-vus', exec: 'streamOnce', vus: STREAM_VUS, duration: DURATION },
  },
  maxDuration: '10m',
  thresholds: {
    http_req_failed: ['rate<0.01'],
    'http_req_duration{endpoint:tests_start}': ['p(99)<1000'],
    'http_req_duration{endpoint:stream_once}': ['p(99)<2000'],
    checks: ['rate>0.99'],
  },
};

export function testsApi() {
  const body = { address: ADDRESS, kind: __ENV.TEST_KIND || 'icmp', count: 5, interval: '20ms', timeout: '200ms', tags: { source: 'k6' } };
  const res = http.post(`${BASE_URL}/api/v1/tests`, JSON.stringify(body), { headers: HEADERS, tags: { endpoint: 'tests_start' } });
  check(res, { 'a test starts (202) or is refused at the limit (429)': (r) => r.status === 202 || r.status === 429 });
  if (res.status !== 202) return;
  const id = String(res.json('id'));
  for (let i = 0; i < 40; i++) {
    const got = http.get(`${BASE_URL}/api/v1/tests/${encodeURIComponent(id)}`, { headers: HEADERS, tags: { endpoint: 'tests_get' } });
    if (got.status !== 200 || got.json('state') !== 'running') {
      check(got, { 'the test ends done': (r) => r.status === 200 && r.json('state') === 'done' });
      break;
    }
    sleep(0.1);
  }
  const list = http.get(`${BASE_URL}/api/v1/tests`, { headers: HEADERS, tags: { endpoint: 'tests_list' } });
  check(list, { 'the list answers 200': (r) => r.status === 200 });
}

export function streamOnce() {
  const select = __ENV.STREAM_TARGET ? `&target=${encodeURIComponent(__ENV.STREAM_TARGET)}` : '';
  const res = http.get(`${BASE_URL}/api/v1/stream?mode=once${select}`, { headers: HEADERS, timeout: '10s', tags: { endpoint: 'stream_once' } });
  check(res, { 'stream once answers 200 with events': (r) => r.status === 200 && String(r.body).includes('data:') });
  sleep(0.2);
}
