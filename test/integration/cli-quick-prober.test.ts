/**
 * The CLI without a config file and with flags only, as a child process on loopback:
 *  - `run --target 127.0.0.1:PORT` probes a listener of this test (tcp connect), runs no
 *    responder (ports 4000/4001 of the embedded default stay untouched), and writes
 *    logfmt with --log.format logfmt;
 *  - `responder` on a config file with three listeners, one turned off by flag and one
 *    by variable ("off"), binds only the third.
 * No privileges needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { createSocket } from 'node:dgram';
import { ExporterProcess, tempDir, waitFor } from '../helpers/exporter-process.js';
import { freePort, portIsFree } from '../helpers/free-port.js';

test("run --target: probes exactly the flag's target, no responder, logfmt logs", { timeout: 60_000 }, async (t) => {
  let accepted = 0;
  const server: Server = createServer((s) => {
    accepted++;
    s.on('error', () => undefined).end();
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const target = `127.0.0.1:${(server.address() as { port: number }).port}`;
  const listen = `127.0.0.1:${await freePort()}`;
  const exp = new ExporterProcess(
    [
      'run',
      '--target',
      target,
      '--web.listen-address',
      listen,
      '--workers',
      '1',
      '--flush-interval',
      '100ms',
      '--probe-defaults.interval',
      '100ms',
      '--log.format',
      'logfmt',
    ],
    listen,
  );
  t.after(async () => {
    await exp.stop(3000);
    server.close();
  });
  await exp.waitReady(20_000);
  const targets = JSON.parse((await exp.request('/api/v1/targets')).text()) as {
    targets: Array<{ name: string; kind: string; address: string; state: string }>;
  };
  assert.deepEqual(
    targets.targets.map((x) => [x.name, x.kind, x.address, x.state]),
    [[target, 'tcp', target, 'ok']],
  );
  const status = JSON.parse((await exp.request('/api/v1/status')).text()) as { config: string; responder: unknown; targets: { probing: number } };
  assert.equal(status.config, '(command line)');
  assert.equal(status.responder, null, 'no responder unless asked');
  assert.equal(status.targets.probing, 1);
  await waitFor("probes to reach the test's listener", () => accepted >= 3, 10_000, 50);
  const m = await exp.scrape();
  assert.ok(m.value('fleetprobe_probe_received_total', { target })! >= 1);
  // logfmt: every line key=value, starting with time and level; none is JSON.
  const lines = exp.stdout.split('\n').filter((l) => l !== '');
  assert.ok(lines.length >= 3, exp.tail());
  for (const line of lines) assert.match(line, /^time=\S+ level=(trace|debug|info|warn|error|fatal) msg=/, line);
  assert.ok(
    lines.some((l) => /level=info msg="fleetprobe listening" .*config="\(command line\)"/.test(l)),
    exp.tail(),
  );
  const stop = await exp.stop(5000);
  assert.equal(stop.code, 0);
});

test('responder: a listener turned off by "off" from a flag, another from a variable; only the third binds', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('fp-resp-off');
  const web = `127.0.0.1:${await freePort()}`;
  const tcpPort = await freePort();
  const udpPort = await freePort();
  const httpPort = await freePort();
  const cfg = dir.file('c.yaml', {
    web: { listen_address: web },
    responder: { tcp_echo: `127.0.0.1:${tcpPort}`, udp_echo: `127.0.0.1:${udpPort}`, http: `127.0.0.1:${httpPort}` },
  });
  const exp = new ExporterProcess(['responder', '--config', cfg, '--responder.udp-echo', 'off'], web, { env: { FLEETPROBE_RESPONDER_HTTP: 'off' } });
  t.after(async () => {
    await exp.stop(3000);
    dir.cleanup();
  });
  await exp.waitReady(20_000);
  const status = JSON.parse((await exp.request('/api/v1/status')).text()) as { responder: Record<string, { port: number }> };
  assert.deepEqual(Object.keys(status.responder), ['tcpEcho']);
  assert.equal(status.responder.tcpEcho.port, tcpPort);
  assert.equal(await portIsFree(httpPort), true, 'the http listener is off');
  const udp = createSocket('udp4');
  const udpFree = await new Promise<boolean>((resolve) => {
    udp.once('error', () => resolve(false));
    udp.bind(udpPort, '127.0.0.1', () => resolve(true));
  });
  udp.close();
  assert.equal(udpFree, true, 'the udp listener is off');
});
