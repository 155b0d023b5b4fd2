/**
 * GET /probe's pure parts: the query (every problem named at once, targets checked
 * like configured ones, the time budget from the scrape-timeout header), the http
 * figures of the on-demand result it renders, and the text rendering (checked by the real `promtool check metrics`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { parseProbeQuery, probeBudgetMs, type ProbeQueryContext } from '../../src/probe-endpoint/query.js';
import { renderProbe } from '../../src/probe-endpoint/render.js';
import { newTally, summarize, type Tally } from '../../src/protocol/ondemand/result.js';
import { HTTP_PHASE_NAMES } from '../../src/protocol/events.js';
import { parsePrometheusText } from '../../src/metrics/text-parse.js';
import type { Config } from '../../src/config/types.js';
import { hasPromtool, promtoolCheckMetrics } from '../helpers/promtool.js';

function loadYaml(yaml: string): Config {
  const d = mkdtempSync(join(tmpdir(), 'fp-probe-unit-'));
  try {
    writeFileSync(join(d, 'c.yaml'), yaml);
    return loadConfig({ argv: ['--config', join(d, 'c.yaml')], env: {} });
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

const CFG = loadYaml('probe_defaults: {kind: icmp, interval: 1s, timeout: 2s}\ntargets: []\n');
const CTX: ProbeQueryContext = { defaults: CFG.probeDefaults, config: CFG.probeEndpoint };

function parse(query: string, ctx: Partial<ProbeQueryContext> = {}) {
  return parseProbeQuery(new URLSearchParams(query), { ...CTX, ...ctx });
}
function ok(query: string, ctx: Partial<ProbeQueryContext> = {}) {
  const r = parse(query, ctx);
  if (!r.ok) assert.fail(`refused ${query}: ${r.problems.join(' | ')}`);
  return r.request;
}
function problems(query: string, ctx: Partial<ProbeQueryContext> = {}): string[] {
  const r = parse(query, ctx);
  if (r.ok) assert.fail(`accepted ${query}`);
  return r.problems;
}

test('probe_endpoint defaults: enabled, loopback only, 3 probes 100ms apart, 16 at once, 500ms offset, 10s cap', () => {
  assert.deepEqual(CFG.probeEndpoint, {
    enabled: true,
    allowCidrs: ['127.0.0.0/8', '::1/128'],
    count: 3,
    maxCount: 20,
    intervalMs: 100,
    maxConcurrent: 16,
    timeoutOffsetMs: 500,
    maxDurationMs: 10_000,
    modules: {},
  });
});

test('check-config names every bad probe_endpoint key in one pass', () => {
  assert.throws(
    () =>
      loadYaml(
        'probe_endpoint: {count: 30, max_count: 10, allow_cidrs: ["10.1.2.3/8"], interval: "0s", max_concurrent: 0, timeout_offset: "20s"}\ntargets: []\n',
      ),
    (e: Error) => {
      for (const key of ['probe_endpoint.allow_cidrs', 'probe_endpoint.interval', 'probe_endpoint.max_concurrent', 'probe_endpoint.timeout_offset']) {
        assert.match(e.message, new RegExp(key.replace('.', '\\.')), `names ${key}: ${e.message}`);
      }
      return true;
    },
  );
  assert.throws(() => loadYaml('probe_endpoint: {count: 30, max_count: 10}\ntargets: []\n'), /probe_endpoint\.count.*max_count/s);
  assert.throws(() => loadYaml('probe_endpoint: {timeout_offset: 2s, max_duration: 1s}\ntargets: []\n'), /probe_endpoint\.timeout_offset/);
});

test('query: each kind takes its config address form; defaults fill the rest', () => {
  const icmp = ok('target=127.0.0.1');
  assert.equal(icmp.spec.kind, 'icmp', 'probe_defaults.kind');
  assert.equal(icmp.spec.address, '127.0.0.1');
  assert.equal(icmp.count, 3);
  assert.equal(icmp.intervalMs, 100);
  // probe_defaults.timeout 2s is cut to 15 x interval (1.5s) when the query gives none.
  assert.equal(icmp.spec.timeoutMs, 1500);
  assert.equal(ok('target=[::1]:7&kind=tcp').spec.address, '[::1]:7');
  assert.equal(ok('target=127.0.0.1:7&module=udp&payload_size=100').spec.payloadSize, 100);
  assert.equal(ok('target=127.0.0.1:7&kind=tcp_echo').spec.kind, 'tcp_echo');
  const http = ok('target=127.0.0.1:8080/health&kind=http&expect_status=2xx,418');
  assert.equal(http.spec.url, 'http://127.0.0.1:8080/health', 'http:// assumed, as blackbox does');
  assert.equal(ok('target=https://127.0.0.1/&kind=http').spec.url, 'https://127.0.0.1/');
  const own = ok('target=127.0.0.1&count=5&interval=50ms&timeout=300ms');
  assert.deepEqual([own.count, own.intervalMs, own.spec.timeoutMs], [5, 50, 300]);
  assert.equal(ok('target=127.0.0.1&kind=icmp&module=icmp').spec.kind, 'icmp', 'kind and module may agree');
});

test('probe_modules: named settings like blackbox modules, checked at load, overridden by the query', () => {
  const cfg = loadYaml(
    'probe_defaults: {kind: icmp, timeout: 1s}\n' +
      'probe_modules:\n  http_2xx: {kind: http, expect_status: "2xx", count: 2, interval: 50ms}\n  icmp_small: {payload_size: 16, timeout: 200ms}\n' +
      'targets: []\n',
  );
  const ctx = { defaults: cfg.probeDefaults, config: cfg.probeEndpoint };
  const http = parseProbeQuery(new URLSearchParams('target=127.0.0.1:8080&module=http_2xx'), ctx);
  assert.ok(http.ok, JSON.stringify(http));
  if (http.ok) {
    assert.equal(http.request.spec.kind, 'http');
    assert.deepEqual([http.request.count, http.request.intervalMs], [2, 50]);
    assert.equal((http.request.spec.options as { expectStatus?: unknown }).expectStatus !== undefined, true);
  }
  const over = parseProbeQuery(new URLSearchParams('target=127.0.0.1&module=icmp_small&payload_size=32&count=4'), ctx);
  assert.ok(over.ok);
  if (over.ok) assert.deepEqual([over.request.spec.kind, over.request.spec.payloadSize, over.request.spec.timeoutMs, over.request.count], ['icmp', 32, 200, 4]);
  const unknown = parseProbeQuery(new URLSearchParams('target=127.0.0.1&module=tcp_connect'), ctx);
  assert.ok(!unknown.ok);
  if (!unknown.ok) assert.match(unknown.problems.join(), /module "tcp_connect" is neither a probe_modules entry \(http_2xx, icmp_small\) nor a probe kind/);
  assert.throws(
    () => loadYaml('probe_modules:\n  a: {kind: ping}\n  b: {kind: tcp, address: "127.0.0.1:1"}\n  c: {kind: udp, source_ports: 0, count: 99}\ntargets: []\n'),
    (e: Error) => {
      assert.match(e.message, /probe_modules\.a\.kind/);
      assert.match(e.message, /probe_modules\.b\.address.*unknown field "address"/s);
      assert.match(e.message, /probe_modules\.c\.source_ports/);
      assert.match(e.message, /probe_modules\.c\.count/);
      return true;
    },
  );
});

test('query: a bad target is refused with the reason a config file would get', () => {
  assert.match(problems('target=127.0.0.1:80&kind=icmp').join(), /target must not have a port/);
  assert.match(problems('target=127.0.0.1&kind=tcp').join(), /target has no port/);
  assert.match(problems('target=127.0.0.1:70000&kind=udp').join(), /port 70000 is out of range/);
  assert.match(problems('target=ftp://127.0.0.1/&kind=http').join(), /scheme "ftp"/);
  assert.match(problems('target=bad!name').join(), /neither a valid IPv4\/IPv6 address nor a valid host name/);
  assert.match(problems('kind=icmp').join(), /target is required/);
  assert.match(problems('target=').join(), /target is required/);
});

test('query: every problem is named at once', () => {
  const p = problems('target=bad!&target=x&count=0&interval=fast&foo=1&kind=icmp&module=tcp');
  const text = p.join('\n');
  assert.match(text, /target is given 2 times/);
  assert.match(text, /count must be an integer from 1 to probe_endpoint\.max_count \(20\), got "0"/);
  assert.match(text, /interval "fast" is not a duration/);
  assert.match(text, /kind "icmp" and module "tcp" disagree/);
  assert.match(problems('target=127.0.0.1&kind=ping').join(), /kind "ping" is not a probe kind; kinds are icmp, tcp, tcp_echo, udp, http/);
  const unknown = problems('target=127.0.0.1:7&kind=udp&foo=1&keep_alive=true').join('\n');
  assert.match(unknown, /unknown parameter "foo".*options of kind udp \(source_ports\)/);
  assert.match(unknown, /unknown parameter "keep_alive"/, 'an option of another kind is refused');
  assert.match(problems('target=127.0.0.1:7&kind=udp&source_ports=0').join(), /source_ports must be between/);
  assert.match(problems('target=127.0.0.1&count=21').join(), /max_count \(20\)/);
  assert.match(problems('target=https://127.0.0.1/&kind=http&ca_file=/etc/shadow').join(), /names a file on the exporter's host/);
  assert.match(problems('target=127.0.0.1&timeout=5s&interval=100ms').join(), /spans more than 15 intervals/);
  assert.match(problems('target=127.0.0.1&interval=11s').join(), /interval must be between 1ms and 10s/);
});

test('budget: the scrape-timeout header minus the offset, capped by max_duration; the timeout is cut to fit', () => {
  const c = CFG.probeEndpoint;
  assert.equal(probeBudgetMs(undefined, c), 10_000);
  assert.equal(probeBudgetMs('2', c), 1500);
  assert.equal(probeBudgetMs('2.5', c), 2000);
  assert.equal(probeBudgetMs('60', c), 10_000, 'capped');
  assert.match(String(probeBudgetMs('abc', c)), /not a positive number of seconds/);
  assert.match(String(probeBudgetMs('0.4', c)), /no time is left to probe/);
  // 3 probes 100ms apart in a 1.5s budget: the last starts at 200ms and may wait 1300ms.
  assert.equal(ok('target=127.0.0.1', { scrapeTimeoutHeader: '2' }).spec.timeoutMs, 1300);
  assert.equal(ok('target=127.0.0.1&timeout=1s', { scrapeTimeoutHeader: '2' }).spec.timeoutMs, 1000);
  assert.match(problems('target=127.0.0.1&count=20&interval=1s', { scrapeTimeoutHeader: '10' }).join(), /20 probes 1s apart do not fit/);
  assert.match(problems('target=bad!', { scrapeTimeoutHeader: 'x' }).join('\n'), /Seconds "x".*\n.*target/s, 'the header and the target both named');
});

/** A worker's tally as the OnDemandRunner fills it from the probers' outcomes. */
function tally(fill: (t: Tally) => void): Tally {
  const t = newTally();
  fill(t);
  return t;
}

test('result: http phases averaged over the requests that reached them, the last status; absent for other kinds', () => {
  const http = summarize(
    'http',
    tally((t) => {
      t.sent = 2;
      t.received = 2;
      t.rtts.push(0.01, 0.03);
      t.phaseSums[HTTP_PHASE_NAMES.indexOf('total')] = 0.04;
      t.phaseCounts[HTTP_PHASE_NAMES.indexOf('total')] = 2;
      t.phaseSums[HTTP_PHASE_NAMES.indexOf('tls')] = 0.002;
      t.phaseCounts[HTTP_PHASE_NAMES.indexOf('tls')] = 1;
      t.httpStatus = 503;
    }),
  );
  assert.deepEqual(http.http_phase_seconds, { tls: 0.002, total: 0.02 }, 'phases nobody reached are absent');
  assert.equal(http.http_status, 503);
  assert.equal(summarize('http', newTally()).http_status, null, 'no response: null, not 0');
  const icmp = summarize(
    'icmp',
    tally((t) => (t.httpStatus = 200)),
  );
  assert.equal(icmp.http_status, undefined);
  assert.equal(icmp.http_phase_seconds, undefined);
});

test(
  'render: blackbox names plus fleetprobe_probe_burst_*, parsed back, and clean for promtool',
  { skip: hasPromtool ? false : 'promtool not installed' },
  async () => {
    const http = summarize(
      'http',
      tally((t) => {
        for (let i = 0; i < 3; i++) {
          t.sent++;
          HTTP_PHASE_NAMES.forEach((_, p) => {
            t.phaseSums[p] += 0.001 * (p + 1) * (i + 1);
            t.phaseCounts[p]++;
          });
          t.httpStatus = 200;
          t.received++;
          t.rtts.push(0.005 * (i + 1));
        }
      }),
    );
    const lost = summarize(
      'icmp',
      tally((t) => {
        t.sent = 2;
        t.timeouts = 1;
        t.errors.tls = 1;
      }),
    );
    // Sent, no outcome yet (a cancelled burst): no loss claimed.
    const cut = summarize(
      'tcp',
      tally((t) => (t.sent = 3)),
    );
    const bodies = {
      http: renderProbe({ kind: 'http', ipProtocol: 4, result: http, durationSeconds: 0.25, dnsSeconds: 0 }),
      lost: renderProbe({ kind: 'icmp', ipProtocol: 6, result: lost, durationSeconds: 1.5, dnsSeconds: 0.01 }),
      cut: renderProbe({ kind: 'tcp', ipProtocol: 4, result: cut, durationSeconds: 0.1, dnsSeconds: 0 }),
    };
    const v = (body: string, name: string, labels = ''): number => {
      const line = body.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
      assert.ok(line, `${name}${labels} in\n${body}`);
      return Number(line.split(' ')[1]);
    };
    assert.equal(v(bodies.http, 'probe_success'), 1);
    assert.equal(v(bodies.http, 'probe_http_status_code'), 200);
    assert.equal(v(bodies.http, 'fleetprobe_probe_burst_received'), 3);
    assert.equal(v(bodies.http, 'fleetprobe_probe_burst_rtt_seconds', 'stat="avg"'), 0.01);
    assert.ok(Math.abs(v(bodies.http, 'fleetprobe_probe_burst_http_phase_seconds', 'phase="total"') - 0.01) < 1e-12);
    assert.equal(v(bodies.lost, 'probe_success'), 0);
    assert.equal(v(bodies.lost, 'probe_ip_protocol'), 6);
    assert.equal(v(bodies.lost, 'fleetprobe_probe_burst_loss_ratio'), 1);
    assert.equal(v(bodies.lost, 'fleetprobe_probe_burst_errors', 'reason="tls"'), 1, 'a reason the kind does not declare still shows');
    assert.equal(v(bodies.lost, 'fleetprobe_probe_burst_errors', 'reason="host_unreachable"'), 0, 'declared reasons exported at 0');
    assert.ok(Number.isNaN(v(bodies.lost, 'fleetprobe_probe_burst_rtt_seconds', 'stat="min"')));
    assert.ok(!bodies.lost.includes('probe_http_status_code'), 'http families only for http');
    assert.ok(Number.isNaN(v(bodies.cut, 'fleetprobe_probe_burst_loss_ratio')), 'no outcome yet: no loss claimed');
    assert.equal(v(bodies.cut, 'fleetprobe_probe_burst_sent'), 3);
    for (const [name, body] of Object.entries(bodies)) {
      assert.ok(parsePrometheusText(body).samples.length > 10, `${name} parses`);
      const r = await promtoolCheckMetrics(body);
      assert.equal(r.code, 0, `promtool on ${name}: ${r.out}`);
      assert.equal(r.out.trim(), '', `promtool lint on ${name}: ${r.out}`);
    }
  },
);
