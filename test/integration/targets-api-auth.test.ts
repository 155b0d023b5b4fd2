/**
 * The mutation rule through the real CLI:
 *
 *  - a token from api.token_file: POST/DELETE /api/v1/targets and POST /-/reload are
 *    401 without it or with another one (the body of a refused POST changes nothing),
 *    allowed with it; a reload that removes the token makes the rule "loopback only"
 *    at once, and the log says so;
 *  - no token and a listener on 0.0.0.0 — inside a network namespace this test creates,
 *    so nothing is exposed — every change is refused (403) with the fix in the message,
 *    and the start-up log says so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExporterProcess, tempDir, waitFor, type HttpResponse } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';
import { createNetns, netnsUnavailable } from '../helpers/netns.js';

interface ErrorBody {
  error: string;
  message: string;
}

function logLines(exp: ExporterProcess): Array<Record<string, unknown>> {
  return exp.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const body = (r: HttpResponse): ErrorBody => JSON.parse(r.text()) as ErrorBody;

test('with api.token_file every change needs the token; a reload removing it makes changes loopback-only at once', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('fp-api-auth');
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  dir.file('token', 'c0rrect-t0ken\n');
  const base = {
    workers: 1,
    log: { level: 'info' },
    web: { listen_address: listen },
    probe_defaults: { kind: 'icmp', interval: '1s', timeout: '500ms' },
    targets: [],
    responder: { tcp_echo: null, udp_echo: null, http: null },
  };
  const cfg = dir.file('fleetprobe.yaml', { ...base, api: { token_file: 'token' } });
  const exp = new ExporterProcess(['run', '--config', cfg], listen);
  t.after(async () => {
    await exp.stop(3000);
    dir.cleanup();
  });
  await exp.waitReady();
  const json = { 'content-type': 'application/json' };
  const target = JSON.stringify({ name: 'lo-api', address: '127.0.0.9' });
  const names = async (): Promise<string[]> =>
    (JSON.parse((await exp.request('/api/v1/targets')).text()) as { targets: Array<{ name: string }> }).targets.map((x) => x.name);

  await t.test('the start-up log names the rule', () => {
    const line = logLines(exp).find((l) => l.rule !== undefined);
    assert.equal(line?.rule, 'token', exp.tail());
    assert.match(String(line?.msg), /need the API token/);
  });

  await t.test('401 without the token or with another one; nothing changes', async () => {
    for (const authorization of [undefined, 'Bearer wrong', 'Basic YWRtaW46YWRtaW4=', 'Bearer']) {
      const headers: Record<string, string> = authorization ? { ...json, authorization } : json;
      const add = await exp.request('/api/v1/targets', { method: 'POST', headers, body: target });
      assert.equal(add.status, 401, `${authorization}: ${add.text()}`);
      assert.match(add.headers['www-authenticate'] ?? '', /^Bearer/);
      assert.match(body(add).error, /^(missing_token|bad_token)$/);
      assert.equal((await exp.request('/api/v1/targets/lo-api', { method: 'DELETE', headers: authorization ? { authorization } : {} })).status, 401);
      assert.equal((await exp.request('/-/reload', { method: 'POST', headers: authorization ? { authorization } : {} })).status, 401);
    }
    assert.deepEqual(await names(), []);
  });

  await t.test('with the token: added, reloaded, deleted', async () => {
    const auth = { authorization: 'Bearer c0rrect-t0ken' };
    const add = await exp.request('/api/v1/targets', { method: 'POST', headers: { ...json, ...auth }, body: target });
    assert.equal(add.status, 201, add.text());
    assert.deepEqual(await names(), ['lo-api']);
    assert.equal((await exp.request('/-/reload', { method: 'POST', headers: auth })).status, 200);
    assert.deepEqual(await names(), ['lo-api'], 'the API target survives the reload');
    assert.equal((await exp.request('/api/v1/targets/lo-api', { method: 'DELETE', headers: auth })).status, 204);
    assert.deepEqual(await names(), []);
  });

  await t.test('a reload that removes the token: loopback-only from then on, and logged', async () => {
    dir.file('fleetprobe.yaml', base);
    const r = await exp.request('/-/reload', { method: 'POST', headers: { authorization: 'Bearer c0rrect-t0ken' } });
    assert.equal(r.status, 200, r.text());
    await waitFor('the new rule to be logged', () => logLines(exp).some((l) => l.rule === 'loopback'), 5000);
    const add = await exp.request('/api/v1/targets', { method: 'POST', headers: json, body: target });
    assert.equal(add.status, 201, add.text());
  });
});

const NS_SKIP = netnsUnavailable(['ip']);

test(
  'no token and a listener on 0.0.0.0 (in a namespace of its own): every change refused with the fix; reads open',
  { skip: NS_SKIP, timeout: 60_000 },
  async (t) => {
    const ns = createNetns(`fp-apiauth-${process.pid}`);
    const dir = tempDir('fp-api-open');
    t.after(() => {
      ns.destroy();
      dir.cleanup();
    });
    const cfg = dir.file('fleetprobe.yaml', {
      workers: 1,
      log: { level: 'info' },
      web: { listen_address: '0.0.0.0:19798' },
      probe_defaults: { kind: 'icmp' },
      targets: [{ name: 'lo', address: '127.0.0.1' }],
      responder: { tcp_echo: null, udp_echo: null, http: null },
    });
    const exp = new ExporterProcess(['run', '--config', cfg], '127.0.0.1:19798', { netns: ns.name });
    t.after(() => exp.stop(3000));
    await exp.waitReady();

    const line = logLines(exp).find((l) => l.rule !== undefined);
    assert.equal(line?.rule, 'refused', exp.tail());
    assert.equal(line?.level, 40, 'a warning');
    assert.match(
      String(line?.msg),
      /no API token configured and the web server listens on 0\.0\.0\.0:19798, not only on loopback: .* refused; set api\.token_file/,
    );

    const add = await exp.request('/api/v1/targets', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x', address: '127.0.0.2' }),
    });
    assert.equal(add.status, 403, add.text());
    assert.equal(body(add).error, 'mutations_disabled');
    assert.match(
      body(add).message,
      /no API token is configured and the web server listens on 0\.0\.0\.0:19798, not only on loopback; set api\.token_file .* or listen on 127\.0\.0\.1/,
    );
    // A token sent changes nothing: none is configured to match it.
    assert.equal((await exp.request('/-/reload', { method: 'POST', headers: { authorization: 'Bearer guess' } })).status, 403);
    assert.equal((await exp.request('/api/v1/targets/lo', { method: 'DELETE' })).status, 403);
    const targets = JSON.parse((await exp.request('/api/v1/targets')).text()) as { targets: Array<{ name: string }> };
    assert.deepEqual(
      targets.targets.map((x) => x.name),
      ['lo'],
      'reads stay open, nothing was added',
    );
  },
);
