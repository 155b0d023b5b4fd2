/**
 * GET /probe on the real exporter (CLI child process, 2 workers): bursts of every kind
 * against loopback (icmp over the workers' raw sockets, tcp/udp/http against the
 * exporter's own responder), a bad target (400 with its reason), an address outside
 * probe_endpoint.allow_cidrs (403, nothing sent), the concurrency limit (429), and a
 * real Prometheus scraping /probe through a blackbox_exporter-style relabel config,
 * asserting probe_success per instance through its query API.
 * Needs root (raw ICMP sockets); the Prometheus part needs Debian's prometheus.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExporterProcess, NEEDS_ROOT, tempDir, waitFor, type HttpResponse } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';
import { prometheusUnavailable, startPrometheus, type PrometheusServer } from '../helpers/prometheus.js';

/** Value of an unlabelled (or exactly-labelled) sample in a /probe body; NaN when absent. */
function sample(body: string, name: string, labels = ''): number {
  const prefix = `${name}${labels ? `{${labels}}` : ''} `;
  const line = body.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? Number.NaN : Number(line.slice(prefix.length));
}

async function setup(t: { after(fn: () => Promise<void> | void): void }, maxConcurrent: number) {
  const dir = tempDir('fp-probe-it');
  const [webPort, echoPort, httpPort] = [await freePort(), await freePort(), await freePort()];
  const listen = `127.0.0.1:${webPort}`;
  const echo = `127.0.0.1:${echoPort}`;
  const cfg = dir.file('c.yaml', {
    workers: 2,
    flush_interval: '100ms',
    web: { listen_address: listen },
    responder: { tcp_echo: echo, udp_echo: echo, http: `127.0.0.1:${httpPort}`, allow_cidrs: ['127.0.0.0/8'] },
    probe_defaults: { interval: '1s', timeout: '500ms' },
    probe_endpoint: { max_concurrent: maxConcurrent },
    // One place for the tests API: /probe's bursts (unlisted on-demand tests) must not take it.
    tests: { max_concurrent: 1 },
    api: { token: TOKEN },
    probe_modules: { tcp_connect: { kind: 'tcp', count: 2, interval: '50ms' } },
    targets: [{ name: 'scheduled', address: '127.0.0.1' }],
  });
  const exp = new ExporterProcess(['run', '--config', cfg], listen);
  t.after(async () => {
    await exp.stop(3000);
    dir.cleanup();
  });
  await exp.waitReady(20_000);
  return { exp, listen, echo, http: `127.0.0.1:${httpPort}` };
}

const TOKEN = 'probe-endpoint-test-token-0123456789';

function probe(exp: ExporterProcess, query: string, headers: Record<string, string> = {}): Promise<HttpResponse> {
  return exp.request(`/probe?${query}`, { headers, timeoutMs: 15_000 });
}

test(
  '/probe: bursts of every kind on loopback, 400 for a bad target, 403 outside allow_cidrs, 429 beyond max_concurrent',
  { skip: NEEDS_ROOT, timeout: 90_000 },
  async (t) => {
    const { exp, echo, http } = await setup(t, 2);

    const cases: Array<[string, string]> = [
      ['icmp v4', 'target=127.0.0.1&kind=icmp'],
      ['icmp v6', 'target=::1&kind=icmp&count=5&interval=20ms'],
      ['tcp', `target=${echo}&kind=tcp`],
      ['tcp_echo', `target=${echo}&kind=tcp_echo`],
      ['udp', `target=${echo}&module=udp&count=4`],
      ['http', `target=http://${http}/v1/ping&kind=http`],
    ];
    for (const [what, q] of cases) {
      const r = await probe(exp, q);
      const body = r.text();
      assert.equal(r.status, 200, `${what}: ${body}`);
      assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
      const count = Number(new URLSearchParams(q).get('count') ?? 3);
      assert.equal(sample(body, 'probe_success'), 1, `${what}:\n${body}`);
      assert.equal(sample(body, 'fleetprobe_probe_burst_sent'), count, `${what} sent`);
      assert.equal(sample(body, 'fleetprobe_probe_burst_received'), count, `${what} received`);
      assert.equal(sample(body, 'fleetprobe_probe_burst_loss_ratio'), 0, `${what} loss`);
      const avg = sample(body, 'fleetprobe_probe_burst_rtt_seconds', 'stat="avg"');
      assert.ok(avg > 0 && avg < 0.5, `${what} rtt avg ${avg}`);
      assert.ok(sample(body, 'probe_duration_seconds') > 0);
      if (what === 'http') assert.equal(sample(body, 'probe_http_status_code'), 200);
      assert.equal(sample(body, 'probe_ip_protocol'), what === 'icmp v6' ? 6 : 4);
    }

    // A closed port: the burst runs and reports the failure (blackbox answers 200 with probe_success 0 too).
    const closed = await freePort();
    const refused = await probe(exp, `target=127.0.0.1:${closed}&kind=tcp&count=2`);
    assert.equal(refused.status, 200, refused.text());
    assert.equal(sample(refused.text(), 'probe_success'), 0);
    assert.equal(sample(refused.text(), 'fleetprobe_probe_burst_errors', 'reason="refused"'), 2);

    const bad = await probe(exp, 'target=127.0.0.1:80&kind=icmp&count=0');
    assert.equal(bad.status, 400);
    assert.match(bad.headers['content-type'], /^text\/plain/);
    assert.match(bad.text(), /target must not have a port/);
    assert.match(bad.text(), /count must be an integer/);
    assert.equal((await probe(exp, 'kind=icmp')).status, 400);

    // Outside the default allowlist (loopback only): refused before anything is sent.
    const outside = await probe(exp, 'target=192.0.2.1&kind=icmp');
    assert.equal(outside.status, 403);
    assert.match(outside.text(), /192\.0\.2\.1 is outside probe_endpoint\.allow_cidrs \(127\.0\.0\.0\/8, ::1\/128\)/);

    // max_concurrent 2: two slow bursts (20 probes 100ms apart) hold both places; a third is 429 at once.
    const slow = [probe(exp, 'target=127.0.0.1&count=20&interval=100ms'), probe(exp, 'target=127.0.0.2&count=20&interval=100ms')];
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    const third = await probe(exp, 'target=127.0.0.3');
    assert.equal(third.status, 429, third.text());
    assert.equal(third.headers['retry-after'], '1');
    assert.ok(performance.now() - t0 < 1500, 'refused at once, not queued');
    // The running bursts are unlisted on-demand tests: not in the tests API's list, and its one place is free.
    const listed = JSON.parse((await exp.request('/api/v1/tests')).text()) as { tests: unknown[] };
    assert.deepEqual(listed.tests, [], 'no /probe burst in GET /api/v1/tests');
    const test = await exp.request('/api/v1/tests?wait=1', {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ address: '127.0.0.1', kind: 'icmp', count: 1, interval: '100ms' }),
      timeoutMs: 10_000,
    });
    assert.equal(test.status, 200, `tests.max_concurrent 1 is not taken by the bursts: ${test.text()}`);
    for (const r of await Promise.all(slow)) {
      assert.equal(r.status, 200);
      assert.equal(sample(r.text(), 'fleetprobe_probe_burst_received'), 20);
    }
    assert.equal((await probe(exp, 'target=127.0.0.3')).status, 200, 'a place is free again');

    // The bursts never reach the store: no series for them, and the outcomes are counted.
    const metrics = (await exp.request('/metrics')).text();
    assert.ok(!/fleetprobe_probe_sent_total\{[^}]*target="probe"/.test(metrics), 'no /probe target in the store');
    // A burst's last outcome ends it inside the prober's callback, and its target is removed
    // there: no prober may touch the attempt after that (the http prober did, and crashed its worker).
    const restarts = metrics
      .split('\n')
      .filter((l) => l.startsWith('fleetprobe_worker_restarts_total{'))
      .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    assert.equal(
      restarts,
      0,
      `no worker restarted during the bursts:\n${metrics
        .split('\n')
        .filter((l) => l.startsWith('fleetprobe_worker_restarts_total'))
        .join('\n')}`,
    );
    const count = (outcome: string) => sample(metrics, 'fleetprobe_probe_endpoint_requests_total', `outcome="${outcome}"`);
    assert.equal(count('ok'), cases.length + 1 + 2 + 1);
    assert.equal(count('bad_request'), 2);
    assert.equal(count('forbidden'), 1);
    assert.equal(count('too_many_requests'), 1);
    const ondemand = (kind: string, state: string) => sample(metrics, 'fleetprobe_ondemand_tests_total', `kind="${kind}",state="${state}"`);
    assert.equal(ondemand('icmp', 'done'), 1, 'only the API test is counted as an on-demand test');
    assert.equal(ondemand('tcp', 'done'), 0);
  },
);

test(
  'a real Prometheus scrapes /probe through blackbox-style relabelling; probe_success per instance',
  { skip: NEEDS_ROOT || prometheusUnavailable(), timeout: 90_000 },
  async (t) => {
    // Prometheus may scrape all five at the same moment: room for every one.
    const { exp, listen, echo } = await setup(t, 16);
    // Port 1 (tcpmux) on loopback: nothing listens there, and no other port this test
    // picks can land on it (a port from freePort() could be handed out again to Prometheus).
    const closed = 1;
    let prom: PrometheusServer | undefined;
    t.after(async () => prom?.stop());
    // The relabel rules of blackbox_exporter's README, with fleetprobe's address in __address__.
    const relabel = [
      { source_labels: ['__address__'], target_label: '__param_target' },
      { source_labels: ['__param_target'], target_label: 'instance' },
      { target_label: '__address__', replacement: listen },
    ];
    prom = await startPrometheus({
      job: 'unused',
      targets: [],
      scrapeConfigs: [
        {
          job_name: 'icmp',
          metrics_path: '/probe',
          params: { module: ['icmp'] },
          scrape_interval: '1s',
          scrape_timeout: '1s',
          static_configs: [{ targets: ['127.0.0.1', '127.0.0.2', '::1'] }],
          relabel_configs: relabel,
        },
        {
          job_name: 'tcp',
          metrics_path: '/probe',
          params: { module: ['tcp_connect'] },
          scrape_interval: '1s',
          scrape_timeout: '1s',
          static_configs: [{ targets: [echo, `127.0.0.1:${closed}`] }],
          relabel_configs: relabel,
        },
      ],
    });
    const expected = new Map([
      ['icmp/127.0.0.1', 1],
      ['icmp/127.0.0.2', 1],
      ['icmp/::1', 1],
      [`tcp/${echo}`, 1],
      [`tcp/127.0.0.1:${closed}`, 0],
    ]);
    let seen = new Map<string, number>();
    await waitFor(
      'probe_success for every instance',
      async () => {
        const rows = await prom.query('probe_success');
        seen = new Map(rows.map((r) => [`${r.metric.job}/${r.metric.instance}`, Number(r.value[1])]));
        return [...expected.keys()].every((k) => seen.has(k));
      },
      30_000,
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; seen ${JSON.stringify([...seen])}\nprometheus log:\n${prom.log()}\nexporter:\n${exp.tail()}`);
    });
    assert.deepEqual(new Map([...seen].filter(([k]) => expected.has(k))), expected);
    // Scrapes succeed (up == 1) even for the closed port: the failure is in probe_success, as with blackbox.
    const up = await prom.query('up');
    assert.equal(up.length, expected.size);
    for (const r of up) assert.equal(r.value[1], '1', `up of ${r.metric.instance}`);
    // The burst of the scrape fits the scrape timeout (1s minus the 500ms offset).
    const dur = await prom.query('max(probe_duration_seconds)');
    assert.ok(Number(dur[0].value[1]) < 1, `probe_duration_seconds ${dur[0].value[1]}`);
    const rtt = await prom.query('fleetprobe_probe_burst_rtt_seconds{stat="avg",job="icmp"}');
    assert.equal(rtt.length, 3);
    // The tcp job names a probe_modules entry: its bursts have the module's 2 probes.
    const sent = await prom.query('fleetprobe_probe_burst_sent{job="tcp"}');
    assert.deepEqual(
      sent.map((r) => r.value[1]),
      ['2', '2'],
    );
  },
);
