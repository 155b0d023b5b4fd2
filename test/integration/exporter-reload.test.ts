/**
 * Reloads are transactional, through the real CLI as a child process probing loopback
 * over ICMP (needs root):
 *
 *  - F1: a target file truncated in place (what a generator writing it leaves for a
 *    moment) followed by SIGHUP or POST /-/reload keeps that file's targets probing,
 *    counters growing, and says so: fleetprobe_config_last_reload_successful 0,
 *    fleetprobe_target_file_last_read_successful{file} 0, a log line, /api/v1/status,
 *    and a 400 answer whose JSON names the file;
 *  - F2: a reload that changes `workers` and fails keeps probing (sent keeps growing,
 *    /readyz 200, the status says what runs); an invalid one changes nothing at all;
 *  - F3 + F2 together: a reload that changes `workers` and brings a 500,000-entry
 *    target file (this instance owns ~1/500 of it through shard.count) is applied, and
 *    probing goes on.
 *
 * One instance is shared by the steps, in order; every scrape is checked for counter
 * monotonicity, so a reload that reset a surviving target's counters fails its step.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ExporterProcess, NEEDS_ROOT, tempDir, waitFor, type Metrics } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';
import { MonotonicGuard } from '../helpers/monotonic.js';
import { ownedByInstance } from '../../src/targets/partition.js';
import { writeBigTargetFile } from '../helpers/big-target-file.js';

const SHARDS = 500;
const BIG = 500_000;

/** `n` names `${prefix}<k>` that shard 0 of SHARDS owns, so they keep probing once the big file's config splits the fleet. */
function ownedNames(prefix: string, n: number): string[] {
  const out: string[] = [];
  for (let k = 0; out.length < n; k++) if (ownedByInstance(`${prefix}${k}`, 0, SHARDS)) out.push(`${prefix}${k}`);
  return out;
}

interface Def {
  name: string;
  address: string;
  interval: string;
}

test(
  'reloads are transactional: a truncated target file keeps its targets, a failing reload keeps probing, 500k entries load',
  { skip: NEEDS_ROOT, timeout: 120_000 },
  async (tt) => {
    const dir = tempDir('fp-reload');
    const port = await freePort();
    const listen = `127.0.0.1:${port}`;
    const [inl] = ownedNames('inl-', 1);
    const [f1, f2, f3] = ownedNames('file-', 3);
    // Small targets probe every 100 ms; the defaults (10 s) are for the big file's targets.
    const def = (name: string, address: string): Def => ({ name, address, interval: '100ms' });
    const INL = def(inl, '127.0.0.1');
    const F1 = def(f1, '127.0.0.2');
    const F2 = def(f2, '127.0.0.3');
    const F3 = def(f3, '127.0.0.4');
    const config = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
      workers: 2,
      flush_interval: '100ms',
      log: { level: 'info' },
      web: { listen_address: listen },
      probe_defaults: { kind: 'icmp', interval: '10s', timeout: '500ms' },
      targets: [INL],
      target_files: ['targets.json'],
      ...extra,
    });
    const targetsFile = dir.file('targets.json', [F1, F2]);
    const cfg = dir.file('fleetprobe.yaml', config());
    const exp = new ExporterProcess(['run', '--config', cfg], listen);
    tt.after(async () => {
      await exp.stop(3000);
      dir.cleanup();
    });
    const guard = new MonotonicGuard();
    const scrape = guard.checking(() => exp.scrape());
    const sent = (m: Metrics, name: string): number => m.value('fleetprobe_probe_sent_total', { target: name }) ?? -1;
    const received = (m: Metrics, name: string): number => m.value('fleetprobe_probe_received_total', { target: name }) ?? -1;
    /** Wait until every named target has received `more` replies past `base`. */
    const growing = (base: Metrics, names: string[], more = 5, timeoutMs = 8000) =>
      waitFor(
        `${names.join(', ')} to keep getting replies`,
        async () => {
          const m = await scrape();
          return names.every((n) => received(m, n) >= received(base, n) + more && sent(m, n) > sent(base, n)) && m;
        },
        timeoutMs,
        200,
      );
    const status = async () =>
      JSON.parse((await exp.request('/api/v1/status')).text()) as {
        ready: boolean;
        targets: { configured: number; probing: number; not_owned: number };
        workers: unknown[];
        target_files: Array<{ file: string; ok: boolean; error: string | null; targets: number; kept_last_good: boolean; last_success: string | null }>;
        last_reload: { status: string; problems: Array<{ key: string; message: string }> };
      };
    const reload = async () => {
      const r = await exp.request('/-/reload', { method: 'POST', timeoutMs: 60_000 });
      return {
        code: r.status,
        body: JSON.parse(r.text()) as { status: string; applied: boolean; problems: Array<{ key: string; message: string; value?: string }>; targets?: number },
      };
    };
    const truncate = () => dir.file('targets.json', JSON.stringify([F1, F2]).slice(0, 40));

    await tt.test('start: every target probes, every file read well', async () => {
      await exp.waitReady(15_000);
      const m = await growing(await scrape(), [INL.name, F1.name, F2.name]);
      assert.equal(m.value('fleetprobe_config_last_reload_successful'), 1);
      assert.equal(m.value('fleetprobe_target_file_last_read_successful', { file: targetsFile }), 1);
      assert.equal(m.value('fleetprobe_target_file_targets', { file: targetsFile }), 2);
    });

    await tt.test('F1 SIGHUP: a truncated target file keeps its last good targets, probing, and the failure is reported', async () => {
      const before = await scrape();
      truncate();
      exp.signal('SIGHUP');
      await waitFor('the reload to be reported as failed', async () => (await scrape()).value('fleetprobe_config_last_reload_successful') === 0, 8000);
      const m = await growing(before, [INL.name, F1.name, F2.name]);
      assert.deepEqual(m.labelValues('fleetprobe_probe_sent_total', 'target'), new Set([INL.name, F1.name, F2.name]));
      assert.equal(m.value('fleetprobe_target_file_last_read_successful', { file: targetsFile }), 0);
      assert.equal(m.value('fleetprobe_target_file_targets', { file: targetsFile }), 2);
      assert.ok(m.value('fleetprobe_target_file_last_read_success_timestamp_seconds', { file: targetsFile })! > 1.7e9);
      const s = await status();
      assert.deepEqual(
        s.target_files.map((f) => [f.file, f.ok, f.kept_last_good, f.targets]),
        [[targetsFile, false, true, 2]],
      );
      assert.match(s.target_files[0].error!, /not valid JSON/);
      assert.equal(s.last_reload.status, 'partial');
      assert.match(exp.stdout + exp.stderr, /target file failed to read; keeping its last good targets/);
    });

    await tt.test('F1 POST /-/reload: answers 400 naming the file, and the targets keep probing', async () => {
      const before = await scrape();
      const r = await reload();
      assert.equal(r.code, 400, JSON.stringify(r.body));
      assert.equal(r.body.status, 'partial');
      assert.equal(r.body.applied, true);
      assert.equal(r.body.problems.length, 1);
      assert.match(r.body.problems[0].key, /targets\.json$/);
      assert.match(r.body.problems[0].message, /not valid JSON.*keeping its 2 targets of the last good read/);
      await growing(before, [INL.name, F1.name, F2.name]);
    });

    await tt.test('the file fixed (and edited): 200, its new content applies, everything reports success again', async () => {
      dir.file('targets.json', [F1, F3]);
      const r = await reload();
      assert.equal(r.code, 200, JSON.stringify(r.body));
      assert.deepEqual([r.body.status, r.body.problems], ['reloaded', []]);
      const m = await growing(await scrape(), [INL.name, F1.name, F3.name]);
      assert.deepEqual(m.labelValues('fleetprobe_probe_sent_total', 'target'), new Set([INL.name, F1.name, F3.name]));
      assert.equal(m.value('fleetprobe_config_last_reload_successful'), 1);
      assert.equal(m.value('fleetprobe_target_file_last_read_successful', { file: targetsFile }), 1);
    });

    await tt.test('F2: a reload that changes workers while the target file is truncated restarts the pool and keeps every target probing', async () => {
      const before = await scrape();
      dir.file('fleetprobe.yaml', config({ workers: 1 }));
      truncate();
      const r = await reload();
      assert.equal(r.code, 400, JSON.stringify(r.body));
      assert.deepEqual([r.body.status, r.body.applied], ['partial', true]);
      await exp.waitReady(10_000);
      const m = await growing(before, [INL.name, F1.name, F3.name]);
      assert.equal(m.value('fleetprobe_workers', { state: 'configured' }), 1);
      assert.equal(m.value('fleetprobe_workers', { state: 'running' }), 1);
      const s = await status();
      assert.equal(s.ready, true);
      assert.equal(s.workers.length, 1);
      assert.deepEqual([s.targets.configured, s.targets.probing], [3, 3]);
    });

    await tt.test('F2: a reload that changes workers and is invalid changes nothing: same pool, probing, /readyz 200, 400 with every problem', async () => {
      const before = await scrape();
      dir.file('fleetprobe.yaml', { ...config({ workers: 2, flush_interval: '100000h' }), bogus: 1 });
      const r = await reload();
      assert.equal(r.code, 400, JSON.stringify(r.body));
      assert.deepEqual([r.body.status, r.body.applied], ['invalid', false]);
      assert.deepEqual(r.body.problems.map((p) => p.key).sort(), ['bogus', 'flush_interval']);
      assert.equal((await exp.request('/readyz')).status, 200);
      const m = await growing(before, [INL.name, F1.name, F3.name]);
      assert.equal(m.value('fleetprobe_workers', { state: 'configured' }), 1);
      assert.equal(m.value('fleetprobe_config_last_reload_successful'), 0);
      assert.equal((await status()).workers.length, 1);
    });

    await tt.test(`F2 + F3: a reload that changes workers and adds a ${BIG.toLocaleString('en')}-entry target file applies, and probing goes on`, async () => {
      writeBigTargetFile(join(dir.path, 'big.json'), BIG, (i) => `big-${i}`);
      dir.file('targets.json', [F1, F3]);
      dir.file('fleetprobe.yaml', config({ workers: 2, shard: { index: 0, count: SHARDS }, target_files: ['targets.json', 'big.json'] }));
      const before = await scrape();
      const r = await reload();
      assert.equal(r.code, 200, JSON.stringify(r.body).slice(0, 2000));
      assert.equal(r.body.status, 'reloaded');
      const s = await status();
      // Every entry was loaded; this instance probes its share, the rest belong to the others.
      assert.equal(s.targets.configured + s.targets.not_owned, BIG + 3);
      assert.ok(s.targets.configured > BIG / SHARDS / 2 && s.targets.configured < (BIG / SHARDS) * 2, `configured ${s.targets.configured}`);
      await exp.waitReady(15_000);
      const m = await growing(before, [INL.name, F1.name, F3.name], 5, 15_000);
      assert.equal(m.value('fleetprobe_workers', { state: 'configured' }), 2);
      assert.equal(m.value('fleetprobe_target_file_targets', { file: join(dir.path, 'big.json') }), BIG);
      assert.equal((await status()).workers.length, 2);
    });

    await tt.test('SIGTERM exits 0', async () => {
      assert.ok(guard.compared > 50, `monotonicity compared only ${guard.compared} series`);
      const r = await exp.stop(10_000);
      assert.equal(r.killed, false, exp.tail());
      assert.equal(r.code, 0, exp.tail());
    });
  },
);
