import { test } from 'node:test';
import assert from 'node:assert/strict';
import { identityAddress, sameTarget, targetKey, type TargetIdentity } from '../../src/targets/key.js';
import { PROBE_KINDS } from '../../src/targets/model.js';

test('identity is name, kind and configured address (the url for http); sameTarget agrees with targetKey on every pair', () => {
  const names = ['a', 'b', 'a\u0001b', 'a b'];
  const addresses = [undefined, '', '127.0.0.1', '127.0.0.1:4000', 'host.example'];
  const urls = [undefined, 'http://127.0.0.1:4001/v1/ping'];
  const all: TargetIdentity[] = [];
  for (const name of names) for (const kind of PROBE_KINDS) for (const address of addresses) for (const url of urls) all.push({ name, kind, address, url });
  let same = 0;
  for (const a of all) {
    for (const b of all) {
      const byKey = targetKey(a) === targetKey(b);
      assert.equal(sameTarget(a, b), byKey, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      assert.equal(byKey, a.name === b.name && a.kind === b.kind && identityAddress(a) === identityAddress(b));
      if (byKey) same++;
    }
  }
  assert.ok(same > all.length, 'distinct definitions of the same target exist (address vs url, labels left out)');
});

test('labels and settings are not identity', () => {
  const a = { name: 't', kind: 'icmp' as const, address: '127.0.0.1', labels: { rack: 'r1' }, intervalMs: 1000 };
  const b = { name: 't', kind: 'icmp' as const, address: '127.0.0.1', labels: { rack: 'r2' }, intervalMs: 50 };
  assert.equal(sameTarget(a, b), true);
  assert.equal(targetKey(a), targetKey(b));
  assert.equal(sameTarget(a, { ...b, address: '127.0.0.2' }), false);
  assert.equal(sameTarget(a, { ...b, kind: 'udp' }), false);
  assert.equal(sameTarget(a, { ...b, name: 'u' }), false);
});
