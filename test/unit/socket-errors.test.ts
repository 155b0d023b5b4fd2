import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorReason } from '../../src/protocol/events.js';
import { connectErrorReason, errorCode, establishedErrorReason } from '../../workers/probes/socket-errors.js';
import { boolOption, enumOption, numberOption, stringOption } from '../../workers/probes/target-options.js';

test('connect errors map to refused, unreachable, dns and connect_failed', () => {
  assert.equal(connectErrorReason('ECONNREFUSED'), ErrorReason.refused);
  assert.equal(connectErrorReason('ENETUNREACH'), ErrorReason.net_unreachable);
  assert.equal(connectErrorReason('EHOSTUNREACH'), ErrorReason.host_unreachable);
  assert.equal(connectErrorReason('ENOTFOUND'), ErrorReason.dns);
  assert.equal(connectErrorReason('EAI_AGAIN'), ErrorReason.dns);
  assert.equal(connectErrorReason('EADDRNOTAVAIL'), ErrorReason.connect_failed);
  assert.equal(connectErrorReason(undefined), ErrorReason.connect_failed);
});

test('errors on an established connection map to reset or closed', () => {
  assert.equal(establishedErrorReason('ECONNRESET'), ErrorReason.reset);
  assert.equal(establishedErrorReason('EPIPE'), ErrorReason.reset);
  assert.equal(establishedErrorReason('ETIMEDOUT'), ErrorReason.closed);
  assert.equal(establishedErrorReason(undefined), ErrorReason.closed);
});

test('errorCode reads a string code and nothing else', () => {
  assert.equal(errorCode(Object.assign(new Error('x'), { code: 'EPIPE' })), 'EPIPE');
  assert.equal(errorCode({ code: 5 }), undefined);
  assert.equal(errorCode(null), undefined);
  assert.equal(errorCode('ECONNRESET'), undefined);
});

test('option readers return defaults for missing values and reject wrong ones', () => {
  assert.equal(numberOption({}, 'n', 7, 0, 10), 7);
  assert.equal(numberOption(undefined, 'n', 7, 0, 10), 7);
  assert.equal(numberOption({ n: null }, 'n', 7, 0, 10), 7);
  assert.equal(numberOption({ n: 3 }, 'n', 7, 0, 10), 3);
  assert.equal(numberOption({ n: '4' }, 'n', 7, 0, 10), 4);
  assert.throws(() => numberOption({ n: 11 }, 'n', 7, 0, 10), /option n/);
  assert.throws(() => numberOption({ n: 'x' }, 'n', 7, 0, 10), /option n/);
  assert.throws(() => numberOption({ n: '' }, 'n', 7, 0, 10), /option n/);
  assert.equal(boolOption({}, 'b', true), true);
  assert.equal(boolOption({ b: false }, 'b', true), false);
  assert.equal(boolOption({ b: 'true' }, 'b', false), true);
  assert.throws(() => boolOption({ b: 1 }, 'b', false), /option b/);
  assert.equal(stringOption({ s: 'v' }, 's', 'd'), 'v');
  assert.equal(stringOption({}, 's', 'd'), 'd');
  assert.throws(() => stringOption({ s: 1 }, 's', 'd'), /option s/);
  assert.equal(enumOption({ e: 'fin' }, 'e', 'reset', ['reset', 'fin']), 'fin');
  assert.throws(() => enumOption({ e: 'x' }, 'e', 'reset', ['reset', 'fin']), /option e/);
});
