import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Resolver, pickAddress, hostOf, type ResolutionChange } from '../../src/targets/resolve.js';
import type { TargetSpec } from '../../src/targets/model.js';
import { createNetns, netnsUnavailable } from '../helpers/netns.js';

function spec(name: string, kind: TargetSpec['kind'], address: string, url?: string) {
  return { name, kind, address, url };
}

test('the real resolver resolves localhost and literals from /etc/hosts, without DNS traffic', async () => {
  // Only names the hosts file answers: a lookup that reaches DNS would leave this machine.
  const seen: ResolutionChange[][] = [];
  const r = new Resolver({ refreshIntervalMs: 60_000, onChange: (c) => seen.push(c) });
  r.setTargets([
    spec('lh', 'icmp', 'localhost'),
    spec('lh-tcp', 'tcp', 'localhost:4000'),
    spec('lit', 'udp', '[::1]:4000'),
    spec('web', 'http', '127.0.0.1:4001', 'http://localhost:4001/v1/ping'),
  ]);
  const t0 = Date.now();
  const changes = await r.refresh();
  assert.ok(Date.now() - t0 < 5000);
  const lh = r.get('lh');
  assert.equal(lh?.status, 'ok');
  if (lh?.status === 'ok') {
    assert.ok(lh.ip === '127.0.0.1' || lh.ip === '::1', lh.ip);
    assert.ok(lh.addresses.includes(lh.ip));
  }
  assert.equal(r.get('lh-tcp')?.status, 'ok');
  assert.deepEqual(r.get('lit'), { status: 'ok', ip: '::1', family: 6, addresses: ['::1'] });
  assert.deepEqual(r.get('web'), { status: 'ok', ip: 'localhost', family: 4, addresses: [] });
  assert.equal(changes.length, 4);
  assert.equal(seen.length, 1);

  // A second refresh with the same answers reports no change (and does not call onChange).
  const again = await r.refresh();
  assert.deepEqual(again, []);
  assert.equal(seen.length, 1);
});

test('the real resolver reports a name that does not resolve and still resolves the others', (t) => {
  // The failing lookup runs in a child inside a network namespace whose resolv.conf names
  // a loopback resolver with nothing listening: the query fails there and never reaches
  // the host's DNS server.
  const why = netnsUnavailable(['ip']);
  if (why) return t.skip(why);
  const ns = createNetns(`fp-dns-${process.pid}`, { resolvConf: 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' });
  t.after(() => ns.destroy());
  const resolveModule = new URL('../../src/targets/resolve.js', import.meta.url).href;
  const script = `
    const { Resolver } = await import(${JSON.stringify(resolveModule)});
    const r = new Resolver({ refreshIntervalMs: 60000 });
    r.setTargets([
      { name: 'bad', kind: 'icmp', address: 'does-not-exist.invalid' },
      { name: 'lh', kind: 'icmp', address: 'localhost' },
      { name: 'lit', kind: 'icmp', address: '127.0.0.2' },
    ]);
    const t0 = Date.now();
    await r.refresh();
    console.log(JSON.stringify({ ms: Date.now() - t0, bad: r.get('bad'), lh: r.get('lh'), lit: r.get('lit') }));
  `;
  const out = JSON.parse(ns.exec(process.execPath, ['--input-type=module', '-e', script]).trim().split('\n').pop()!);
  assert.equal(out.bad.status, 'error');
  assert.ok(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'ECONNREFUSED'].includes(out.bad.code), out.bad.code);
  assert.match(out.bad.message, /does-not-exist\.invalid/);
  assert.equal(out.lh.status, 'ok');
  assert.deepEqual(out.lit, { status: 'ok', ip: '127.0.0.2', family: 4, addresses: ['127.0.0.2'] });
  assert.ok(out.ms < 5000, `refresh took ${out.ms} ms`);
});

test('a failing name is retried at the next refresh and its recovery is reported as a change', async () => {
  let fail = true;
  const r = new Resolver({
    refreshIntervalMs: 60_000,
    // Fault injection: the real resolver cannot be made to fail then recover on cue.
    lookup: (host) => {
      if (fail) return Promise.reject(Object.assign(new Error(`getaddrinfo EAI_AGAIN ${host}`), { code: 'EAI_AGAIN' }));
      return Promise.resolve([{ address: '127.0.0.7', family: 4 }]);
    },
  });
  r.setTargets([spec('flaky', 'icmp', 'flaky.test')]);
  const first = await r.refresh();
  assert.equal(first[0].current.status, 'error');
  fail = false;
  const second = await r.refresh();
  assert.equal(second.length, 1);
  assert.equal(second[0].previous?.status, 'error');
  assert.deepEqual(second[0].current, { status: 'ok', ip: '127.0.0.7', family: 4, addresses: ['127.0.0.7'] });
});

test('a lookup slower than the timeout is reported as ETIMEOUT without holding up fast names', async () => {
  const r = new Resolver({
    refreshIntervalMs: 60_000,
    timeoutMs: 50,
    concurrency: 1,
    lookup: (host) =>
      host === 'slow.test'
        ? new Promise((res) => setTimeout(() => res([{ address: '127.0.0.8', family: 4 }]), 300))
        : Promise.resolve([{ address: '127.0.0.9', family: 4 }]),
  });
  r.setTargets([spec('s', 'icmp', 'slow.test'), spec('f', 'icmp', 'fast.test')]);
  const t0 = Date.now();
  await r.refresh();
  assert.ok(Date.now() - t0 < 250);
  const s = r.get('s');
  assert.equal(s?.status === 'error' && s.code, 'ETIMEOUT');
  assert.equal(r.get('f')?.status, 'ok');
});

test("start() refreshes on its interval with an unref'ed timer; stop() ends it", async () => {
  let calls = 0;
  const r = new Resolver({ refreshIntervalMs: 30, lookup: () => (calls++, Promise.resolve([{ address: '127.0.0.1', family: 4 }])) });
  r.setTargets([spec('a', 'icmp', 'a.test')]);
  await r.start();
  await new Promise((res) => setTimeout(res, 140));
  r.stop();
  const after = calls;
  assert.ok(after >= 3, String(after));
  await new Promise((res) => setTimeout(res, 80));
  assert.equal(calls, after);
});

test('targets removed by setTargets are forgotten; a changed address is resolved afresh', async () => {
  const r = new Resolver({ refreshIntervalMs: 60_000, lookup: (h) => Promise.resolve([{ address: h === 'one.test' ? '127.0.0.1' : '127.0.0.2', family: 4 }]) });
  r.setTargets([spec('a', 'icmp', 'one.test'), spec('b', 'icmp', 'one.test')]);
  await r.refresh();
  r.setTargets([spec('a', 'icmp', 'two.test')]);
  assert.equal(r.get('b'), undefined);
  assert.equal(r.get('a'), undefined);
  const ch = await r.refresh();
  assert.equal(ch[0].current.status === 'ok' && ch[0].current.ip, '127.0.0.2');
});

test('pickAddress honours dns.prefer and hostOf extracts the host per kind', () => {
  const addrs = [
    { address: '::1', family: 6 },
    { address: '127.0.0.1', family: 4 },
  ];
  assert.deepEqual(pickAddress(addrs, 'system'), { address: '::1', family: 6 });
  assert.deepEqual(pickAddress(addrs, 'ipv4'), { address: '127.0.0.1', family: 4 });
  assert.deepEqual(pickAddress([addrs[1]], 'ipv6'), { address: '127.0.0.1', family: 4 });
  assert.equal(pickAddress([], 'system'), null);
  assert.equal(hostOf({ kind: 'tcp', address: '[::1]:80' }), '::1');
  assert.equal(hostOf({ kind: 'icmp', address: 'localhost' }), 'localhost');
  assert.equal(hostOf({ kind: 'http', address: 'x:1', url: 'http://x:1/' }), null);
});
