/**
 * The whole exporter as operators run it: `node bin/fleetprobe.js run --config FILE`
 * as a child process probing loopback over ICMP (2 workers), checked only through
 * its HTTP surface and its signals: readiness, /metrics (plain and gzip), the target
 * API, reloads by SIGHUP and POST /-/reload (valid and invalid), and SIGTERM.
 *
 * One instance is shared by the steps below, in order; counters are checked for
 * monotonicity on every scrape taken, so a reload that reset a surviving target's
 * counters fails the step that caused it. Needs root (raw ICMP sockets).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { ExporterProcess, NEEDS_ROOT, parseMetrics, tempDir, waitFor, type Metrics } from '../helpers/exporter-process.js';
import { freePort, portIsFree } from '../helpers/free-port.js';
import { MonotonicGuard } from '../helpers/monotonic.js';

interface TargetDef {
  name: string;
  address: string;
  labels?: Record<string, string>;
}

const LO4: TargetDef = { name: 'lo4', address: '127.0.0.1', labels: { rack: 'r1' } };
const LO4B: TargetDef = { name: 'lo4b', address: '127.0.0.2' };
const LO6: TargetDef = { name: 'lo6', address: '::1' };
const LO4C: TargetDef = { name: 'lo4c', address: '127.0.0.3' };
const LO4D: TargetDef = { name: 'lo4d', address: '127.0.0.4' };

function config(listen: string, targets: TargetDef[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    workers: 2,
    flush_interval: '100ms',
    log: { level: 'info' },
    web: { listen_address: listen },
    probe_defaults: { kind: 'icmp', interval: '100ms', timeout: '500ms', labels: { env: 'it' } },
    targets,
    ...extra,
  };
}

const t = (m: Metrics, family: string, target: string): number | undefined => m.value(`fleetprobe_probe_${family}`, { target });

test('exporter CLI end to end: metrics, API, reloads and SIGTERM', { skip: NEEDS_ROOT, timeout: 60_000 }, async (tt) => {
  const dir = tempDir('fp-cli');
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const cfg = dir.file('fleetprobe.yaml', config(listen, [LO4, LO4B, LO6]));
  const exp = new ExporterProcess(['run', '--config', cfg], listen);
  tt.after(async () => {
    await exp.stop(2000);
    dir.cleanup();
  });
  const guard = new MonotonicGuard();
  const scrape = guard.checking(() => exp.scrape());

  await tt.test('every configured target has its series (with user labels) in the first scrape', async () => {
    // The listener opens only after the targets are applied, so the first answer is the first scrape.
    const m = await waitFor(
      'the first /metrics answer',
      async () => {
        if (exp.exit) throw new Error(`exited: ${exp.tail()}`);
        return await scrape();
      },
      15_000,
    );
    for (const def of [LO4, LO4B, LO6]) {
      for (const family of [
        'sent_total',
        'received_total',
        'timeouts_total',
        'duplicates_total',
        'late_total',
        'rtt_seconds_count',
        'loss_ratio',
        'last_rtt_seconds',
      ]) {
        const s = m.find(`fleetprobe_probe_${family}`, { target: def.name });
        assert.equal(s.length, 1, `${family} for ${def.name}: ${s.length} series\n${exp.tail()}`);
        assert.deepEqual(
          { address: s[0].labels.address, kind: s[0].labels.kind, env: s[0].labels.env, rack: s[0].labels.rack },
          { address: def.address, kind: 'icmp', env: 'it', rack: def.labels?.rack },
          `labels of ${family}{target="${def.name}"}`,
        );
      }
    }
  });

  await tt.test('/readyz turns 200 and /healthz answers ok', async () => {
    await exp.waitReady(10_000);
    const h = await exp.request('/healthz');
    assert.equal(h.status, 200);
    assert.match(h.text(), /ok/);
  });

  await tt.test('sent and received grow on every target, with zero timeouts and errors', async () => {
    const a = await scrape();
    const b = await waitFor(
      '1.5 s of probing',
      async () => {
        const m = await scrape();
        return [LO4, LO4B, LO6].every((d) => t(m, 'received_total', d.name)! >= t(a, 'received_total', d.name)! + 5) && m;
      },
      5_000,
      250,
    );
    for (const d of [LO4, LO4B, LO6]) {
      const sent = t(b, 'sent_total', d.name)!;
      const recv = t(b, 'received_total', d.name)!;
      assert.ok(sent > t(a, 'sent_total', d.name)!, `${d.name}: sent did not grow`);
      assert.equal(t(b, 'timeouts_total', d.name), 0, `${d.name}: timeouts`);
      assert.equal(b.sum('fleetprobe_probe_errors_total', { target: d.name }), 0, `${d.name}: errors`);
      // At 100 ms interval and loopback RTT at most one probe per target is in flight.
      assert.ok(sent - recv >= 0 && sent - recv <= 2, `${d.name}: sent ${sent} received ${recv}`);
      assert.equal(b.value('fleetprobe_probe_rtt_seconds_count', { target: d.name }), recv, `${d.name}: one RTT observation per reply`);
      assert.ok(t(b, 'last_rtt_seconds', d.name)! > 0 && t(b, 'last_rtt_seconds', d.name)! < 0.5, `${d.name}: last RTT`);
      assert.equal(t(b, 'loss_ratio', d.name), 0, `${d.name}: loss ratio`);
    }
    assert.equal(b.value('fleetprobe_targets', { state: 'configured' }), 3);
    assert.equal(b.value('fleetprobe_targets', { state: 'rejected' }), 0);
    assert.equal(b.sum('fleetprobe_worker_restarts_total'), 0);
    assert.equal(b.value('fleetprobe_workers', { state: 'running' }), 2);
  });

  await tt.test('a gzip scrape (Accept-Encoding: gzip) decodes to the same families', async () => {
    const plain = await exp.request('/metrics');
    const gz = await exp.request('/metrics', { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(plain.status, 200);
    assert.equal(gz.status, 200);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.deepEqual([...gz.body.subarray(0, 2)], [0x1f, 0x8b], 'gzip magic');
    const a = parseMetrics(plain.text());
    const b = parseMetrics(gunzipSync(gz.body).toString('utf8'));
    assert.deepEqual(b.families().sort(), a.families().sort());
    assert.deepEqual(b.labelValues('fleetprobe_probe_sent_total', 'target'), new Set(['lo4', 'lo4b', 'lo6']));
  });

  await tt.test('/api/v1/targets lists every target as ok, with its ip and worker', async () => {
    const r = await exp.request('/api/v1/targets');
    assert.equal(r.status, 200);
    const { targets } = JSON.parse(r.text()) as {
      targets: Array<{ name: string; state: string; ip?: string; worker?: number; labels?: Record<string, string> }>;
    };
    const byName = new Map(targets.map((x) => [x.name, x]));
    assert.deepEqual([...byName.keys()].sort(), ['lo4', 'lo4b', 'lo6']);
    for (const d of [LO4, LO4B, LO6]) {
      const x = byName.get(d.name)!;
      assert.equal(x.state, 'ok', `${d.name}: ${JSON.stringify(x)}`);
      assert.equal(x.ip, d.address);
      assert.ok(x.worker === 0 || x.worker === 1, `${d.name}: worker ${x.worker}`);
    }
    assert.equal(byName.get('lo4')!.labels?.rack, 'r1');
    const only = JSON.parse((await exp.request('/api/v1/targets?state=rejected')).text()) as { targets: unknown[] };
    assert.deepEqual(only.targets, []);
  });

  await tt.test('SIGHUP with an edited config adds and removes targets; surviving counters carry on', async () => {
    const before = await scrape();
    dir.file('fleetprobe.yaml', config(listen, [LO4, LO6, LO4C]));
    exp.signal('SIGHUP');
    const after = await waitFor(
      'lo4c to appear and lo4b to go',
      async () => {
        const m = await scrape();
        return (
          m.find('fleetprobe_probe_sent_total', { target: 'lo4c' }).length === 1 && m.find('fleetprobe_probe_sent_total', { target: 'lo4b' }).length === 0 && m
        );
      },
      5_000,
    );
    assert.equal(after.find('fleetprobe_probe_loss_ratio', { target: 'lo4b' }).length, 0, 'every family of the removed target is gone');
    for (const d of [LO4, LO6]) assert.ok(t(after, 'sent_total', d.name)! >= t(before, 'sent_total', d.name)!, `${d.name} reset`);
    const later = await waitFor(
      'lo4c replies and lo4/lo6 keep growing',
      async () => {
        const m = await scrape();
        return t(m, 'received_total', 'lo4c')! > 0 && [LO4, LO6].every((d) => t(m, 'received_total', d.name)! > t(after, 'received_total', d.name)!) && m;
      },
      5_000,
    );
    assert.equal(t(later, 'timeouts_total', 'lo4c'), 0);
    assert.equal(later.value('fleetprobe_config_last_reload_successful'), 1);
    assert.equal(later.value('fleetprobe_targets', { state: 'configured' }), 3);
  });

  await tt.test('POST /-/reload applies an edited config the same way', async () => {
    const before = await scrape();
    dir.file('fleetprobe.yaml', config(listen, [LO4, LO6, LO4D]));
    const r = await exp.request('/-/reload', { method: 'POST' });
    assert.equal(r.status, 200, r.text());
    // The answer comes after the reload is applied: the very next scrape shows it.
    const after = await scrape();
    assert.deepEqual(after.labelValues('fleetprobe_probe_sent_total', 'target'), new Set(['lo4', 'lo6', 'lo4d']));
    for (const d of [LO4, LO6]) assert.ok(t(after, 'sent_total', d.name)! >= t(before, 'sent_total', d.name)!, `${d.name} reset`);
    await waitFor('lo4d replies', async () => t(await scrape(), 'received_total', 'lo4d')! > 0, 5_000);
  });

  await tt.test('an invalid config on reload keeps the running config and sets last_reload_successful 0', async () => {
    const good = await scrape();
    assert.equal(good.value('fleetprobe_config_last_reload_successful'), 1);
    dir.file('fleetprobe.yaml', { ...config(listen, [LO4]), workers: -1 });
    exp.signal('SIGHUP');
    await waitFor('last_reload_successful 0 after SIGHUP', async () => (await scrape()).value('fleetprobe_config_last_reload_successful') === 0, 5_000);
    const r = await exp.request('/-/reload', { method: 'POST' });
    assert.equal(r.status, 400, 'an invalid configuration is a 400 (500 is for a failure to apply)');
    const body = JSON.parse(r.text()) as { status: string; applied: boolean; problems: Array<{ key: string }> };
    assert.deepEqual([body.status, body.applied, body.problems.map((p) => p.key)], ['invalid', false, ['workers']]);
    const m = await waitFor(
      'the old targets to keep growing',
      async () => {
        const x = await scrape();
        return [LO4, LO6, LO4D].every((d) => t(x, 'received_total', d.name)! > t(good, 'received_total', d.name)!) && x;
      },
      5_000,
    );
    assert.deepEqual(m.labelValues('fleetprobe_probe_sent_total', 'target'), new Set(['lo4', 'lo6', 'lo4d']), 'targets unchanged');
    assert.equal(m.value('fleetprobe_config_last_reload_successful'), 0);
    assert.equal(m.value('fleetprobe_workers', { state: 'running' }), 2);
  });

  await tt.test('SIGTERM stops the process with exit code 0 within a few seconds and frees the port', async () => {
    assert.ok(guard.compared > 50, `monotonicity compared only ${guard.compared} series`);
    const r = await exp.stop(5000);
    assert.equal(r.killed, false, `did not exit within 5 s\n${exp.tail()}`);
    assert.deepEqual({ code: r.code, signal: r.signal }, { code: 0, signal: null }, exp.tail());
    assert.ok(r.ms < 5000);
    assert.equal(await portIsFree(port), true);
  });
});
