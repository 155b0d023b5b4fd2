/**
 * The Targets API through the real CLI (a child process), over real HTTP on loopback,
 * probing tcp targets against its own responder (no privilege needed):
 *
 *  - POST adds a target that is probed and shown in /metrics and /api/v1/targets
 *    (source "api"); posting it again is idempotent; another definition is 409 unless
 *    ?replace=1 (counters carry on); a list is all or nothing;
 *  - a bad body is a 400 listing every problem; names of the configuration and of a
 *    target file are 409 for POST and DELETE; an unknown name is 404;
 *  - API targets survive SIGHUP and a target-file change, with their counters; a file
 *    that later defines an API target's name wins, and the API target is reported;
 *  - DELETE removes a target from /metrics and from the state file;
 *  - no token + a loopback listener: changes (and POST /-/reload) are allowed;
 *  - with api.state_file the targets survive a restart (their counters start from
 *    zero, as every counter of a new process does); a corrupt state file stops the
 *    start with exit 2 naming api.state_file.
 *
 * One exporter is shared by the steps, in order; every scrape is checked for counter
 * monotonicity, so a change that reset the counters of a target it did not touch fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ExporterProcess, runCli, tempDir, waitFor, type HttpResponse, type Metrics } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';
import { MonotonicGuard } from '../helpers/monotonic.js';

interface TargetRow {
  name: string;
  kind: string | null;
  address: string | null;
  state: string;
  source?: string;
  labels?: Record<string, string>;
  error?: string;
}
interface Problem {
  key: string;
  message: string;
  value?: string;
}
interface ErrorBody {
  error: string;
  message: string;
  problems: Problem[];
}

test('targets API: add, idempotence, bad bodies, conflicts, reloads, file changes, delete, state across a restart', { timeout: 150_000 }, async (tt) => {
  const dir = tempDir('fp-targets-api');
  const port = await freePort();
  const echo = await freePort();
  const listen = `127.0.0.1:${port}`;
  const echoAddr = `127.0.0.1:${echo}`;
  mkdirSync(join(dir.path, 'state'));
  const stateFile = join(dir.path, 'state', 'api-targets.json');
  const targetsFile = dir.file('targets.json', [{ name: 'file-1', kind: 'tcp', address: echoAddr }]);
  const cfg = dir.file('fleetprobe.yaml', {
    workers: 1,
    flush_interval: '100ms',
    log: { level: 'info' },
    web: { listen_address: listen },
    probe_defaults: { kind: 'tcp', interval: '100ms', timeout: '80ms' },
    targets: [{ name: 'cfg', address: echoAddr }],
    target_files: ['targets.json'],
    responder: { tcp_echo: echoAddr, udp_echo: null, http: null },
    // Relative to the config file, like target_files.
    api: { state_file: 'state/api-targets.json' },
  });
  let exp = new ExporterProcess(['run', '--config', cfg], listen);
  tt.after(async () => {
    await exp.stop(3000);
    dir.cleanup();
  });
  const guard = new MonotonicGuard();
  const scrape = guard.checking(() => exp.scrape());
  const scrapeUntil = (what: string, ok: (m: Metrics) => boolean, ms = 15_000): Promise<Metrics> =>
    waitFor(
      what,
      async () => {
        const m = await scrape();
        return ok(m) ? m : undefined;
      },
      ms,
      100,
    );
  const received = (m: Metrics, name: string): number => m.value('fleetprobe_probe_received_total', { target: name }) ?? -1;
  const sent = (m: Metrics, name: string): number => m.value('fleetprobe_probe_sent_total', { target: name }) ?? -1;
  const json = { 'content-type': 'application/json' };
  const post = (body: unknown, query = ''): Promise<HttpResponse> =>
    exp.request(`/api/v1/targets${query}`, { method: 'POST', headers: json, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const del = (name: string): Promise<HttpResponse> => exp.request(`/api/v1/targets/${encodeURIComponent(name)}`, { method: 'DELETE' });
  const rows = async (): Promise<TargetRow[]> => (JSON.parse((await exp.request('/api/v1/targets')).text()) as { targets: TargetRow[] }).targets;
  const stateNames = (): string[] => (JSON.parse(readFileSync(stateFile, 'utf8')) as { targets: Array<{ name: string }> }).targets.map((t) => t.name);
  const logLines = (): Array<Record<string, unknown>> =>
    exp.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const target = (name: string, extra: Record<string, unknown> = {}) => ({ name, address: echoAddr, ...extra });

  await exp.waitReady();

  await tt.test('no token and a loopback listener: the log says changes are allowed', () => {
    const line = logLines().find((l) => l.rule !== undefined);
    assert.ok(line, exp.tail());
    assert.equal(line.rule, 'loopback');
    assert.match(
      String(line.msg),
      /no API token configured: API changes .* are allowed without one because the web server listens on loopback only \(127\.0\.0\.1:\d+\)/,
    );
  });

  await tt.test(
    'POST one target: 201 with the target as normalised; probed, in /metrics and /api/v1/targets as source "api"; written to the state file',
    async () => {
      const r = await post(target('api-a', { labels: { via: 'api' } }));
      assert.equal(r.status, 201, r.text());
      assert.equal(r.headers['x-fleetprobe-result'], 'created');
      assert.deepEqual(JSON.parse(r.text()), {
        name: 'api-a',
        kind: 'tcp',
        address: echoAddr,
        labels: { via: 'api' },
        interval: '100ms',
        timeout: '80ms',
        loss_window: 100,
        payload_size: 56,
        options: { close: 'reset' },
        source: 'api',
      });
      const m = await scrapeUntil('api-a answered', (x) => received(x, 'api-a') > 3);
      assert.equal(m.find('fleetprobe_probe_sent_total', { target: 'api-a', via: 'api' }).length, 1, 'its labels are on its series');
      const row = (await rows()).find((x) => x.name === 'api-a');
      assert.deepEqual({ source: row?.source, state: row?.state, kind: row?.kind }, { source: 'api', state: 'ok', kind: 'tcp' });
      assert.deepEqual(stateNames(), ['api-a']);
    },
  );

  await tt.test('posting it again is 200 unchanged; another definition is 409, replaced with ?replace=1 with its counters carried on', async () => {
    const again = await post(target('api-a', { labels: { via: 'api' }, interval: '0.1s' }));
    assert.equal(again.status, 200, again.text());
    assert.equal(again.headers['x-fleetprobe-result'], 'unchanged');
    const other = await post(target('api-a', { labels: { via: 'api' }, interval: '200ms' }));
    assert.equal(other.status, 409, other.text());
    assert.equal((JSON.parse(other.text()) as ErrorBody).error, 'target_exists');
    const before = await scrape();
    const replaced = await post(target('api-a', { labels: { via: 'api' }, interval: '200ms' }), '?replace=1');
    assert.equal(replaced.status, 200, replaced.text());
    assert.equal(replaced.headers['x-fleetprobe-result'], 'replaced');
    assert.equal((JSON.parse(replaced.text()) as { interval: string }).interval, '200ms');
    // The guard fails the scrape if api-a's counters went back.
    await scrapeUntil('api-a still counting after the replacement', (x) => sent(x, 'api-a') > sent(before, 'api-a') + 2);
  });

  await tt.test('bad bodies: 400 listing every problem; a list with one bad entry adds nothing; not JSON, wrong type, bad ?replace', async () => {
    const r = await post({ name: '', kind: 'tcp', address: 'no-port', interval: '0s', timeout: 'soon', labels: { __bad: 1 }, colour: 'red' });
    assert.equal(r.status, 400, r.text());
    const body = JSON.parse(r.text()) as ErrorBody;
    assert.equal(body.error, 'invalid_target');
    const keys = new Set(body.problems.map((p) => p.key));
    for (const k of ['name', 'address', 'interval', 'timeout', 'labels', 'colour']) assert.ok(keys.has(k), `${k} in ${[...keys].join(', ')}`);
    assert.ok(body.problems.every((p) => typeof p.message === 'string' && p.message.length > 0));

    const list = await post([target('bulk-ok'), target('bulk-bad', { payload_size: -1 })]);
    assert.equal(list.status, 400, list.text());
    assert.deepEqual(
      (JSON.parse(list.text()) as ErrorBody).problems.map((p) => p.key),
      ['[1].payload_size'],
    );
    assert.ok(!(await rows()).some((x) => x.name === 'bulk-ok'), 'all or nothing');

    const notJson = await post('{"name": "x", "address":');
    assert.equal(notJson.status, 400);
    assert.equal((JSON.parse(notJson.text()) as ErrorBody).problems[0].key, 'body');
    const form = await exp.request('/api/v1/targets', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=x' });
    assert.equal(form.status, 415);
    assert.match((JSON.parse(form.text()) as ErrorBody).message, /Content-Type: application\/json/);
    assert.equal((await post(target('q'), '?replace=maybe')).status, 400);
    assert.deepEqual(stateNames(), ['api-a'], 'nothing refused reached the state file');
  });

  await tt.test('names of the configuration and of a target file: 409 for POST and DELETE; an unknown name 404', async () => {
    for (const name of ['cfg', 'file-1']) {
      const p = await post(target(name));
      assert.equal(p.status, 409, p.text());
      const b = JSON.parse(p.text()) as ErrorBody;
      assert.equal(b.error, 'defined_by_config');
      assert.match(b.problems[0].message, /already defined at .*(fleetprobe\.yaml targets\[0\]|targets\.json\[0\])/);
      const d = await del(name);
      assert.equal(d.status, 409, d.text());
      assert.equal((JSON.parse(d.text()) as ErrorBody).error, 'defined_by_config');
    }
    const unknown = await del('nope');
    assert.equal(unknown.status, 404);
    assert.equal((JSON.parse(unknown.text()) as ErrorBody).error, 'not_found');
  });

  await tt.test('a list: 201 with every target and the counts; names with "/" work', async () => {
    const r = await post([target('api-b'), target('api/c'), target('api-a', { labels: { via: 'api' }, interval: '200ms' })]);
    assert.equal(r.status, 201, r.text());
    const b = JSON.parse(r.text()) as {
      targets: Array<{ name: string; result: string; source: string }>;
      created: number;
      replaced: number;
      unchanged: number;
    };
    assert.deepEqual(
      b.targets.map((t) => [t.name, t.result, t.source]),
      [
        ['api-b', 'created', 'api'],
        ['api/c', 'created', 'api'],
        ['api-a', 'unchanged', 'api'],
      ],
    );
    assert.deepEqual([b.created, b.replaced, b.unchanged], [2, 0, 1]);
    await scrapeUntil('api-b and api/c answered', (m) => received(m, 'api-b') > 0 && received(m, 'api/c') > 0);
    assert.deepEqual(stateNames(), ['api-a', 'api-b', 'api/c']);
  });

  await tt.test('SIGHUP keeps the API targets and their counters', async () => {
    const before = await scrape();
    const reloads = logLines().filter((l) => l.msg === 'configuration reloaded').length;
    exp.signal('SIGHUP');
    await waitFor('the SIGHUP reload', () => logLines().filter((l) => l.msg === 'configuration reloaded').length > reloads, 15_000);
    const m = await scrapeUntil('API targets probed after SIGHUP', (x) => ['api-a', 'api-b', 'api/c'].every((n) => sent(x, n) > sent(before, n)));
    assert.ok(received(m, 'api-b') >= received(before, 'api-b'));
    assert.deepEqual(
      (await rows()).filter((x) => x.source === 'api').map((x) => x.name),
      ['api-a', 'api-b', 'api/c'],
    );
  });

  await tt.test("a target-file change keeps the API targets; a file that takes an API target's name wins, and the API target is reported", async () => {
    writeFileSync(
      targetsFile,
      JSON.stringify([
        { name: 'file-1', kind: 'tcp', address: echoAddr },
        { name: 'file-2', kind: 'tcp', address: echoAddr },
      ]),
    );
    await scrapeUntil('file-2 probed', (m) => received(m, 'file-2') > 0 && sent(m, 'api-a') > 0 && sent(m, 'api-b') > 0);
    assert.deepEqual(
      (await rows()).filter((x) => x.source === 'api').map((x) => x.name),
      ['api-a', 'api-b', 'api/c'],
    );

    writeFileSync(
      targetsFile,
      JSON.stringify([
        { name: 'file-1', kind: 'tcp', address: echoAddr },
        { name: 'api/c', kind: 'tcp', address: echoAddr, labels: { via: 'file' } },
      ]),
    );
    await waitFor(
      'the file to take api/c',
      async () => (await rows()).some((x) => x.name === 'api/c' && x.state === 'ok' && /targets\.json\[1\]$/.test(x.source ?? '')),
      15_000,
    );
    const all = await rows();
    const shadowed = all.find((x) => x.name === 'api/c' && x.source === 'api');
    assert.equal(shadowed?.state, 'rejected');
    assert.match(shadowed?.error ?? '', /duplicate target name "api\/c": already defined at \S*targets\.json\[1\]/);
    // DELETE removes the API's definition; the file's target stays.
    assert.equal((await del('api/c')).status, 204);
    const after = await rows();
    assert.deepEqual(
      after.filter((x) => x.name === 'api/c').map((x) => [/targets\.json\[1\]$/.test(x.source ?? ''), x.state]),
      [[true, 'ok']],
    );
    assert.deepEqual(stateNames(), ['api-a', 'api-b']);
  });

  await tt.test('DELETE: 204, gone from /metrics, /api/v1/targets and the state file; others keep counting', async () => {
    const before = await scrape();
    const r = await del('api-b');
    assert.equal(r.status, 204);
    assert.equal(r.body.length, 0);
    const m = await scrapeUntil('api-b gone from /metrics', (x) => x.find('fleetprobe_probe_sent_total', { target: 'api-b' }).length === 0);
    assert.ok(sent(m, 'api-a') >= sent(before, 'api-a'));
    assert.ok(!(await rows()).some((x) => x.name === 'api-b'));
    assert.deepEqual(stateNames(), ['api-a']);
    assert.equal((await del('api-b')).status, 404);
  });

  await tt.test('POST /-/reload without a token on a loopback listener is allowed', async () => {
    const r = await exp.request('/-/reload', { method: 'POST' });
    assert.equal(r.status, 200, r.text());
    assert.ok((await rows()).some((x) => x.name === 'api-a' && x.source === 'api'));
  });

  await tt.test('with api.state_file the API targets survive a restart (counters start from zero)', async () => {
    // Long enough that a counter carried over could not be mistaken for a fresh one.
    const last = await scrapeUntil('api-a probed 30 times', (x) => sent(x, 'api-a') >= 30, 20_000);
    const sentBefore = sent(last, 'api-a');
    const stopped = await exp.stop(5000);
    assert.equal(stopped.code, 0, exp.tail());
    exp = new ExporterProcess(['run', '--config', cfg], listen);
    await exp.waitReady();
    const row = (await rows()).find((x) => x.name === 'api-a');
    assert.deepEqual({ source: row?.source, labels: row?.labels }, { source: 'api', labels: { via: 'api' } });
    const m = await exp.scrape();
    // A new process: its counters start from zero (the guard is not consulted here).
    assert.ok(sent(m, 'api-a') < sentBefore, `sent ${sent(m, 'api-a')} after the restart, ${sentBefore} before`);
    await waitFor('api-a probed after the restart', async () => received(await exp.scrape(), 'api-a') > 0, 15_000);
    assert.ok(logLines().some((l) => l.msg === 'targets API: state file read (counters of its targets start from zero)' && l.targets === 1));
  });

  await tt.test('a corrupt state file stops the start: exit 2 naming api.state_file, before anything listens', async () => {
    const stopped = await exp.stop(5000);
    assert.equal(stopped.code, 0, exp.tail());
    const good = readFileSync(stateFile, 'utf8');
    writeFileSync(stateFile, good.slice(0, good.length - 12));
    const r = await runCli(['run', '--config', cfg], { timeoutMs: 20_000 });
    assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /api\.state_file: .*api-targets\.json is not valid JSON/);
    assert.doesNotMatch(r.stdout, /fleetprobe listening/);
    const check = await runCli(['check-config', '--config', cfg], { timeoutMs: 20_000 });
    assert.equal(check.code, 2);
    assert.match(check.stderr, /api\.state_file/);
    assert.equal(readFileSync(stateFile, 'utf8'), good.slice(0, good.length - 12), 'the bad file is left for the operator');
  });

  assert.ok(guard.compared > 0, 'counters were compared across scrapes');
});
