/**
 * The prober statistics that used to stay in the worker, as the running exporter
 * exports them: which clock timed each ICMP RTT, the state of each raw socket (open,
 * BPF and type filters, kernel timestamps), the generation each worker acknowledged,
 * and the store's stale and invalid records. ICMP on the loopback of a namespace this
 * test creates (so its fixed listen port is its own). Needs root.
 *
 * The clock counters and the reply counters travel in the same batches, so at every
 * scrape kernel + monotonic = received + late, exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExporterProcess, tempDir, waitFor, type Metrics } from '../helpers/exporter-process.js';
import { createNetns, netnsUnavailable } from '../helpers/netns.js';

const SKIP = netnsUnavailable(['ip']);

test('ICMP RTT clocks, socket state and acknowledged generations are exported with sane values', { skip: SKIP, timeout: 60_000 }, async (t) => {
  const dir = tempDir('fp-self-icmp');
  const listen = '127.0.0.1:9798';
  const ns = createNetns(`fp-self-${process.pid}`);
  let exp: ExporterProcess | undefined;
  t.after(async () => {
    await exp?.stop(3000);
    ns.destroy();
    dir.cleanup();
  });
  const targets = [
    { name: 'v4a', address: '127.0.0.1' },
    { name: 'v4b', address: '127.0.0.2' },
    { name: 'v4c', address: '127.0.0.3' },
    { name: 'v6', address: '::1' },
  ];
  const config = (list: typeof targets) => ({
    workers: 2,
    flush_interval: '100ms',
    web: { listen_address: listen },
    probe_defaults: { interval: '50ms', timeout: '500ms' },
    targets: list,
  });
  const cfg = dir.file('c.yaml', config(targets));
  exp = new ExporterProcess(['run', '--config', cfg], listen, { netns: ns.name });
  await exp.waitReady(15_000);

  const scrape = (): Promise<Metrics> => exp.scrape();
  let m = await waitFor(
    'every target answered',
    async () => {
      const s = await scrape();
      return targets.every((x) => (s.value('fleetprobe_probe_received_total', { target: x.name }) ?? 0) >= 5) && s;
    },
    15_000,
    100,
  );

  const kernel = m.sum('fleetprobe_worker_icmp_rtt_clock_total', { clock: 'kernel' });
  const monotonic = m.sum('fleetprobe_worker_icmp_rtt_clock_total', { clock: 'monotonic' });
  const answered = m.sum('fleetprobe_probe_received_total') + m.sum('fleetprobe_probe_late_total');
  assert.equal(kernel + monotonic, answered, 'every answered probe was timed by exactly one clock');
  assert.deepEqual(m.labelValues('fleetprobe_worker_icmp_rtt_clock_total', 'worker'), new Set(['0', '1']));

  // Per worker and family: the socket of a family is open where that worker has such a target.
  const workersWith = { ipv4: new Set<string>(), ipv6: new Set<string>() };
  const api = JSON.parse((await exp.request('/api/v1/targets')).text()) as { targets: Array<{ name: string; worker?: number }> };
  for (const x of api.targets) workersWith[x.name === 'v6' ? 'ipv6' : 'ipv4'].add(String(x.worker));
  for (const worker of ['0', '1']) {
    for (const family of ['ipv4', 'ipv6'] as const) {
      const at = (g: string): number | undefined => m.value(`fleetprobe_worker_icmp_${g}`, { worker, family });
      const open = workersWith[family].has(worker) ? 1 : 0;
      assert.equal(at('socket_open'), open, `worker ${worker} ${family} socket`);
      // With the patched raw-socket every open socket has both filters and kernel timestamps.
      for (const g of ['bpf_filter_attached', 'type_filter_attached', 'kernel_timestamps_enabled'])
        assert.equal(at(g), open, `worker ${worker} ${family} ${g}`);
    }
  }
  assert.equal(monotonic, 0, 'with kernel timestamps on every socket, the kernel clock timed every RTT');
  assert.equal(m.sum('fleetprobe_worker_icmp_kernel_timestamps_rejected_total'), 0);
  assert.equal(m.value('fleetprobe_batch_records_stale_total'), 0);
  assert.equal(m.value('fleetprobe_batch_records_invalid_value_total'), 0);
  const gen0 = m.value('fleetprobe_worker_target_generation', { worker: '0' });
  assert.ok(gen0 !== undefined && gen0 >= 1, `generation ${gen0}`);
  assert.equal(m.value('fleetprobe_worker_target_generation', { worker: '1' }), gen0, 'both workers applied the same generation');

  // A reload that removes one target is a new generation, acknowledged by both workers.
  dir.file('c.yaml', config(targets.slice(0, 3)));
  const reload = await exp.request('/-/reload', { method: 'POST' });
  assert.equal(reload.status, 200, reload.text());
  m = await waitFor(
    'both workers acknowledged the reload',
    async () => {
      const s = await scrape();
      return ['0', '1'].every((w) => (s.value('fleetprobe_worker_target_generation', { worker: w }) ?? 0) > gen0) && s;
    },
    10_000,
    100,
  );
  assert.equal(m.value('fleetprobe_worker_target_generation', { worker: '0' }), m.value('fleetprobe_worker_target_generation', { worker: '1' }));
  assert.equal(m.find('fleetprobe_probe_sent_total', { target: 'v6' }).length, 0, 'the removed target is gone');
});
