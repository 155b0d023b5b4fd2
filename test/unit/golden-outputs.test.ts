/**
 * What users see, byte for byte, against files recorded from the code before the
 * probe kinds and the metric catalog were declared once (issue 7): the text
 * exposition and the OTLP data of a populated store, `fleetprobe help`, and the
 * verdicts and messages of target-entry and probe_defaults validation for every
 * per-kind option. A refactoring that changes any of them fails here, at the line.
 */
import { test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { renderExpositionText } from '../../src/metrics/exposition.js';
import { StoreMetricProducer } from '../../src/metrics/otel-producer.js';
import { ConfigError, formatConfigHelp, loadConfig } from '../../src/config/index.js';
import { parseTargetEntry } from '../../src/targets/spec.js';
import { populatedStore } from '../helpers/populated-store.js';
import { assertGolden } from '../helpers/golden.js';

test('the text exposition of a populated store is unchanged (default and custom buckets)', () => {
  assertGolden('exposition-default-buckets.txt', renderExpositionText(populatedStore().snapshot()));
  assertGolden('exposition-custom-buckets.txt', renderExpositionText(populatedStore([0.0001, 0.001, 0.01, 0.1, 1]).snapshot()));
});

test('the OTLP data of a populated store is unchanged', () => {
  const store = populatedStore([0.0001, 0.001, 0.01, 0.1, 1]);
  const scopes = new StoreMetricProducer(store, { now: () => 1_700_000_123_456, scopeVersion: '9.9.9' }).collectScopeMetrics();
  // Start times are the wall clock of defineSlot(): replaced by a marker, the rest is exact.
  const text = JSON.stringify(scopes, (key, value: unknown) => (key === 'startTime' ? 'START' : value), 1);
  assertGolden('otlp-scope-metrics.json', text + '\n');
});

test('fleetprobe help is unchanged', () => {
  // The workers default is this machine's core count.
  assertGolden('config-help.txt', formatConfigHelp().replace(/(--workers VALUE\n.*\n\s+default: )\d+/, '$1N') + '\n');
});

const OPTION_ENTRIES: Array<Record<string, unknown>> = [
  { kind: 'icmp', address: '127.0.0.1' },
  { kind: 'icmp', address: '127.0.0.1', close: 'fin' },
  { kind: 'icmp', address: '127.0.0.1', payload_size: 65_001 },
  { kind: 'tcp', address: '127.0.0.1:80' },
  { kind: 'tcp', address: '127.0.0.1:80', close: 'fin' },
  { kind: 'tcp', address: '127.0.0.1:80', close: 'reset' },
  { kind: 'tcp', address: '127.0.0.1:80', close: 'slam' },
  { kind: 'tcp', address: '127.0.0.1:80', close: null },
  { kind: 'tcp', address: '127.0.0.1', source_ports: 2 },
  { kind: 'udp', address: '127.0.0.1:7', source_ports: 64 },
  { kind: 'udp', address: '127.0.0.1:7', source_ports: 65 },
  { kind: 'udp', address: '127.0.0.1:7', source_ports: 0 },
  { kind: 'udp', address: '127.0.0.1:7', source_ports: '3' },
  { kind: 'udp', address: '127.0.0.1:7', source_ports: 1.5 },
  { kind: 'tcp_echo', address: '127.0.0.1:4000', reconnect_min_backoff: '1ms', reconnect_max_backoff: '1h', connect_timeout: '10m' },
  { kind: 'tcp_echo', address: '127.0.0.1:4000', reconnect_min_backoff: '0ms' },
  { kind: 'tcp_echo', address: '127.0.0.1:4000', reconnect_max_backoff: '2h' },
  { kind: 'tcp_echo', address: '127.0.0.1:4000', reconnect_max_backoff: 5 },
  { kind: 'tcp_echo', address: '127.0.0.1:4000', connect_timeout: '11m' },
  { kind: 'tcp_echo', address: '127.0.0.1:4000', connect_timeout: null },
  { kind: 'tcp_echo', address: '127.0.0.1:4000', keep_alive: true },
  { kind: 'http', url: 'http://127.0.0.1:4001/' },
  {
    kind: 'http',
    url: 'http://127.0.0.1:4001/',
    method: 'head',
    expect_status: '200,204',
    keep_alive: true,
    max_body_bytes: 0,
    insecure_skip_verify: true,
    server_name: 'x.test',
  },
  { kind: 'http', url: 'http://127.0.0.1:4001/', method: 'PATCH' },
  { kind: 'http', url: 'http://127.0.0.1:4001/', method: 'post' },
  { kind: 'http', url: 'http://127.0.0.1:4001/', expect_status: '2xx,3XX' },
  { kind: 'http', url: 'http://127.0.0.1:4001/', expect_status: [200, '4xx'] },
  { kind: 'http', url: 'http://127.0.0.1:4001/', expect_status: 200 },
  { kind: 'http', url: 'http://127.0.0.1:4001/', expect_status: '200-204' },
  { kind: 'http', url: 'http://127.0.0.1:4001/', expect_status: '300-200' },
  { kind: 'http', url: 'http://127.0.0.1:4001/', expect_status: '6xx' },
  { kind: 'http', url: 'http://127.0.0.1:4001/', expect_status: '099' },
  { kind: 'http', url: 'http://127.0.0.1:4001/', expect_status: '' },
  { kind: 'http', url: 'http://127.0.0.1:4001/', expect_status: [] },
  { kind: 'http', url: 'http://127.0.0.1:4001/', keep_alive: 'yes' },
  { kind: 'http', url: 'http://127.0.0.1:4001/', max_body_bytes: -1 },
  { kind: 'http', url: 'http://127.0.0.1:4001/', max_body_bytes: 2 ** 30 + 1 },
  { kind: 'http', url: 'http://127.0.0.1:4001/', server_name: '' },
  { kind: 'http', url: 'http://127.0.0.1:4001/', ca_file: '/nonexistent/ca.pem' },
  { kind: 'http', url: 'http://127.0.0.1:4001/', ca_file: null, server_name: null },
  { kind: 'http', url: 'http://127.0.0.1:4001/', headers: { 'X-A': 'b', Host: 'other' } },
  { kind: 'http', url: 'http://127.0.0.1:4001/', headers: { Connection: 'close', 'Bad Name': 'x', 'X-Inj': 'a\r\nb' } },
  { kind: 'http', url: 'http://127.0.0.1:4001/', headers: 'X-A: b' },
  { kind: 'http', url: 'http://127.0.0.1:4001/', headers: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`X-${i}`, 'v'])) },
  { kind: 'http', url: 'http://127.0.0.1:4001/', source_ports: 2, reconnect_max_backoff: '1s' },
];

test('target entries with every per-kind option: the same verdicts and messages', () => {
  const defaults = loadConfig({ argv: [], env: {} }).probeDefaults;
  const lines: string[] = [];
  OPTION_ENTRIES.forEach((entry, i) => {
    const parsed = parseTargetEntry({ name: `t${i}`, ...entry }, `golden[${i}]`, defaults);
    if (parsed.ok) {
      const { name, kind, address, url, intervalMs, timeoutMs, payloadSize, lossWindow, labels } = parsed.spec;
      lines.push(`[${i}] ok ${JSON.stringify({ name, kind, address, url, intervalMs, timeoutMs, payloadSize, lossWindow, labels })}`);
    } else {
      for (const p of parsed.problems) lines.push(`[${i}] ${p.field}: ${p.message}`);
    }
  });
  assertGolden('target-entry-options.txt', lines.join('\n') + '\n');
});

test('probe_defaults.<kind> problems: the same keys and messages', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleetprobe-golden-'));
  try {
    const file = join(dir, 'c.yaml');
    writeFileSync(
      file,
      toYaml({
        probe_defaults: {
          tcp: { close: 'slam' },
          udp: { source_ports: 100 },
          tcp_echo: { reconnect_min_backoff: 'soon', reconnect_max_backoff: '2h', connect_timeout: 0, bogus: 1 },
          http: {
            method: 'PATCH',
            expect_status: '6xx',
            keep_alive: 'maybe',
            max_body_bytes: -3,
            ca_file: '/nonexistent',
            server_name: 7,
            headers: { Upgrade: 'h2c' },
          },
          icmp: { close: 'fin' },
        },
      }),
    );
    const lines: string[] = [];
    try {
      loadConfig({ argv: ['--config', file], env: { FLEETPROBE_PROBE_DEFAULTS_HTTP_KEEP_ALIVE: 'nope' } });
      lines.push('no error');
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      for (const p of [...e.problems].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)))
        lines.push(`${p.key} = ${JSON.stringify(p.value)}: ${p.message}`);
    }
    assertGolden('probe-defaults-problems.txt', lines.join('\n') + '\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
