import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSubscribeRequest } from '../../src/grpc/request.js';

test('a subscribe message gives the selection and the mode', () => {
  assert.deepEqual(parseSubscribeRequest({ request: 'subscribe', subscribe: { mode: 'POLL', targets: ['a', 'b'], labels: [{ name: 'rack', value: 'r1' }] } }), {
    ok: true,
    selection: { targets: ['a', 'b'], labels: [{ name: 'rack', value: 'r1' }] },
    mode: 'poll',
  });
  for (const [wire, mode] of [
    ['STREAM', 'stream'],
    ['ONCE', 'once'],
  ] as const) {
    const r = parseSubscribeRequest({ request: 'subscribe', subscribe: { mode: wire } });
    assert.ok(r.ok && r.mode === mode && r.selection.targets.length === 0);
  }
});

test('the first message must be a subscribe', () => {
  for (const msg of [{ request: 'poll', poll: {} }, {}, { request: 'subscribe', subscribe: null }]) {
    const r = parseSubscribeRequest(msg);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.problems[0], /first message must carry "subscribe"/);
  }
});

test('every problem of a subscribe is listed: unknown mode number, empty names, bad matchers', () => {
  const r = parseSubscribeRequest({
    request: 'subscribe',
    subscribe: {
      mode: 7,
      targets: ['a', ''],
      labels: [
        { name: '', value: 'x' },
        { name: 'target', value: 'a' },
        { name: 'rack', value: 'r1' },
      ],
    },
  });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.problems.length, 4, r.problems.join('\n'));
  assert.match(r.problems[0], /mode 7 is not one of STREAM, ONCE, POLL/);
  assert.match(r.problems[1], /targets\[1\] is empty/);
  assert.match(r.problems[2], /labels\[0\]: has no name/);
  assert.match(r.problems[3], /labels\[1\]: .*cannot be matched/);
});
