import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DnsPeers, mergePeers, peersFromAddresses } from '../../src/targets/peers-dns.js';
import { loadTargets } from '../../src/targets/sources.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import type { LookupAll } from '../../src/targets/resolve.js';
import type { MeshPeer } from '../../src/config/types.js';

const HOST = 'fleetprobe-mesh.mesh.test';

test('an answer becomes peers named by their address: normalised, deduplicated, sorted', () => {
  const peers = peersFromAddresses(HOST, ['127.0.0.10', '127.0.0.9', '::1', '0:0::1', '::ffff:127.0.0.9', '127.0.0.2'], 'system');
  assert.deepEqual(
    peers.map((p) => [p.name, p.address]),
    [
      ['127.0.0.2', '127.0.0.2'],
      ['127.0.0.9', '127.0.0.9'],
      ['127.0.0.10', '127.0.0.10'],
      ['::1', '::1'],
    ],
  );
  assert.equal(peers[0].source, `mesh.peers_dns ${HOST}`);
  assert.deepEqual(peers[0].labels, {});
  // A resolver rotating its answers (round robin) gives the same peer set.
  assert.deepEqual(peersFromAddresses(HOST, ['127.0.0.2', '::1', '127.0.0.10', '127.0.0.9'], 'system'), peers);
});

test('dns.prefer keeps one family when the answer has it (a dual-stack pod is one peer), else all', () => {
  const both = ['127.0.0.2', '::1', '127.0.0.3'];
  assert.deepEqual(
    peersFromAddresses(HOST, both, 'ipv4').map((p) => p.address),
    ['127.0.0.2', '127.0.0.3'],
  );
  assert.deepEqual(
    peersFromAddresses(HOST, both, 'ipv6').map((p) => p.address),
    ['::1'],
  );
  assert.deepEqual(
    peersFromAddresses(HOST, ['127.0.0.2'], 'ipv6').map((p) => p.address),
    ['127.0.0.2'],
  );
  assert.deepEqual(peersFromAddresses(HOST, [], 'system'), []);
});

test('configured peers win over DNS peers with the same address or name', () => {
  const configured: MeshPeer[] = [
    { name: 'node-a', address: '127.0.0.2', labels: { rack: 'r1' }, source: 'mesh.peers[0]' },
    { name: '127.0.0.4', address: 'node-b.mesh.test', labels: {}, source: 'mesh.peers[1]' },
  ];
  const dns = peersFromAddresses(HOST, ['127.0.0.2', '127.0.0.3', '127.0.0.4'], 'system');
  assert.deepEqual(
    mergePeers(configured, dns).map((p) => p.name),
    ['node-a', '127.0.0.4', '127.0.0.3'],
  );
  assert.equal(mergePeers(configured, dns)[1].source, 'mesh.peers[1]');
});

/** A lookup whose answer the test sets: only to inject failures the real resolver cannot produce on cue. */
function scripted(): { lookup: LookupAll; answer: string[] | Error; calls: number } {
  const s = {
    answer: [] as string[] | Error,
    calls: 0,
    lookup: (() => {
      s.calls++;
      if (s.answer instanceof Error) return Promise.reject(s.answer);
      return Promise.resolve(s.answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
    }) as LookupAll,
  };
  return s;
}

test('a failed lookup keeps the last good peers and is reported; recovery is a change', async () => {
  const s = scripted();
  const lookups: Array<string | null> = [];
  const d = new DnsPeers({
    host: HOST,
    refreshIntervalMs: 60_000,
    prefer: 'system',
    lookup: s.lookup,
    onLookup: (e) => lookups.push(e?.code ?? null),
    now: () => 1_700_000_000_000,
  });
  s.answer = Object.assign(new Error(`getaddrinfo ENOTFOUND ${HOST}`), { code: 'ENOTFOUND' });
  assert.equal(await d.refresh(), false);
  assert.deepEqual(d.peers(), []);
  assert.deepEqual(d.status().error, { code: 'ENOTFOUND', message: `getaddrinfo ENOTFOUND ${HOST}` });
  assert.equal(d.status().lastSuccessAt, null);

  s.answer = ['127.0.0.3', '127.0.0.2'];
  assert.equal(await d.refresh(), true);
  assert.deepEqual(d.status().peers, ['127.0.0.2', '127.0.0.3']);
  assert.equal(d.status().error, null);
  assert.equal(d.status().lastSuccessAt, 1_700_000_000_000);
  assert.equal(await d.refresh(), false, 'the same answer is no change');

  s.answer = Object.assign(new Error('getaddrinfo EAI_AGAIN'), { code: 'EAI_AGAIN' });
  assert.equal(await d.refresh(), false);
  assert.deepEqual(d.status().peers, ['127.0.0.2', '127.0.0.3'], 'the last good peers are kept');
  assert.equal(d.status().error?.code, 'EAI_AGAIN');

  s.answer = ['127.0.0.3', '127.0.0.4'];
  assert.equal(await d.refresh(), true);
  assert.deepEqual(d.status().peers, ['127.0.0.3', '127.0.0.4']);
  assert.deepEqual(lookups, ['ENOTFOUND', null, null, 'EAI_AGAIN', null]);
  assert.deepEqual([d.status().lookups, d.status().failures], [5, 2]);
});

test('an empty answer and a hung lookup are failures too (ENODATA, ETIMEOUT)', async () => {
  const s = scripted();
  const d = new DnsPeers({ host: HOST, refreshIntervalMs: 60_000, prefer: 'system', lookup: s.lookup, timeoutMs: 50 });
  s.answer = ['127.0.0.2'];
  await d.refresh();
  s.answer = [];
  await d.refresh();
  assert.equal(d.status().error?.code, 'ENODATA');
  const hung = new DnsPeers({ host: HOST, refreshIntervalMs: 60_000, prefer: 'system', timeoutMs: 50, lookup: () => new Promise(() => {}) });
  await hung.refresh();
  assert.equal(hung.status().error?.code, 'ETIMEOUT');
  assert.deepEqual(d.status().peers, ['127.0.0.2']);
});

test('start() looks up at once, then on its interval, and reports changes only', async () => {
  const s = scripted();
  s.answer = ['127.0.0.2'];
  const changes: string[][] = [];
  const d = new DnsPeers({ host: HOST, refreshIntervalMs: 20, prefer: 'system', lookup: s.lookup, onChange: (p) => changes.push(p.map((x) => x.address)) });
  await d.start();
  assert.equal(s.calls, 1);
  assert.deepEqual(d.status().peers, ['127.0.0.2']);
  s.answer = ['127.0.0.2', '127.0.0.5'];
  const deadline = Date.now() + 5000;
  while (changes.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  d.stop();
  const calls = s.calls;
  assert.deepEqual(changes, [['127.0.0.2', '127.0.0.5']]);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(s.calls, calls, 'stop() ends the refreshes');
});

test('mesh.peers_dns: a DNS name, checked with the config; its peers join the mesh targets', async () => {
  const c = loadConfig({ argv: ['--mesh.peers-dns', HOST, '--mesh.kinds', 'icmp,udp'], env: {} });
  assert.equal(c.mesh.peersDns, HOST);
  assert.equal(loadConfig({ argv: [], env: {} }).mesh.peersDns, null);
  assert.equal(loadConfig({ argv: [], env: { FLEETPROBE_MESH_PEERS_DNS: HOST } }).mesh.peersDns, HOST);
  for (const bad of ['127.0.0.1', 'not a name', 'x..y']) {
    assert.throws(
      () => loadConfig({ argv: ['--mesh.peers-dns', bad], env: {} }),
      (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.key === 'mesh.peers_dns'),
      bad,
    );
  }
  const dns = peersFromAddresses(HOST, ['127.0.0.2', '127.0.0.3'], 'system');
  const set = await loadTargets({ ...c, targets: [] }, { dnsPeers: dns, ownAddresses: new Set(['127.0.0.3']) });
  assert.equal(set.meshSelf, '127.0.0.3');
  assert.deepEqual(
    set.targets.map((t) => [t.name, t.address]),
    [
      ['127.0.0.2/icmp', '127.0.0.2'],
      ['127.0.0.2/udp', '127.0.0.2:4000'],
    ],
  );
});
