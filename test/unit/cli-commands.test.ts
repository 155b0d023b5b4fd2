/**
 * The CLI's command table (pure): suggestions for typos, help texts of every command,
 * the quick prober's --target forms, and the "nothing probeable" readiness rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COMMAND_NAMES, COMMANDS, editDistance, generalHelp, suggestCommand, unknownCommandMessage } from '../../src/commands.js';
import { targetFromFlag } from '../../src/targets/flag-target.js';
import { nothingProbeable, type ProbeCounts } from '../../src/readiness.js';

test('edit distance counts an adjacent transposition as one edit', () => {
  assert.equal(editDistance('rnu', 'run'), 1);
  assert.equal(editDistance('run', 'run'), 0);
  assert.equal(editDistance('', 'run'), 3);
  assert.equal(editDistance('respnoder', 'responder'), 1);
  assert.equal(editDistance('kitten', 'sitting'), 3);
});

test('a typo of a command is suggested; a word far from every command is not', () => {
  const cases: Array<[string, string | null]> = [
    ['rnu', 'run'],
    ['runn', 'run'],
    ['Run', 'run'],
    ['responer', 'responder'],
    ['resp', 'responder'],
    ['chek-config', 'check-config'],
    ['check', 'check-config'],
    ['checkconfig', 'check-config'],
    ['verison', 'version'],
    ['hepl', 'help'],
    ['x', null],
    ['probe', null],
    ['serve', null],
  ];
  for (const [word, want] of cases) assert.equal(suggestCommand(word), want, word);
});

test('the unknown-command message names the word, the suggestion and the commands; an address hints at --target', () => {
  assert.equal(
    unknownCommandMessage('rnu'),
    'fleetprobe: unknown command "rnu" (did you mean "run"?); commands: run, responder, check-config, test, version, help; see fleetprobe --help',
  );
  assert.match(unknownCommandMessage('127.0.0.1'), /unknown command "127\.0\.0\.1" \(to probe it: fleetprobe run --target 127\.0\.0\.1\)/);
  assert.match(unknownCommandMessage('zzz'), /^fleetprobe: unknown command "zzz"; commands:/);
});

test('every command has a help text that starts with its own usage line', () => {
  for (const name of COMMAND_NAMES) {
    const text = COMMANDS[name].help();
    assert.ok(text.startsWith(`usage: ${COMMANDS[name].usage}\n`), `${name}: ${text.slice(0, 80)}`);
    assert.ok(text.endsWith('\n'), `${name} help ends with a newline`);
    assert.ok(COMMANDS[name].usage.includes(name === 'run' ? '[run]' : name), `${name}: usage names the command`);
  }
  // run documents every flag; the responder only its own keys.
  assert.match(COMMANDS.run.help(), /--probe-defaults\.interval VALUE/);
  assert.match(COMMANDS.run.help(), /--target ADDRESS/);
  assert.match(COMMANDS.run.help(), /--log\.format VALUE/);
  assert.match(COMMANDS.responder.help(), /--responder\.tcp-echo VALUE/);
  assert.doesNotMatch(COMMANDS.responder.help(), /--probe-defaults\.interval/);
  assert.match(COMMANDS.responder.help(), /"off" turns one off/);
  const general = generalHelp();
  for (const name of COMMAND_NAMES) assert.ok(general.includes(COMMANDS[name].usage), `general help lists ${name}`);
});

test('--target: the kind follows from the form of the address', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['127.0.0.1', { name: '127.0.0.1', kind: 'icmp', address: '127.0.0.1' }],
    ['::1', { name: '::1', kind: 'icmp', address: '::1' }],
    ['localhost', { name: 'localhost', kind: 'icmp', address: 'localhost' }],
    ['127.0.0.1:22', { name: '127.0.0.1:22', kind: 'tcp', address: '127.0.0.1:22' }],
    ['[::1]:22', { name: '[::1]:22', kind: 'tcp', address: '[::1]:22' }],
    ['http://127.0.0.1:8080/x', { name: 'http://127.0.0.1:8080/x', kind: 'http', url: 'http://127.0.0.1:8080/x' }],
    ['HTTPS://127.0.0.1/', { name: 'HTTPS://127.0.0.1/', kind: 'http', url: 'HTTPS://127.0.0.1/' }],
    ['tcp://127.0.0.1:4000', { name: 'tcp://127.0.0.1:4000', kind: 'tcp', address: '127.0.0.1:4000' }],
    ['tcp-echo://127.0.0.1:4000', { name: 'tcp-echo://127.0.0.1:4000', kind: 'tcp_echo', address: '127.0.0.1:4000' }],
    ['tcp_echo://127.0.0.1:4000', { name: 'tcp_echo://127.0.0.1:4000', kind: 'tcp_echo', address: '127.0.0.1:4000' }],
    ['udp://[::1]:4000', { name: 'udp://[::1]:4000', kind: 'udp', address: '[::1]:4000' }],
    ['icmp://127.0.0.2/', { name: 'icmp://127.0.0.2/', kind: 'icmp', address: '127.0.0.2' }],
  ];
  for (const [flag, entry] of cases) assert.deepEqual(targetFromFlag(flag), { ok: true, entry }, flag);
  const bad = targetFromFlag('ftp://127.0.0.1');
  assert.equal(bad.ok, false);
  assert.match((bad as { message: string }).message, /unknown scheme "ftp:\/\/"; use http:\/\/, https:\/\/, tcp:\/\//);
  assert.equal(targetFromFlag('  ').ok, false);
});

const counts = (over: Partial<ProbeCounts>): ProbeCounts => ({ configured: 0, probing: 0, refused: 0, unresolved: 0, rejected: 0, notOwned: 0, ...over });

test('nothing probeable: not ready only when targets were given and none is probed', () => {
  // Something is probed: ready, whatever else failed.
  assert.equal(nothingProbeable(counts({ configured: 5, probing: 1, refused: 4, rejected: 3 })), null);
  // No target asked for (empty list, "[]" file): ready.
  assert.equal(nothingProbeable(counts({})), null);
  // Every target belongs to other shards: ready, even with bad entries in the shared file.
  assert.equal(nothingProbeable(counts({ notOwned: 10, rejected: 2 })), null);
  // Every target refused by the workers (no CAP_NET_RAW): not ready, with the reason.
  assert.equal(
    nothingProbeable(counts({ configured: 2, refused: 2, refusalExample: 'lo4: icmp: cannot open raw ICMPv4 socket' })),
    'no target can be probed: of 2 configured, 2 refused by the workers (lo4: icmp: cannot open raw ICMPv4 socket)',
  );
  assert.equal(nothingProbeable(counts({ configured: 3, unresolved: 3 })), 'no target can be probed: of 3 configured, 3 unresolved');
  // Every entry rejected when read (or the only file failed): not ready.
  assert.equal(nothingProbeable(counts({ rejected: 4 })), 'no target can be probed: of 4 configured, 4 rejected when read');
  assert.equal(
    nothingProbeable(counts({ configured: 3, refused: 1, unresolved: 2, rejected: 1 })),
    'no target can be probed: of 4 configured, 1 refused by the workers, 2 unresolved, 1 rejected when read',
  );
});
