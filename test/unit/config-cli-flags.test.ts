/**
 * Configuration from the command line alone: --target (a quick prober without a config
 * file, and without the embedded default's targets and responder), turning a responder
 * listener off by flag and by variable, log.format, file_watch; and the messages that
 * used to come out garbled, each pinned to its mended wording.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMAND_LINE_ONLY, ConfigError, loadConfig } from '../../src/config/index.js';
import { readErrorMessage, readStructuredFileSync } from '../../src/values/structured-file.js';
import { parseTargetEntry } from '../../src/targets/spec.js';
import { parseTargetDocument } from '../../src/targets/files.js';
import { dedupeTargets } from '../../src/targets/sources.js';
import type { RejectedTarget } from '../../src/targets/files.js';

function problemsOf(fn: () => unknown): ConfigError['problems'] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e.problems;
  }
  assert.fail('expected a ConfigError');
}

test('--target without --config: only those targets, no embedded default targets, no responder', () => {
  const c = loadConfig({
    argv: ['--target', '127.0.0.1', '--target=127.0.0.1:22', '--target', 'http://127.0.0.1:8080/', '--target', 'udp://127.0.0.1:7'],
    env: {},
  });
  assert.equal(c.configFile, COMMAND_LINE_ONLY);
  assert.deepEqual(
    c.targets.map((t) => [t.name, t.kind, t.address, t.source]),
    [
      ['127.0.0.1', 'icmp', '127.0.0.1', '--target[0]'],
      ['127.0.0.1:22', 'tcp', '127.0.0.1:22', '--target[1]'],
      ['http://127.0.0.1:8080/', 'http', '127.0.0.1:8080', '--target[2]'],
      ['udp://127.0.0.1:7', 'udp', '127.0.0.1:7', '--target[3]'],
    ],
  );
  assert.deepEqual([c.responder.tcpEcho, c.responder.udpEcho, c.responder.http], [null, null, null]);
  assert.deepEqual(c.targetFiles, []);
  // Other flags still apply, and a responder can be asked for.
  const d = loadConfig({ argv: ['--target', '127.0.0.1', '--probe-defaults.interval', '250ms', '--responder.tcp-echo', '127.0.0.1:4100'], env: {} });
  assert.equal(d.targets[0].intervalMs, 250);
  assert.equal(d.responder.tcpEcho, '127.0.0.1:4100');
});

test("--target with --config adds to the file's targets; bad, duplicate and empty --target values are named", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fp-flags-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = join(dir, 'c.yaml');
  writeFileSync(cfg, 'targets:\n  - { name: "127.0.0.2", address: 127.0.0.2 }\nresponder: { tcp_echo: "127.0.0.1:4000" }\n');
  const c = loadConfig({ argv: ['--config', cfg, '--target', '127.0.0.3'], env: {} });
  assert.deepEqual(
    c.targets.map((x) => x.name),
    ['127.0.0.2', '127.0.0.3'],
  );
  assert.equal(c.responder.tcpEcho, '127.0.0.1:4000', "the file's responder stays");
  const problems = problemsOf(() =>
    loadConfig({
      argv: [
        '--config',
        cfg,
        '--target',
        'foo bar',
        '--target',
        '127.0.0.2',
        '--target',
        '127.0.0.3',
        '--target',
        '127.0.0.3',
        '--target',
        'ftp://x',
        '--target',
      ],
      env: {},
    }),
  );
  assert.deepEqual(
    problems.map((p) => p.key),
    ['--target', '--target[0]', '--target[1]', '--target[3]', '--target[4]'],
    JSON.stringify(problems, null, 1),
  );
  assert.match(problems[1].message, /^address is neither a valid IPv4\/IPv6 address nor a valid host name$/);
  assert.match(problems[2].message, /names the same target as .*c\.yaml targets\[0\]/);
  assert.match(problems[3].message, /names the same target as --target\[2\]/);
});

test('a responder listener is turned off by "off" from a flag or a variable (also "", "null", and off in a file)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fp-off-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = join(dir, 'c.yaml');
  writeFileSync(cfg, 'responder: { tcp_echo: "127.0.0.1:4000", udp_echo: "127.0.0.1:4000", http: "127.0.0.1:4001" }\n');
  const on = loadConfig({ argv: ['--config', cfg], env: {} });
  assert.deepEqual([on.responder.tcpEcho, on.responder.udpEcho, on.responder.http], ['127.0.0.1:4000', '127.0.0.1:4000', '127.0.0.1:4001']);
  for (const off of ['off', 'OFF', 'null', '']) {
    for (const flag of [['--responder.tcp-echo', off], [`--responder.tcp-echo=${off}`]]) {
      const byFlag = loadConfig({ argv: ['--config', cfg, ...flag], env: {} });
      assert.equal(byFlag.responder.tcpEcho, null, `flag ${JSON.stringify(flag)}`);
      assert.equal(byFlag.responder.udpEcho, '127.0.0.1:4000');
    }
    const byEnv = loadConfig({ argv: ['--config', cfg], env: { FLEETPROBE_RESPONDER_HTTP: off } });
    assert.equal(byEnv.responder.http, null, `variable ${JSON.stringify(off)}`);
    assert.equal(byEnv.responder.tcpEcho, '127.0.0.1:4000');
  }
  writeFileSync(cfg, 'responder: { tcp_echo: "127.0.0.1:4000", udp_echo: off, http: null }\n');
  const file = loadConfig({ argv: ['--config', cfg], env: {} });
  assert.deepEqual([file.responder.tcpEcho, file.responder.udpEcho, file.responder.http], ['127.0.0.1:4000', null, null]);
  // Not a spelling of off: still an error naming the flag.
  const problems = problemsOf(() => loadConfig({ argv: ['--config', cfg, '--responder.tcp-echo', 'no'], env: {} }));
  assert.deepEqual(
    problems.map((p) => p.key),
    ['responder.tcp_echo'],
  );
  assert.match(problems[0].message, /\(from --responder\.tcp-echo\)/);
});

test('log.format is json by default, logfmt by flag or variable, and nothing else', () => {
  assert.equal(loadConfig({ argv: ['--target', '127.0.0.1'], env: {} }).log.format, 'json');
  assert.equal(loadConfig({ argv: ['--target', '127.0.0.1', '--log.format', 'logfmt'], env: {} }).log.format, 'logfmt');
  assert.equal(loadConfig({ argv: ['--target', '127.0.0.1'], env: { FLEETPROBE_LOG_FORMAT: 'logfmt' } }).log.format, 'logfmt');
  const problems = problemsOf(() => loadConfig({ argv: ['--target', '127.0.0.1', '--log.format', 'text', '--log.level', 'loud'], env: {} }));
  assert.deepEqual(
    problems.map((p) => [p.key, p.message]),
    [
      ['log.level', 'must be one of fatal, error, warn, info, debug, trace, silent (from --log.level)'],
      ['log.format', 'must be one of json, logfmt (from --log.format)'],
    ],
  );
});

test('file_watch: on by default, checked every 30s; the interval has bounds', () => {
  const c = loadConfig({ argv: ['--target', '127.0.0.1'], env: {} });
  assert.deepEqual(c.fileWatch, { enabled: true, checkIntervalMs: 30_000 });
  const d = loadConfig({ argv: ['--target', '127.0.0.1', '--file-watch.enabled', 'false', '--file-watch.check-interval', '5s'], env: {} });
  assert.deepEqual(d.fileWatch, { enabled: false, checkIntervalMs: 5000 });
  const problems = problemsOf(() => loadConfig({ argv: ['--target', '127.0.0.1', '--file-watch.check-interval', '100ms'], env: {} }));
  assert.deepEqual(
    problems.map((p) => [p.key, p.message]),
    [['file_watch.check_interval', 'must be between 1s and 1h (from --file-watch.check-interval)']],
  );
});

test('mended: "ENOENT" once, not "ENOENT ENOENT:"', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fp-enoent-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.throws(
    () => readStructuredFileSync(join(dir, 'missing.yaml')),
    (e: Error) => e.message === 'cannot be read: ENOENT: no such file or directory',
  );
  assert.equal(
    readErrorMessage(Object.assign(new Error("EACCES: permission denied, open '/x'"), { code: 'EACCES' })),
    'cannot be read: EACCES: permission denied',
  );
  assert.equal(readErrorMessage(Object.assign(new Error('odd'), { code: 'EIO' })), 'cannot be read: EIO: odd');
  const problems = problemsOf(() => loadConfig({ argv: ['--config', join(dir, 'nope.yaml')], env: {} }));
  assert.equal(problems[0].message, 'cannot be read: ENOENT: no such file or directory');
});

test('mended: an IPv6 address with a port reads well after its key and after "address"', () => {
  const parsed = parseTargetEntry({ name: 'x', kind: 'tcp', address: '::1:22' }, 't', loadConfig({ argv: ['--target', '127.0.0.1'], env: {} }).probeDefaults);
  assert.equal(parsed.ok, false);
  const message = (parsed as { problems: Array<{ message: string }> }).problems[0].message;
  assert.equal(message, 'address must be written "[ipv6]:port" (an IPv6 address with a port needs brackets)');
  const problems = problemsOf(() => loadConfig({ argv: ['--target', '127.0.0.1', '--web.listen-address', '::1:9798'], env: {} }));
  assert.equal(problems[0].message, 'must be written "[ipv6]:port" (an IPv6 address with a port needs brackets) (from --web.listen-address)');
});

test('mended: ConfigError says "invalid configuration" once', () => {
  const e = new ConfigError([{ key: 'a', value: 1, message: 'bad' }]);
  assert.equal(e.message.match(/invalid configuration/g)?.length, 1);
});

test('mended: a rejected target file entry keeps the kind and address it was written with', () => {
  const defaults = loadConfig({ argv: ['--target', '127.0.0.1'], env: {} }).probeDefaults;
  const load = parseTargetDocument(
    [
      { name: 'bad-tcp', kind: 'tcp', address: 'nope' },
      { name: 'bad-icmp', address: '1.2.3.999' },
      { name: 'bad-http', kind: 'http', url: 'ftp://x' },
      'not a mapping',
    ],
    'targets.json',
    defaults,
  );
  assert.deepEqual(
    load.rejected.map((r: RejectedTarget) => [r.name, r.kind, r.address]),
    [
      ['bad-tcp', 'tcp', 'nope'],
      ['bad-icmp', 'icmp', '1.2.3.999'],
      ['bad-http', 'http', 'ftp://x'],
      [undefined, undefined, undefined],
    ],
  );
  const sd = parseTargetDocument([{ targets: ['nope'], labels: { __kind__: 'tcp' } }], 'sd.json', defaults);
  assert.deepEqual(
    sd.rejected.map((r) => [r.name, r.kind, r.address]),
    [['nope', 'tcp', 'nope']],
  );
  const rejected: RejectedTarget[] = [];
  const first = loadConfig({ argv: ['--target', '127.0.0.1:5', '--target', 'tcp://127.0.0.1:6'], env: {} }).targets;
  dedupeTargets([first[0], { ...first[1], name: first[0].name, source: 'b.json[0]' }], rejected);
  assert.deepEqual(
    rejected.map((r) => [r.kind, r.address]),
    [['tcp', '127.0.0.1:6']],
  );
});
