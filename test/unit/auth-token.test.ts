import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorizeRead, bearerToken, checkBearer, tokenMatches, tokenProblem } from '../../src/auth/token.js';

test('tokenProblem: printable ASCII without spaces, not empty', () => {
  assert.equal(tokenProblem('s3cr3t-token_OK.~'), null);
  assert.equal(tokenProblem(''), 'is empty');
  for (const bad of ['a b', 'a\tb', 'line\n', 'é', '\x7f']) assert.match(tokenProblem(bad) ?? '', /printable ASCII/, JSON.stringify(bad));
});

test('bearerToken: scheme case-insensitive, surrounding spaces tolerated, anything else null', () => {
  assert.equal(bearerToken('Bearer abc'), 'abc');
  assert.equal(bearerToken('bearer   abc  '), 'abc');
  assert.equal(bearerToken('BEARER a.b-c'), 'a.b-c');
  for (const bad of [undefined, '', 'Bearer', 'Bearer ', 'Basic abc', 'Bearer a b', 'abc']) assert.equal(bearerToken(bad), null, String(bad));
});

test('tokenMatches compares whole tokens only (prefixes, case and length differences fail)', () => {
  assert.equal(tokenMatches('abc', 'abc'), true);
  for (const other of ['ab', 'abcd', 'ABC', '', 'abd']) assert.equal(tokenMatches(other, 'abc'), false, other);
});

test('reads are open unless a token is configured and required for reads', () => {
  assert.deepEqual(authorizeRead({ token: null, requireTokenForReads: false }, undefined), { ok: true });
  assert.deepEqual(authorizeRead({ token: 't0k', requireTokenForReads: false }, undefined), { ok: true });
  assert.deepEqual(authorizeRead({ token: 't0k', requireTokenForReads: false }, 'Bearer wrong'), { ok: true });
  const need = { token: 't0k', requireTokenForReads: true };
  assert.deepEqual(authorizeRead(need, 'Bearer t0k'), { ok: true });
  const missing = authorizeRead(need, undefined);
  assert.equal(missing.ok, false);
  if (!missing.ok) assert.equal(missing.code, 'missing_token');
  const wrong = authorizeRead(need, 'Bearer t0K');
  assert.equal(wrong.ok, false);
  if (!wrong.ok) {
    assert.equal(wrong.code, 'bad_token');
    assert.doesNotMatch(wrong.message, /t0k/i, 'the message never shows a token');
  }
});

test('checkBearer: the mutation rule (token always required)', () => {
  assert.deepEqual(checkBearer('x', 'Bearer x'), { ok: true });
  assert.equal(checkBearer('x', 'Basic eA==').ok, false);
});
