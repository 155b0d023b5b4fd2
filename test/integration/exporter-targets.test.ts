/**
 * Bad targets at run time never stop the good ones: a target file with one bad
 * entry (rejected alone, reported with its reason) and a host name that does not
 * resolve (reported as unresolved, counted as errors{reason="resolve"}), while the
 * other targets are probed.
 *
 * The exporter runs inside a network namespace this test creates, with its own
 * resolv.conf pointing at a loopback address where no DNS server listens: the failed
 * lookup of `does-not-exist.invalid` never leaves the namespace (no query reaches the
 * host's DNS server). Needs root (namespaces, raw ICMP sockets).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExporterProcess, tempDir, waitFor } from '../helpers/exporter-process.js';
import { createNetns, netnsUnavailable } from '../helpers/netns.js';

const SKIP = netnsUnavailable(['ip']);

interface ApiTarget {
  name: string;
  state: string;
  error?: string;
  source?: string;
}

test('a bad target-file entry is rejected alone and an unresolvable name is reported; the others are probed', { skip: SKIP, timeout: 45_000 }, async (t) => {
  const dir = tempDir('fp-targets');
  // Any free port works: the namespace has nothing else listening.
  const listen = '127.0.0.1:9798';
  const ns = createNetns(`fp-tgt-${process.pid}`, { resolvConf: 'nameserver 127.0.0.53\noptions timeout:1 attempts:1\n' });
  let exp: ExporterProcess | undefined;
  t.after(async () => {
    await exp?.stop(2000);
    ns.destroy();
    dir.cleanup();
  });
  dir.file('targets.json', [
    { name: 'f-ok', address: '127.0.0.2' },
    { name: 'f-bad', address: '127.0.0.3', interval: 'soon' },
  ]);
  const cfg = dir.file('c.yaml', {
    workers: 2,
    flush_interval: '100ms',
    web: { listen_address: listen },
    dns: { refresh_interval: '1s' },
    probe_defaults: { interval: '100ms', timeout: '500ms' },
    targets: [
      { name: 'lo4', address: '127.0.0.1' },
      { name: 'ghost', address: 'does-not-exist.invalid' },
    ],
    target_files: ['targets.json'],
  });
  exp = new ExporterProcess(['run', '--config', cfg], listen, { netns: ns.name });
  await exp.waitReady(15_000);

  const api = JSON.parse((await exp.request('/api/v1/targets')).text()) as { targets: ApiTarget[] };
  const byName = new Map(api.targets.map((x) => [x.name, x]));
  assert.equal(byName.get('lo4')?.state, 'ok', JSON.stringify(api));
  assert.equal(byName.get('f-ok')?.state, 'ok', JSON.stringify(api));
  const bad = byName.get('f-bad');
  assert.equal(bad?.state, 'rejected', JSON.stringify(api));
  assert.match(bad.error ?? '', /interval/, 'the reason names the bad field');
  assert.match(bad.source ?? '', /targets\.json\[1\]/, 'the source names file and entry');
  const ghost = byName.get('ghost');
  assert.equal(ghost?.state, 'unresolved', JSON.stringify(api));
  assert.ok((ghost.error ?? '').length > 0, 'unresolved carries the resolver error');

  const first = await exp.scrape();
  const m = await waitFor(
    'lo4 and f-ok to keep replying, ghost to count resolve errors',
    async () => {
      const x = await exp.scrape();
      return (
        ['lo4', 'f-ok'].every(
          (n) => x.value('fleetprobe_probe_received_total', { target: n })! >= first.value('fleetprobe_probe_received_total', { target: n })! + 5,
        ) && x
      );
    },
    10_000,
    250,
  );
  assert.equal(m.value('fleetprobe_targets', { state: 'rejected' }), 1);
  assert.equal(m.value('fleetprobe_targets', { state: 'unresolved' }), 1);
  assert.ok(m.value('fleetprobe_probe_errors_total', { target: 'ghost', reason: 'resolve' })! >= 1, 'errors_total{reason="resolve"} for ghost');
  assert.equal(m.value('fleetprobe_probe_received_total', { target: 'ghost' }), 0);
  assert.equal(m.find('fleetprobe_probe_sent_total', { target: 'f-bad' }).length, 0, 'a rejected entry has no series');
  for (const n of ['lo4', 'f-ok']) {
    assert.equal(m.value('fleetprobe_probe_timeouts_total', { target: n }), 0, `${n} timeouts`);
    assert.equal(m.sum('fleetprobe_probe_errors_total', { target: n }), 0, `${n} errors`);
  }
  const stop = await exp.stop(5000);
  assert.equal(stop.killed, false, exp.tail());
});
