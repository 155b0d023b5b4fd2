import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration, formatDuration, isDuration, DurationError } from '../../src/values/duration.js';

test('durations with units parse to milliseconds', () => {
  const cases: Array<[string, number]> = [
    ['250ms', 250],
    ['1s', 1000],
    ['1.5s', 1500],
    ['1m', 60_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['500us', 0.5],
    ['500µs', 0.5],
    ['1000ns', 0.001],
    ['1m30s', 90_000],
    ['1h1m1s1ms', 3_661_001],
    ['0s', 0],
    ['.5s', 500],
    [' 2s ', 2000],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

test('a bare number is refused with a message that asks for a unit', () => {
  for (const v of [1, '1', '1.5', '0', 250]) {
    assert.throws(
      () => parseDuration(v),
      (e: unknown) => e instanceof DurationError && /no unit/.test(e.message),
      String(v),
    );
  }
});

test('malformed, negative, empty and non-string durations are refused', () => {
  for (const v of ['', '1x', 's', '1 s', '-1s', '1s2', 'ms', '1.s', true, null, {}, '1e3ms']) {
    assert.throws(() => parseDuration(v), DurationError, JSON.stringify(v));
    assert.equal(isDuration(v), false);
  }
  assert.equal(isDuration('1s'), true);
});

test('formatDuration renders the shortest exact form and round-trips', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(250), '250ms');
  assert.equal(formatDuration(1000), '1s');
  assert.equal(formatDuration(90_000), '1m30s');
  assert.equal(formatDuration(3_601_500), '1h1s500ms');
  assert.equal(formatDuration(0.5), '500us');
  for (const ms of [1, 999, 1001, 59_999, 3_600_000, 86_400_000 + 1]) assert.equal(parseDuration(formatDuration(ms)), ms);
});
