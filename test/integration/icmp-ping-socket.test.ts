/**
 * Unprivileged ICMP over Linux ping sockets (icmp.socket), end to end: fleetprobe run as
 * uid 65534 with no capability at all, inside a network namespace this test creates
 * (net.ipv4.ping_group_range is per namespace, so the host's setting is never touched).
 * With the namespace admitting the uid's group, `auto` falls back to ping sockets for
 * IPv4 and IPv6 and every probe is answered, timed by the kernel clock; `raw` refuses
 * with the reason; as root, `auto` keeps raw sockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { ExporterProcess, isRoot, tempDir, waitFor } from '../helpers/exporter-process.js';
import { createNetns, netnsUnavailable } from '../helpers/netns.js';

const SKIP = netnsUnavailable(['ip', 'setpriv']);
const UNPRIVILEGED = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', process.execPath];
const LISTEN = '127.0.0.1:9798'; // the namespace's own loopback

function config(socket: string): object {
  return {
    workers: 2,
    flush_interval: '100ms',
    web: { listen_address: LISTEN },
    icmp: { socket },
    probe_defaults: { interval: '50ms', timeout: '500ms' },
    targets: [
      { name: 'lo4', address: '127.0.0.1' },
      { name: 'lo4b', address: '127.0.0.2' },
      { name: 'lo6', address: '::1' },
    ],
  };
}

test(
  'icmp.socket auto as an unprivileged uid: ping sockets for IPv4 and IPv6, every probe answered, kernel-timed',
  { skip: SKIP, timeout: 90_000 },
  async (t) => {
    const dir = tempDir('fp-pingsock', { forOtherUsers: true });
    const ns = createNetns(`fp-pingsock-${process.pid}`);
    let exp: ExporterProcess | undefined;
    t.after(async () => {
      await exp?.stop(3000);
      ns.destroy();
      dir.cleanup();
    });
    ns.exec('sysctl', ['-q', '-w', 'net.ipv4.ping_group_range=65534 65534']);
    assert.equal(spawnSync(UNPRIVILEGED[0], [...UNPRIVILEGED.slice(1), '-e', '0']).status, 0, 'setpriv works here');
    const cfg = dir.file('auto.yaml', config('auto'));
    chmodSync(cfg, 0o644);
    exp = new ExporterProcess(['run', '--config', cfg], LISTEN, { netns: ns.name, runner: UNPRIVILEGED });
    await exp.waitReady(20_000);
    // Probe for a while, then compare sent and received at one scrape (a probe in flight
    // at that instant is at most one interval old: allow one per target).
    const m = await waitFor(
      'probes sent and answered',
      async () => {
        const s = await exp!.scrape();
        return (s.value('fleetprobe_probe_sent_total', { target: 'lo6' }) ?? 0) >= 40 && s;
      },
      30_000,
      250,
    );
    for (const family of ['ipv4', 'ipv6']) {
      const perWorker = [0, 1].map((w) => m.value('fleetprobe_worker_icmp_ping_socket', { worker: String(w), family }) ?? 0);
      assert.ok(
        perWorker.some((v) => v === 1),
        `a ${family} ping socket is open: ${perWorker.join(',')}`,
      );
      const bpf = [0, 1].map((w) => m.value('fleetprobe_worker_icmp_bpf_filter_attached', { worker: String(w), family }) ?? 0);
      assert.deepEqual(bpf, [0, 0], 'a ping socket has no BPF filter (the kernel delivers only its replies)');
    }
    for (const target of ['lo4', 'lo4b', 'lo6']) {
      const sent = m.value('fleetprobe_probe_sent_total', { target }) ?? 0;
      const received = m.value('fleetprobe_probe_received_total', { target }) ?? 0;
      assert.ok(sent >= 20, `${target}: sent ${sent}`);
      assert.ok(received >= sent - 1 && received <= sent, `${target}: received ${received} of ${sent}`);
      const timeouts = m.value('fleetprobe_probe_timeouts_total', { target }) ?? 0;
      assert.equal(timeouts, 0, `${target}: no timeout on loopback`);
    }
    const kernel = [0, 1].reduce((a, w) => a + (m.value('fleetprobe_worker_icmp_rtt_clock_total', { worker: String(w), clock: 'kernel' }) ?? 0), 0);
    const monotonic = [0, 1].reduce((a, w) => a + (m.value('fleetprobe_worker_icmp_rtt_clock_total', { worker: String(w), clock: 'monotonic' }) ?? 0), 0);
    assert.ok(kernel > 0 && monotonic === 0, `kernel receive timestamps on ping sockets: kernel ${kernel}, monotonic ${monotonic}`);
    const status = JSON.parse((await exp.request('/api/v1/status')).text()) as {
      workers: Array<{ icmpSockets: { ipv4: string | null; ipv6: string | null } }>;
    };
    const kinds = status.workers.flatMap((w) => [w.icmpSockets.ipv4, w.icmpSockets.ipv6]).filter((k) => k !== null);
    assert.ok(
      kinds.length >= 2 && kinds.every((k) => k === 'dgram'),
      `the status names the ping sockets: ${JSON.stringify(status.workers.map((w) => w.icmpSockets))}`,
    );
    const dropped = m.sum('fleetprobe_worker_dropped_packets_total');
    assert.equal(dropped, 0, 'nothing foreign reaches a ping socket');
    const stop = await exp.stop(5000);
    assert.equal(stop.code, 0, exp.tail());
  },
);

test('icmp.socket raw as an unprivileged uid refuses every ICMP target, naming CAP_NET_RAW', { skip: SKIP, timeout: 60_000 }, async (t) => {
  const dir = tempDir('fp-pingsock-raw', { forOtherUsers: true });
  const ns = createNetns(`fp-pingsock-raw-${process.pid}`);
  let exp: ExporterProcess | undefined;
  t.after(async () => {
    await exp?.stop(3000);
    ns.destroy();
    dir.cleanup();
  });
  ns.exec('sysctl', ['-q', '-w', 'net.ipv4.ping_group_range=65534 65534']);
  const cfg = dir.file('raw.yaml', config('raw'));
  chmodSync(cfg, 0o644);
  exp = new ExporterProcess(['run', '--config', cfg], LISTEN, { netns: ns.name, runner: UNPRIVILEGED });
  const reason = await waitFor(
    '/readyz 503',
    async () => {
      if (exp!.exit) throw new Error(`exited\n${exp!.tail()}`);
      const r = await exp!.request('/readyz');
      return r.status === 503 && /no target can be probed/.test(r.text()) && r.text();
    },
    30_000,
    250,
  );
  assert.match(reason, /icmp: .*(not permitted|EPERM)/i);
});

test('as root, icmp.socket auto keeps raw sockets', { skip: SKIP || (!isRoot && 'needs root'), timeout: 60_000 }, async (t) => {
  const dir = tempDir('fp-pingsock-root');
  const ns = createNetns(`fp-pingsock-root-${process.pid}`);
  let exp: ExporterProcess | undefined;
  t.after(async () => {
    await exp?.stop(3000);
    ns.destroy();
    dir.cleanup();
  });
  exp = new ExporterProcess(['run', '--config', dir.file('root.yaml', config('auto'))], LISTEN, { netns: ns.name });
  await exp.waitReady(20_000);
  const m = await waitFor(
    'an ICMPv4 socket open',
    async () => {
      const s = await exp!.scrape();
      return [0, 1].some((w) => s.value('fleetprobe_worker_icmp_socket_open', { worker: String(w), family: 'ipv4' }) === 1) && s;
    },
    20_000,
    250,
  );
  for (const w of [0, 1]) assert.notEqual(m.value('fleetprobe_worker_icmp_ping_socket', { worker: String(w), family: 'ipv4' }), 1, 'raw, not a ping socket');
});
