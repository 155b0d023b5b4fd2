import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fineRttBuckets, loopbackAddress, loopbackAddresses, spreadIndexes, targetEntries } from '../../load-tests/loopback-fleet.js';

test('loopback addresses are distinct, inside 127.0.0.0/8, and skip host parts 0 and 255', () => {
  const addrs = loopbackAddresses(60_000);
  assert.equal(new Set(addrs).size, 60_000);
  for (const a of addrs) {
    const p = a.split('.').map(Number);
    assert.equal(p[0], 127, a);
    assert.ok(p[3] >= 1 && p[3] <= 254, a);
    assert.ok(
      p.every((x) => Number.isInteger(x) && x >= 0 && x <= 255),
      a,
    );
  }
  assert.equal(loopbackAddress(0), '127.0.0.1');
  assert.equal(loopbackAddress(253), '127.0.0.254');
  assert.equal(loopbackAddress(254), '127.0.1.1');
  assert.equal(loopbackAddress(254 * 256), '127.1.0.1');
  assert.throws(() => loopbackAddress(-1), RangeError);
  assert.throws(() => loopbackAddress(256 * 256 * 254), RangeError);
});

test('spreadIndexes picks k distinct indexes spanning first to last', () => {
  assert.deepEqual(spreadIndexes(1000, 5), [0, 250, 500, 749, 999]);
  assert.deepEqual(spreadIndexes(3, 5), [0, 1, 2]);
  assert.deepEqual(spreadIndexes(10, 1), [0]);
  assert.deepEqual(spreadIndexes(0, 3), []);
});

test('targetEntries spreads tcp, tcp_echo, udp and http targets round-robin over the responder endpoints', () => {
  const eps = [
    { host: '127.0.0.1', port: 4000 },
    { host: '127.0.0.2', port: 4001 },
  ];
  const tcp = targetEntries('tcp_echo', 3, eps);
  assert.deepEqual(
    tcp.map((e) => e.address),
    ['127.0.0.1:4000', '127.0.0.2:4001', '127.0.0.1:4000'],
  );
  assert.deepEqual(
    tcp.map((e) => e.kind),
    ['tcp_echo', 'tcp_echo', 'tcp_echo'],
  );
  assert.deepEqual(targetEntries('tcp', 1, eps), [{ name: 't0', kind: 'tcp', address: '127.0.0.1:4000' }]);
  const udp = targetEntries('udp', 3, eps);
  assert.deepEqual(
    udp.map((e) => [e.kind, e.address]),
    [
      ['udp', '127.0.0.1:4000'],
      ['udp', '127.0.0.2:4001'],
      ['udp', '127.0.0.1:4000'],
    ],
  );
  const http = targetEntries('http', 2, eps);
  assert.deepEqual(
    http.map((e) => e.url),
    ['http://127.0.0.1:4000/v1/ping', 'http://127.0.0.2:4001/v1/ping'],
  );
  assert.equal(new Set(targetEntries('icmp', 500).map((e) => e.name)).size, 500);
  assert.throws(() => targetEntries('http', 1, []));
});

test('fine RTT buckets step evenly to 1 ms, then rise strictly to 10 s', () => {
  const b = fineRttBuckets(5);
  assert.equal(b[0], 0.000005);
  assert.equal(b[199], 0.001);
  assert.equal(b[b.length - 1], 10);
  for (let i = 1; i < b.length; i++) assert.ok(b[i] > b[i - 1], `bucket ${i}`);
  assert.equal(fineRttBuckets(10).length, 100 + 16);
  assert.throws(() => fineRttBuckets(7), RangeError);
});
