/**
 * mesh.peers_dns end to end: fleetprobe runs inside a network namespace this test
 * creates, whose resolv.conf names a real DNS server (dnsmasq) on the namespace's own
 * loopback. The name's A records are the peers, all loopback addresses inside the
 * namespace, so every probe and every query stays in it. A changed answer changes the
 * mesh at the next dns.refresh_interval; a DNS outage keeps the last peers, is
 * reported, and stops nothing.
 *
 * Needs root (namespaces, raw ICMP sockets) and dnsmasq (Debian dnsmasq-base).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExporterProcess, tempDir, waitFor } from '../helpers/exporter-process.js';
import { createNetns, netnsUnavailable } from '../helpers/netns.js';
import { startDnsmasq, lookupInNetns } from '../helpers/dnsmasq.js';

const NAME = 'fleetprobe-mesh.mesh.test';
const LISTEN = '127.0.0.1:9798'; // the namespace's own loopback: no clash with the host

interface ApiTarget {
  name: string;
  state: string;
  source?: string;
}
interface Status {
  targets: { mesh_self: string | null };
  mesh_dns: { name: string; peers: string[]; lookups: number; failures: number; last_success: string | null; error: string | null } | null;
}

test(
  'mesh peers come from DNS A records, follow a changed answer, and survive a DNS outage',
  { skip: netnsUnavailable(['ip', 'dnsmasq']), timeout: 90_000 },
  async (t) => {
    const ns = createNetns(`fp-pdns-${process.pid}`, { resolvConf: 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' });
    t.after(() => ns.destroy());
    const dns = await startDnsmasq(ns.name, 'mesh.test', NAME, ['127.0.0.2', '127.0.0.3']);
    t.after(() => dns.stop());
    assert.equal(lookupInNetns(ns.name, `other.mesh.test`), 'ENOTFOUND', 'dnsmasq answers only the test name');

    const dir = tempDir('fp-pdns');
    t.after(() => dir.cleanup());
    const cfg = dir.file('mesh-dns.yaml', {
      workers: 1,
      flush_interval: '100ms',
      web: { listen_address: LISTEN },
      dns: { refresh_interval: '1s' },
      probe_defaults: { interval: '200ms', timeout: '500ms' },
      // A configured target that must keep running whatever DNS does.
      targets: [{ name: 'lo', address: '127.0.0.1' }],
      mesh: { peers_dns: NAME, kinds: ['icmp'] },
    });
    const proc = new ExporterProcess(['run', '--config', cfg], LISTEN, { netns: ns.name });
    t.after(async () => void (await proc.stop()));
    await proc.waitReady(20_000);

    const view = async () => {
      const status = JSON.parse((await proc.request('/api/v1/status')).text()) as Status;
      const targets = (JSON.parse((await proc.request('/api/v1/targets')).text()) as { targets: ApiTarget[] }).targets;
      return { status, names: targets.map((x) => x.name).sort(), targets };
    };
    const received = async (target: string) => (await proc.scrape()).value('fleetprobe_probe_received_total', { target }) ?? 0;
    const sent = async (target: string) => (await proc.scrape()).value('fleetprobe_probe_sent_total', { target }) ?? 0;

    // 1. The first answer is the mesh from the start.
    let v = await view();
    assert.deepEqual(v.names, ['127.0.0.2/icmp', '127.0.0.3/icmp', 'lo'], proc.tail());
    assert.ok(
      v.targets.every((x) => x.state === 'ok'),
      JSON.stringify(v.targets),
    );
    assert.equal(v.targets.find((x) => x.name === '127.0.0.2/icmp')?.source, `mesh.peers_dns ${NAME} (mesh icmp)`);
    assert.deepEqual(v.status.mesh_dns?.peers, ['127.0.0.2', '127.0.0.3']);
    assert.equal(v.status.mesh_dns?.error, null);
    await waitFor('answers from both DNS peers', async () => (await received('127.0.0.2/icmp')) > 0 && (await received('127.0.0.3/icmp')) > 0, 10_000);
    let m = await proc.scrape();
    assert.equal(m.value('fleetprobe_mesh_dns_peers'), 2);
    assert.ok((m.value('fleetprobe_mesh_dns_lookups_total') ?? 0) >= 1);
    assert.equal(m.value('fleetprobe_mesh_dns_lookup_failures_total'), 0);
    assert.ok((m.value('fleetprobe_mesh_dns_last_success_timestamp_seconds') ?? 0) > 1.6e9);

    // 2. A new answer: 127.0.0.2 left, 127.0.0.4 joined, and 127.0.0.1 (this node's own
    //    interface address) is self, not a target. No signal, no reload: the next refresh.
    const sent3Before = await sent('127.0.0.3/icmp');
    await dns.answer(['127.0.0.1', '127.0.0.3', '127.0.0.4']);
    v = await waitFor(
      'the mesh to follow the new answer',
      async () => {
        const w = await view();
        return w.names.join() === ['127.0.0.3/icmp', '127.0.0.4/icmp', 'lo'].join() ? w : undefined;
      },
      15_000,
    );
    assert.equal(v.status.targets.mesh_self, '127.0.0.1');
    assert.deepEqual(v.status.mesh_dns?.peers, ['127.0.0.1', '127.0.0.3', '127.0.0.4']);
    await waitFor('answers from the peer that joined', async () => (await received('127.0.0.4/icmp')) > 0, 10_000);
    m = await proc.scrape();
    assert.ok((m.value('fleetprobe_probe_sent_total', { target: '127.0.0.3/icmp' }) ?? 0) >= sent3Before, 'a peer that stays keeps its counters');
    assert.equal(m.find('fleetprobe_probe_sent_total', { target: '127.0.0.2/icmp' }).length, 0, 'the peer that left is gone');
    assert.equal(m.value('fleetprobe_mesh_dns_peers'), 3);

    // 3. DNS goes away: lookups fail, are counted and shown, and the last peers keep probing.
    await dns.stop();
    const failuresAt = await waitFor(
      'a failed lookup to be counted',
      async () => {
        const n = (await proc.scrape()).value('fleetprobe_mesh_dns_lookup_failures_total') ?? 0;
        return n > 0 ? n : undefined;
      },
      15_000,
    );
    assert.ok(failuresAt >= 1);
    v = await view();
    assert.deepEqual(v.names, ['127.0.0.3/icmp', '127.0.0.4/icmp', 'lo'], 'the last good peers are kept');
    assert.match(v.status.mesh_dns?.error ?? '', /^(EAI_AGAIN|ECONNREFUSED|ETIMEOUT|ENOTFOUND): /);
    assert.deepEqual(v.status.mesh_dns?.peers, ['127.0.0.1', '127.0.0.3', '127.0.0.4']);
    const before = { lo: await received('lo'), peer: await received('127.0.0.4/icmp') };
    await waitFor(
      'probing to go on during the outage',
      async () => (await received('lo')) > before.lo && (await received('127.0.0.4/icmp')) > before.peer,
      10_000,
    );
    assert.match(proc.stdout + proc.stderr, /mesh\.peers_dns lookup failed; keeping the last peers/);
    assert.equal(proc.exit, null, 'still running');
  },
);
