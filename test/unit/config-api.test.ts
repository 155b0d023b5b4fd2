import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ConfigError } from '../../src/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'fleetprobe-config-api-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const load = (yaml: string, argv: string[] = [], env: Record<string, string> = {}) => loadConfig({ argv: ['--config', file('c.yaml', yaml), ...argv], env });
function problems(fn: () => unknown): ConfigError['problems'] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.problems;
  }
  assert.fail('expected a ConfigError');
}

test('defaults: no token, gRPC off, stream limits', () => {
  const c = load('targets: []\n');
  assert.deepEqual(c.api, { token: null, tokenFile: null, requireTokenForReads: false, stateFile: null, maxTargets: 10_000 });
  assert.deepEqual(c.grpc, { listenAddress: null });
  assert.deepEqual(c.stream, { maxClients: 128, maxBufferBytes: 1_048_576, stateIntervalMs: 10_000, stallTimeoutMs: 30_000 });
});

test('grpc.listen_address and stream.* from file, variable and flag', () => {
  const c = load('grpc: {listen_address: "127.0.0.1:9799"}\nstream: {max_clients: 5, state_interval: 2s}\n', ['--stream.max-buffer-bytes', '4096'], {
    FLEETPROBE_STREAM_STALL_TIMEOUT: '5s',
  });
  assert.equal(c.grpc.listenAddress, '127.0.0.1:9799');
  assert.deepEqual(c.stream, { maxClients: 5, maxBufferBytes: 4096, stateIntervalMs: 2000, stallTimeoutMs: 5000 });
  assert.equal(load('targets: []\n', ['--grpc.listen-address', '[::1]:0']).grpc.listenAddress, '[::1]:0');
});

test('api.token inline, or from api.token_file relative to the config file (whitespace trimmed)', () => {
  assert.equal(load('api: {token: "s3cret"}\n').api.token, 's3cret');
  file('token.txt', '  t0ken-from-file\n');
  const c = load('api: {token_file: token.txt, require_token_for_reads: true}\n');
  assert.equal(c.api.token, 't0ken-from-file');
  assert.equal(c.api.tokenFile, join(dir, 'token.txt'));
  assert.equal(c.api.requireTokenForReads, true);
  assert.equal(load('targets: []\n', [], { FLEETPROBE_API_TOKEN: 'from-env' }).api.token, 'from-env');
});

test('bad token settings are config errors naming the key, every one in one pass, never printing the token', () => {
  file('empty.txt', ' \n');
  const ps = problems(() => load('api: {token_file: empty.txt}\ngrpc: {listen_address: "nope"}\nstream: {max_clients: 0}\n'));
  const keys = ps.map((p) => p.key).sort();
  assert.deepEqual(keys, ['api.token_file', 'grpc.listen_address', 'stream.max_clients']);
  assert.match(ps.find((p) => p.key === 'api.token_file')!.message, /empty\.txt is empty/);

  const missing = problems(() => load('api: {token_file: /nonexistent/token}\n'));
  assert.deepEqual(
    missing.map((p) => [p.key, p.message]),
    [['api.token_file', 'cannot read /nonexistent/token: ENOENT']],
  );

  const both = problems(() => load('api: {token: abc, token_file: token.txt}\n'));
  assert.deepEqual(
    both.map((p) => p.key),
    ['api.token'],
  );

  const spaces = problems(() => load('api: {token: "my secret token"}\n'));
  assert.equal(spaces[0].key, 'api.token');
  assert.match(spaces[0].message, /printable ASCII/);
  assert.ok(!JSON.stringify(spaces).includes('my secret token'), 'the token is not in the error');

  const reads = problems(() => load('api: {require_token_for_reads: true}\n'));
  assert.deepEqual(
    reads.map((p) => [p.key, p.message]),
    [['api.require_token_for_reads', 'needs api.token or api.token_file']],
  );
});

test('a missing token file is named together with other bad leaf values (one pass)', () => {
  const ps = problems(() => load('api: {token_file: missing-token.txt}\nworkers: 0\n'));
  assert.deepEqual(ps.map((x) => x.key).sort(), ['api.token_file', 'workers']);
});

test('api.state_file is relative to the config file; api.max_targets is bounded (0 turns adding off)', () => {
  const c = load('api: {state_file: state/api.json, max_targets: 0}\n');
  assert.equal(c.api.stateFile, join(dir, 'state', 'api.json'));
  assert.equal(c.api.maxTargets, 0);
  assert.equal(load('targets: []\n', ['--api.max-targets', '5', '--api.state-file', '/var/lib/fleetprobe/api.json']).api.maxTargets, 5);
  assert.equal(load('targets: []\n', [], { FLEETPROBE_API_STATE_FILE: '/x/y.json' }).api.stateFile, '/x/y.json');
  const ps = problems(() => load('api: {state_file: "", max_targets: 1000001}\n'));
  assert.deepEqual(ps.map((p) => p.key).sort(), ['api.max_targets', 'api.state_file']);
  assert.match(ps.find((p) => p.key === 'api.max_targets')!.message, /between 0 and 1000000/);
});
