import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStreamQuery } from '../../src/stream/query.js';

const q = (s: string) => parseStreamQuery(new URLSearchParams(s));

test('no parameters: every target, stream mode', () => {
  assert.deepEqual(q(''), { ok: true, selection: { targets: [], labels: [] }, mode: 'stream' });
});

test('repeated target and label parameters keep their order; mode once', () => {
  const r = q('target=a&label=rack%3Dr1&target=b&label=zone=z1&mode=once');
  assert.deepEqual(r, {
    ok: true,
    selection: {
      targets: ['a', 'b'],
      labels: [
        { name: 'rack', value: 'r1' },
        { name: 'zone', value: 'z1' },
      ],
    },
    mode: 'once',
  });
});

test('every problem is listed at once', () => {
  const r = q('target=&label=rack&label=target%3Dx&mode=poll&mode=once&foo=1');
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.problems.length, 6, r.problems.join('\n'));
  assert.ok(r.problems.some((p) => /target= needs a target name/.test(p)));
  assert.ok(r.problems.some((p) => /label "rack" must be written key=value/.test(p)));
  assert.ok(r.problems.some((p) => /cannot be matched/.test(p)));
  assert.ok(r.problems.some((p) => /unknown parameter "foo"/.test(p)));
  assert.ok(r.problems.some((p) => /mode is given 2 times/.test(p)));
  assert.ok(r.problems.some((p) => /mode "poll" is not one of stream, once \(poll is a gRPC mode/.test(p)));
});

test('an unknown mode is a problem', () => {
  const r = q('mode=STREAM');
  assert.equal(r.ok, false);
  if (!r.ok) assert.deepEqual(r.problems, ['mode "STREAM" is not one of stream, once']);
});
