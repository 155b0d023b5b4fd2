import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meshTargets, meshPorts, normaliseIp, ownAddresses, responderListenHosts } from '../../src/targets/mesh.js';
import { parsePeers } from '../../src/targets/peers.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { MeshConfig } from '../../src/config/types.js';

const defaults = () => loadConfig({ argv: [], env: {} }).probeDefaults;
function mesh(over: Partial<MeshConfig> = {}): MeshConfig {
  return {
    name: null,
    peers: [
      { name: 'n1', address: '127.0.0.1', labels: {}, source: 'mesh.peers[0]' },
      { name: 'n2', address: '127.0.0.2', labels: { rack: 'r2' }, source: 'mesh.peers[1]' },
      { name: 'n6', address: '::1', labels: {}, source: 'mesh.peers[2]' },
    ],
    peersFile: null,
    peersDns: null,
    kinds: ['icmp', 'tcp_echo', 'udp', 'http', 'tcp'],
    ...over,
  };
}

test('self recognised by configured name is skipped; targets are <peer>/<kind> with responder ports', () => {
  const r = meshTargets(mesh({ name: 'n1' }), defaults(), meshPorts(null), new Set());
  assert.equal(r.self, 'n1');
  assert.deepEqual(
    r.targets.filter((t) => t.name.startsWith('n2/')).map((t) => [t.name, t.kind, t.address, t.url]),
    [
      ['n2/icmp', 'icmp', '127.0.0.2', undefined],
      ['n2/tcp_echo', 'tcp_echo', '127.0.0.2:4000', undefined],
      ['n2/udp', 'udp', '127.0.0.2:4000', undefined],
      ['n2/http', 'http', '127.0.0.2:4001', 'http://127.0.0.2:4001/v1/ping'],
      ['n2/tcp', 'tcp', '127.0.0.2:4000', undefined],
    ],
  );
  assert.equal(
    r.targets.some((t) => t.name.startsWith('n1/')),
    false,
  );
  assert.deepEqual(r.targets.find((t) => t.name === 'n6/udp')?.address, '[::1]:4000');
  assert.equal(r.targets.find((t) => t.name === 'n6/http')?.url, 'http://[::1]:4001/v1/ping');
  // The peer and the prober are labels of their own (the name packs them as "<peer>/<kind>").
  assert.deepEqual(r.targets.find((t) => t.name === 'n2/icmp')?.labels, { rack: 'r2', peer: 'n2', prober: 'n1' });
  assert.deepEqual(r.targets.find((t) => t.name === 'n6/udp')?.labels, { peer: 'n6', prober: 'n1' });
  assert.equal(r.prober, 'n1');
  assert.equal(r.targets.length, 10);
});

test("without a name, self is the peer with one of this host's addresses (normalised)", () => {
  const r = meshTargets(mesh(), defaults(), meshPorts(null), new Set([normaliseIp('0:0:0:0:0:0:0:1')]));
  assert.equal(r.self, 'n6');
  assert.equal(
    r.targets.some((t) => t.name.startsWith('n6/')),
    false,
  );
  // The real interfaces of this machine include loopback 127.0.0.1.
  const real = meshTargets(mesh({ kinds: ['icmp'] }), defaults(), meshPorts(null), ownAddresses());
  assert.ok(real.self === 'n1' || real.self === 'n6', String(real.self));
});

test('an unknown self name or no matching address probes every peer', () => {
  assert.equal(meshTargets(mesh({ name: 'other' }), defaults(), meshPorts(null), new Set()).targets.length, 15);
  assert.equal(meshTargets(mesh(), defaults(), meshPorts(null), new Set(['127.0.0.99'])).self, null);
});

test("mesh ports follow this node's responder listeners", () => {
  const p = meshPorts({ tcpEcho: '127.0.0.1:5000', udpEcho: '[::1]:5001', http: ':5002' });
  assert.deepEqual(p, { tcpEcho: 5000, udpEcho: 5001, http: 5002, httpPath: '/v1/ping' });
  assert.deepEqual(meshPorts({ tcpEcho: '127.0.0.1:0', udpEcho: null, http: null }).tcpEcho, 4000);
});

test('normaliseIp folds case, zones and v4-mapped addresses', () => {
  assert.equal(normaliseIp('FE80::1%eth0'), 'fe80::1');
  assert.equal(normaliseIp('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(normaliseIp('0::1'), '::1');
  assert.equal(normaliseIp('127.0.0.1'), '127.0.0.1');
});

test('without a name, the responder listen address identifies self before interface addresses', () => {
  // Nodes sharing one machine share its interface addresses (127.0.0.1 here); the address
  // a node's responder listens on tells them apart.
  const listen = responderListenHosts({ tcpEcho: '127.0.0.2:4000', udpEcho: '127.0.0.2:4000', http: '127.0.0.2:4001' });
  assert.deepEqual([...listen], ['127.0.0.2']);
  const r = meshTargets(mesh(), defaults(), meshPorts(null), new Set(['127.0.0.1']), listen);
  assert.equal(r.self, 'n2');
  assert.equal(
    r.targets.some((t) => t.name.startsWith('n2/')),
    false,
  );
  assert.ok(r.targets.some((t) => t.name.startsWith('n1/')));
  // Wildcard listeners say nothing about self: fall back to interface addresses.
  assert.deepEqual([...responderListenHosts({ tcpEcho: '0.0.0.0:4000', udpEcho: ':4000', http: '[::]:4001' })], []);
  assert.equal(meshTargets(mesh(), defaults(), meshPorts(null), new Set(['127.0.0.1']), new Set()).self, 'n1');
});

test('the prober label is self, else mesh.name, else the host name; it and peer override probe_defaults.labels', () => {
  const d = { ...defaults(), labels: { peer: 'x', prober: 'y', zone: 'z1' } };
  const bySelf = meshTargets(mesh(), d, meshPorts(null), new Set(['127.0.0.2']), new Set(), () => 'host-1');
  assert.equal(bySelf.prober, 'n2');
  assert.deepEqual(bySelf.targets.find((t) => t.name === 'n1/icmp')?.labels, { zone: 'z1', peer: 'n1', prober: 'n2' });
  const byName = meshTargets(mesh({ name: 'outside' }), d, meshPorts(null), new Set(), new Set(), () => 'host-1');
  assert.equal(byName.self, null);
  assert.equal(byName.prober, 'outside');
  const byHost = meshTargets(mesh(), d, meshPorts(null), new Set(['127.0.0.99']), new Set(), () => 'host-1');
  assert.equal(byHost.prober, 'host-1');
  for (const t of byHost.targets) assert.equal(t.labels.prober, 'host-1');
  assert.deepEqual(new Set(byHost.targets.map((t) => t.labels.peer)), new Set(['n1', 'n2', 'n6']));
});

test('peer labels named peer or prober are refused (fleetprobe sets them); the label cap counts them', () => {
  const bad = parsePeers([{ name: 'a', address: '127.0.0.1', labels: { peer: 'b', prober: 'c', rack: 'r1' } }], 'mesh.peers');
  assert.deepEqual(bad.peers, []);
  assert.deepEqual(
    bad.problems.map((p) => p.key),
    ['mesh.peers[0].labels.peer', 'mesh.peers[0].labels.prober'],
  );
  assert.match(bad.problems[0].message, /set by fleetprobe on mesh targets/);
  // 31 own labels + peer + prober = 33 > 32.
  const labels = Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`l${i}`, 'v']));
  const dir = mkdtempSync(join(tmpdir(), 'fp-mesh-labels-'));
  try {
    const cfg = join(dir, 'c.json');
    writeFileSync(cfg, JSON.stringify({ mesh: { peers: [{ name: 'a', address: '127.0.0.1', labels }] } }));
    assert.throws(
      () => loadConfig({ argv: ['--config', cfg], env: {} }),
      (e: Error) =>
        /33 labels.*mesh targets also carry peer and prober/.test(String((e as { problems?: { message: string }[] }).problems?.map((p) => p.message))),
    );
    writeFileSync(cfg, JSON.stringify({ mesh: { peers: [{ name: 'a', address: '127.0.0.1', labels: { l0: 'v' } }] } }));
    assert.equal(loadConfig({ argv: ['--config', cfg], env: {} }).mesh.peers.length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
