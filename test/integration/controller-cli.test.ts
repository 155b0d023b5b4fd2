/**
 * `fleetprobe test` (the controller) against three real exporters on loopback
 * (127.0.0.1, .2, .3, each with its API on the same port and a udp responder), all
 * with an API token:
 *
 *  - --agent x3 with a new udp address: one row per agent, every test done, exit 0;
 *  - --mesh FILE: each peer tests the two others (6 tests) and the matrix is printed;
 *    --json gives the 6 outcomes with their results;
 *  - without the token every agent answers 401: the rows say so and the exit is 1;
 *  - bad arguments: exit 2 naming each problem.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExporterProcess, runCli, tempDir } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';

const TOKEN = 'controller-cli-token-0123456789';
const HOSTS = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];

interface Outcome {
  agent: string;
  from?: string;
  to?: string;
  error: string | null;
  test: null | { state: string; address: string; result: { sent: number; received: number; loss_ratio: number } };
}

test('controller CLI: three agents, a mesh of three, the token, bad arguments', { timeout: 120_000 }, async (t) => {
  const dir = tempDir('fp-controller');
  const web = await freePort();
  const udp = await freePort();
  const procs: ExporterProcess[] = [];
  t.after(async () => {
    await Promise.all(procs.map((p) => p.stop(3000)));
    dir.cleanup();
  });
  for (const host of HOSTS) {
    const cfg = dir.file(`${host}.yaml`, {
      workers: 1,
      flush_interval: '100ms',
      web: { listen_address: `${host}:${web}` },
      api: { token: TOKEN },
      targets: [],
      responder: { tcp_echo: null, http: null, udp_echo: `${host}:${udp}` },
    });
    procs.push(new ExporterProcess(['run', '--config', cfg], `${host}:${web}`));
  }
  await Promise.all(procs.map((p) => p.waitReady(20_000)));
  const tokenFile = join(dir.path, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  const agents = HOSTS.flatMap((h) => ['--agent', `http://${h}:${web}`]);

  await t.test('--agent x3: one row per agent, exit 0', async () => {
    const r = await runCli(['test', ...agents, '--address', `127.0.0.1:${udp}`, '--kind', 'udp', '--count', '20', '--interval', '10ms', '--tags', 'run=ci'], {
      env: { FLEETPROBE_API_TOKEN: TOKEN },
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0], /^AGENT\s+TARGET\s+STATE\s+SENT\s+RECV\s+LOSS%\s+MIN_MS\s+AVG_MS\s+MAX_MS\s+P99_MS\s+JITTER_MS\s+THROUGHPUT$/);
    assert.equal(lines.length, 4, r.stdout);
    for (const h of HOSTS) {
      const row = lines.find((l) => l.startsWith(`http://${h}:${web}`));
      assert.ok(row, `a row for ${h}: ${r.stdout}`);
      assert.match(row, new RegExp(`127\\.0\\.0\\.1:${udp}\\s+done\\s+20\\s+20\\s+0\\.0\\s+\\d+\\.\\d{3}`));
    }
  });

  await t.test('--mesh: every peer to every other peer, rows then the matrix; --json', async () => {
    const peers = dir.file(
      'peers.json',
      HOSTS.map((h, i) => ({ name: `n${i + 1}`, address: h })),
    );
    const common = [
      'test',
      '--mesh',
      peers,
      '--agent-port',
      String(web),
      '--kind',
      'udp',
      '--target-port',
      String(udp),
      '--count',
      '10',
      '--interval',
      '10ms',
      '--token-file',
      tokenFile,
    ];
    const text = await runCli(common);
    assert.equal(text.code, 0, text.stdout + text.stderr);
    assert.match(text.stdout, /^FROM\s+TO\s+AGENT/m);
    assert.match(text.stdout, /loss% \/ avg RTT ms\nFROM \\ TO\s+n1\s+n2\s+n3\n/);
    const matrix = text.stdout.slice(text.stdout.indexOf('FROM \\ TO'));
    assert.match(matrix, /\nn1\s+\.\s+0\.0% \/ \d+\.\d{3}\s+0\.0% \/ \d+\.\d{3}\n/);
    const json = await runCli([...common, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const outcomes = JSON.parse(json.stdout) as Outcome[];
    assert.equal(outcomes.length, 6);
    const pairs = outcomes.map((o) => `${o.from}>${o.to}`).sort();
    assert.deepEqual(pairs, ['n1>n2', 'n1>n3', 'n2>n1', 'n2>n3', 'n3>n1', 'n3>n2']);
    for (const o of outcomes) {
      const from = HOSTS[Number(o.from!.slice(1)) - 1];
      const to = HOSTS[Number(o.to!.slice(1)) - 1];
      assert.equal(o.agent, `http://${from}:${web}`, 'the test runs on the testing peer');
      assert.equal(o.test?.address, `${to}:${udp}`, 'toward the tested peer');
      assert.equal(o.test?.state, 'done');
      assert.equal(o.test?.result.received, 10);
    }
  });

  await t.test('without the token: 401 from every agent, exit 1', async () => {
    const r = await runCli(['test', ...agents, '--address', '127.0.0.1', '--kind', 'icmp', '--count', '1'], { env: { FLEETPROBE_API_TOKEN: '' } });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal((r.stdout.match(/HTTP 401/g) ?? []).length, 3, r.stdout);
  });

  await t.test('bad arguments: exit 2, each problem named', async () => {
    const r = await runCli(['test', '--agent', 'ftp://x', '--target', 'a', '--address', 'b', '--count', 'many', '--tags', 'novalue']);
    assert.equal(r.code, 2);
    for (const re of [/--agent must be an http\(s\) URL/, /either --target NAME or --address/, /--count must be an integer/, /--tags must be key=value/])
      assert.match(r.stderr, re);
  });
});
