// k6 load test of a running fleetprobe's HTTP endpoints: /metrics (plain and gzip)
// and /api/v1/targets, with bounded VUs, a bounded duration and thresholds.
//
// NEEDS k6 (https://k6.io), which is not a Node package (the npm "k6" package is a
// typings placeholder) and is not in Debian 12's archive. Where k6 is missing, the
// Node equivalent is: node dist/load-tests/scrape-load.js --url http://127.0.0.1:9798
//
//   fleetprobe run --config config/example.yaml &
//   k6 run -e BASE_URL=http://127.0.0.1:9798 -e VUS=4 -e DURATION=30s k6/metrics-scrape.js
//
// Loopback only: the script refuses any other BASE_URL (project network-safety rule).
import http from 'k6/http';
import { check } from 'k6';
import { boundedNumber, loopbackUrl } from './lib/fleetprobe.js';

const BASE_URL = loopbackUrl(__ENV.BASE_URL || 'http://127.0.0.1:9798', 'BASE_URL');
const VUS = boundedNumber(__ENV.VUS, 4, 1, 64, 'VUS');
const DURATION = __ENV.DURATION || '30s';

export const options = {
  scenarios: {
    metrics_plain: { executor: 'constant-vus', exec: 'metricsPlain', vus: VUS, duration: DURATION },
    metrics_gzip: { executor: 'constant-vus', exec: 'metricsGzip', vus: Math.max(1, Math.floor(VUS / 2)), duration: DURATION },
    api_targets: { executor: 'constant-vus', exec: 'apiTargets', vus: Math.max(1, Math.floor(VUS / 2)), duration: DURATION },
  },
  // Hard stop even if a request hangs.
  maxDuration: '10m',
  thresholds: {
    http_req_failed: ['rate<0.01'],
    'http_req_duration{endpoint:metrics}': ['p(99)<5000'],
    'http_req_duration{endpoint:metrics_gzip}': ['p(99)<5000'],
    'http_req_duration{endpoint:targets}': ['p(99)<2000'],
    checks: ['rate>0.99'],
  },
};

export function metricsPlain() {
  const r = http.get(`${BASE_URL}/metrics`, { tags: { endpoint: 'metrics' }, headers: { 'Accept-Encoding': 'identity' }, timeout: '60s' });
  check(r, {
    'metrics 200': (x) => x.status === 200,
    'metrics has probe counters': (x) => typeof x.body === 'string' && x.body.includes('fleetprobe_probe_sent_total'),
  });
}

export function metricsGzip() {
  // k6 decompresses transparently; the header makes the server do the gzip work.
  const r = http.get(`${BASE_URL}/metrics`, { tags: { endpoint: 'metrics_gzip' }, headers: { 'Accept-Encoding': 'gzip' }, timeout: '60s' });
  check(r, {
    'metrics gzip 200': (x) => x.status === 200,
    'metrics gzip encoded': (x) => x.headers['Content-Encoding'] === 'gzip',
  });
}

export function apiTargets() {
  const r = http.get(`${BASE_URL}/api/v1/targets`, { tags: { endpoint: 'targets' }, timeout: '30s' });
  check(r, {
    'targets 200': (x) => x.status === 200,
    'targets is a list': (x) => {
      try {
        return Array.isArray(x.json('targets'));
      } catch {
        return false;
      }
    },
  });
}
