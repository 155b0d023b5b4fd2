import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorReason } from '../../src/protocol/events.js';
import { statusAccepted, statusErrorReason, statusTable } from '../../workers/probes/http-status.js';
import { parseExpectStatus } from '../../src/kinds/http-expect-status.js';
import { defaultOptions } from '../../src/kinds/index.js';

/** The one parser (the kind's, on the main thread) and the prober's table built from its ranges. */
function table(spec: unknown): Uint8Array {
  const ranges = parseExpectStatus(spec);
  if (typeof ranges === 'string') throw new Error(`expect_status ${ranges}`);
  return statusTable(ranges);
}
const acceptedBy = (t: Uint8Array): number[] => {
  const out: number[] = [];
  for (let s = 0; s < 600; s++) if (statusAccepted(t, s)) out.push(s);
  return out;
};
const accepted = (spec: unknown): number[] => acceptedBy(table(spec));
const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

test('expect_status defaults to 2xx', () => {
  // Unset, the http kind's default applies before the target reaches the prober.
  assert.deepEqual(acceptedBy(statusTable(defaultOptions('http', { timeoutMs: 1000 }).expectStatus)), range(200, 299));
  assert.deepEqual(accepted('2xx'), range(200, 299));
});

test('expect_status reads classes, codes, ranges and lists', () => {
  assert.deepEqual(accepted('2xx,3xx'), range(200, 399));
  assert.deepEqual(accepted('2XX, 301'), [...range(200, 299), 301]);
  assert.deepEqual(accepted([200, 204]), [200, 204]);
  assert.deepEqual(accepted(['200', '4xx']), [200, ...range(400, 499)]);
  assert.deepEqual(accepted('200-204'), range(200, 204));
  assert.deepEqual(accepted(503), [503]);
  assert.deepEqual(accepted('200,204'), [200, 204]);
});

test('expect_status rejects what it cannot read', () => {
  for (const bad of ['', '6xx', 'abc', '99', 600, 200.5, [], '300-200', true, {}, null, undefined, '200,']) {
    assert.equal(typeof parseExpectStatus(bad), 'string', JSON.stringify(bad));
    assert.throws(() => table(bad), /expect_status/, JSON.stringify(bad));
  }
});

test('statusAccepted is false outside 0..599', () => {
  const t = table('2xx');
  assert.equal(statusAccepted(t, 600), false);
  assert.equal(statusAccepted(t, -1), false);
});

test('unaccepted statuses map to status_4xx / status_5xx / status_other', () => {
  assert.equal(statusErrorReason(404), ErrorReason.status_4xx);
  assert.equal(statusErrorReason(400), ErrorReason.status_4xx);
  assert.equal(statusErrorReason(499), ErrorReason.status_4xx);
  assert.equal(statusErrorReason(503), ErrorReason.status_5xx);
  assert.equal(statusErrorReason(301), ErrorReason.status_other);
  assert.equal(statusErrorReason(200), ErrorReason.status_other);
  assert.equal(statusErrorReason(101), ErrorReason.status_other);
});
