import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseControllerArgs, type ControllerArgs } from '../../src/controller/args.js';
import { peerTarget, planAgents, planMesh } from '../../src/controller/plan.js';
import { formatMatrix, formatRows } from '../../src/controller/format.js';
import type { AgentOutcome } from '../../src/controller/client.js';

const ok = (argv: string[]): ControllerArgs => {
  const r = parseControllerArgs(argv);
  assert.ok(r.ok, JSON.stringify(r));
  return r.args;
};
const bad = (argv: string[]): string[] => {
  const r = parseControllerArgs(argv);
  assert.ok(!r.ok);
  return r.problems;
};

test('arguments: agents and a target or an address with a kind; repeatable tags', () => {
  const a = ok([
    '--agent',
    'http://127.0.0.1:9798',
    '--agent',
    'http://127.0.0.2:9798/',
    '--target',
    'db1',
    '--count',
    '5',
    '--tags',
    'a=1',
    '--tags',
    'b=x=y',
    '--json',
  ]);
  assert.deepEqual(a.agents, ['http://127.0.0.1:9798', 'http://127.0.0.2:9798/']);
  assert.equal(a.target, 'db1');
  assert.equal(a.count, 5);
  assert.deepEqual(a.tags, { a: '1', b: 'x=y' });
  assert.equal(a.json, true);
  assert.equal(a.agentPort, 9798);
  assert.equal(bad(['--agent', 'http://x', '--address', '127.0.0.1']).join(), '--address needs --kind');
  assert.match(bad(['--agent', 'http://x', '--target', 't', '--kind', 'udp']).join(), /--kind is for --address/);
  assert.match(bad(['--mesh', 'p.json', '--agent', 'http://x']).join(), /leave out --agent/);
  assert.match(bad(['--bogus']).join(), /Unknown option '--bogus'/);
  assert.equal(bad(['--agent', 'nope', '--kind', 'smoke', '--rate=-1', '--agent-port', '70000']).length, 5, 'every problem at once');
});

test('plans: one body per agent; a mesh is every ordered pair of distinct peers', () => {
  const a = ok(['--agent', 'http://h1:1/', '--address', 'http://127.0.0.1:4001/v1/ping', '--kind', 'http', '--size', '1000']);
  assert.deepEqual(planAgents(a), [{ agent: 'http://h1:1', body: { url: 'http://127.0.0.1:4001/v1/ping', kind: 'http', size: 1000 } }]);
  const m = ok(['--mesh', 'p', '--kind', 'udp', '--rate', '50', '--agent-port', '9000']);
  const peers = [
    { name: 'a', address: '127.0.0.1', labels: {}, source: 'p[0]' },
    { name: 'b', address: '::1', labels: {}, source: 'p[1]' },
    { name: 'c', address: '127.0.0.3', labels: {}, source: 'p[2]' },
  ];
  const plan = planMesh(m, peers);
  assert.equal(plan.length, 6);
  const ab = plan.find((p) => p.from === 'a' && p.to === 'b')!;
  assert.equal(ab.agent, 'http://127.0.0.1:9000');
  assert.deepEqual(ab.body, { kind: 'udp', address: '[::1]:4000', rate: 50 });
  assert.equal(plan.find((p) => p.from === 'b' && p.to === 'c')!.agent, 'http://[::1]:9000');
  assert.deepEqual(peerTarget('127.0.0.2', 'icmp', null), { kind: 'icmp', address: '127.0.0.2' });
  assert.deepEqual(peerTarget('127.0.0.2', 'http', 8080), { kind: 'http', url: 'http://127.0.0.2:8080/v1/ping' });
});

test('output: rows with figures or the error; the matrix', () => {
  const res = {
    sent: 10,
    received: 9,
    loss_ratio: 0.1,
    rtt_seconds: { min: 0.001, avg: 0.002, max: 0.004, stddev: 0, p50: 0.002, p90: 0.003, p99: 0.004 },
    jitter_seconds: 0.0005,
    throughput_bytes_per_second: 3 * 1024 * 1024,
  };
  const outs: AgentOutcome[] = [
    {
      agent: 'http://a:1',
      from: 'a',
      to: 'b',
      error: null,
      test: { id: '1', state: 'done', kind: 'http', target: null, address: 'http://b/v1/ping', result: res },
    },
    { agent: 'http://b:1', from: 'b', to: 'a', error: 'HTTP 401: missing token', test: null },
  ];
  const rows = formatRows(outs).split('\n');
  assert.match(rows[0], /^FROM\s+TO\s+AGENT\s+TARGET/);
  assert.match(rows[1], /^a\s+b\s+http:\/\/a:1\s+http:\/\/b\/v1\/ping\s+done\s+10\s+9\s+10\.0\s+1\.000\s+2\.000\s+4\.000\s+4\.000\s+0\.500\s+3\.0 MiB\/s$/);
  assert.match(rows[2], /^b\s+a\s+http:\/\/b:1\s+-\s+error/);
  assert.equal(rows[3], 'b -> a: HTTP 401: missing token');
  const m = formatMatrix(['a', 'b'], outs).split('\n');
  assert.equal(m[0], 'loss% / avg RTT ms');
  assert.match(m[2], /^a\s+\.\s+10\.0% \/ 2\.000$/);
  assert.match(m[3], /^b\s+error\s+\.$/);
});
