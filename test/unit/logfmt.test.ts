/**
 * logfmt lines from pino records, and the logger's format switch: escaping that keeps
 * one record on one line, key order, flattening, and JSON staying the default.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { encodeValue, jsonLineToLogfmt, toLogfmt } from '../../src/logfmt.js';
import { createLogger, setLogFormat } from '../../src/logger.js';

test('values are quoted and escaped only when they must be', () => {
  assert.equal(encodeValue('plain'), 'plain');
  assert.equal(encodeValue(''), '""');
  assert.equal(encodeValue('two words'), '"two words"');
  assert.equal(encodeValue('a=b'), '"a=b"');
  assert.equal(encodeValue('say "hi"'), '"say \\"hi\\""');
  assert.equal(encodeValue('back\\slash'), 'back\\slash', 'a backslash alone needs no quotes');
  assert.equal(encodeValue('line1\nline2'), '"line1\\nline2"');
  assert.equal(encodeValue('cr\rtab\t'), '"cr\\rtab\\t"');
  assert.equal(encodeValue('bell\u0007'), '"bell\\u0007"');
  assert.equal(encodeValue('http://127.0.0.1:9798/metrics'), 'http://127.0.0.1:9798/metrics');
});

test('a record: time, level (as a name), msg first; nested objects flattened; arrays as JSON', () => {
  const line = toLogfmt({
    level: 50,
    time: '2026-01-02T03:04:05.000Z',
    pid: 7,
    name: 'fleetprobe',
    component: 'supervisor',
    err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at x (y.js:1:1)' },
    problems: [{ key: 'a' }],
    empty: {},
    none: null,
    ok: true,
    msg: 'worker 0 crashed',
  });
  assert.equal(
    line,
    'time=2026-01-02T03:04:05.000Z level=error msg="worker 0 crashed" pid=7 name=fleetprobe component=supervisor ' +
      'err.type=Error err.message=boom err.stack="Error: boom\\n    at x (y.js:1:1)" problems="[{\\"key\\":\\"a\\"}]" empty={} none=null ok=true',
  );
  assert.ok(!line.includes('\n'));
  // A hostile key cannot forge a pair.
  assert.equal(toLogfmt({ 'a b=c': 1 }), 'a_b_c=1');
});

test('pino JSON lines become logfmt lines; anything else passes through', () => {
  assert.equal(jsonLineToLogfmt('{"level":30,"time":"t","msg":"hi"}\n'), 'time=t level=info msg=hi\n');
  assert.equal(jsonLineToLogfmt('not json\n'), 'not json\n');
});

function capture(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(
        ...chunk
          .toString('utf8')
          .split('\n')
          .filter((l) => l !== ''),
      );
      cb();
    },
  });
  return { stream, lines };
}

test('the logger writes JSON by default and logfmt once switched, children included', async () => {
  const { stream, lines } = capture();
  const logger = createLogger('info', 'fleetprobe', 'json', stream);
  const child = logger.child({ component: 'responder' });
  child.info({ port: 4000 }, 'listening');
  setLogFormat(logger, 'logfmt');
  child.info({ port: 4001 }, 'listening again');
  logger.debug({}, 'below the level');
  await new Promise((r) => setImmediate(r));
  assert.equal(lines.length, 2, lines.join('\n'));
  const first = JSON.parse(lines[0]) as Record<string, unknown>;
  assert.equal(first.msg, 'listening');
  assert.equal(first.component, 'responder');
  assert.match(lines[1], /^time=\S+ level=info msg="listening again" pid=\d+ name=fleetprobe component=responder port=4001$/);
});
