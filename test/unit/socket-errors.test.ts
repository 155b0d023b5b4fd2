import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorReason } from '../../src/protocol/events.js';
import { connectErrorReason, errorCode, establishedErrorReason } from '../../workers/probes/socket-errors.js';

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
