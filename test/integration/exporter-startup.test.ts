/**
 * Honest start-up and readiness, with the real CLI as a child process:
 *
 *  - a taken port (bound by this test first): exit 1 and one line on stderr naming the
 *    address, the setting and the fix; no stack trace on stdout, no "stopped" line,
 *    and not one probe sent (the listeners are bound before the pool starts);
 *  - nothing probeable: every ICMP target refused because the process has no
 *    CAP_NET_RAW (run as uid 65534 with no capabilities, inside a namespace whose
 *    ping_group_range admits no group, so no ICMP socket of any kind can be opened)
 *    makes /readyz 503 with the reason and the status say probing: 0; a probeable
 *    target added by a reload makes it ready. And without privileges: a target file
 *    whose every entry is rejected is not ready either.
 *
 * Loopback only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { spawnSync } from 'node:child_process';
import { ExporterProcess, runCli, sleep, tempDir, waitFor } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';
import { createNetns, netnsUnavailable } from '../helpers/netns.js';

/** A TCP listener on loopback that counts the connections it accepts. */
async function countingServer(): Promise<{ server: Server; port: number; connections: () => number }> {
  let n = 0;
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    n++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const close = server.close.bind(server);
  server.close = (cb?: (err?: Error) => void) => {
    for (const s of sockets) s.destroy();
    return close(cb);
  };
  return { server, port: (server.address() as { port: number }).port, connections: () => n };
}

async function holdTcp(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, resolve));
  return { server, port: (server.address() as { port: number }).port };
}

test('a taken web port: exit 1, one line naming address, setting and fix, and not one probe sent', { timeout: 30_000 }, async (t) => {
  const dir = tempDir('fp-taken');
  const held = await holdTcp();
  const probed = await countingServer();
  t.after(() => {
    held.server.close();
    probed.server.close();
    dir.cleanup();
  });
  const cfg = dir.file('c.yaml', {
    workers: 1,
    flush_interval: '100ms',
    web: { listen_address: `127.0.0.1:${held.port}` },
    probe_defaults: { kind: 'tcp', interval: '10ms', timeout: '5ms' },
    targets: [{ name: 'counted', address: `127.0.0.1:${probed.port}` }],
  });
  const r = await runCli(['run', '--config', cfg], { timeoutMs: 20_000 });
  assert.equal(r.code, 1, `exit 1\n${r.stdout}\n${r.stderr}`);
  assert.equal(
    r.stderr,
    `fleetprobe: cannot listen on 127.0.0.1:${held.port} (web.listen_address): address already in use; another process has it — choose another port with --web.listen-address\n`,
  );
  assert.doesNotMatch(r.stdout, /"stack"|EADDRINUSE|"level":60/, 'no stack trace, no fatal JSON on stdout');
  assert.doesNotMatch(r.stdout, /fleetprobe stopped/, 'nothing had started, so nothing "stopped"');
  // Any connection the exporter made before it exited has been accepted by now.
  await sleep(300);
  assert.equal(probed.connections(), 0, 'no probe was sent before the listener failed');
});

test("a taken responder port names the responder's listener: TCP by its port, UDP apart from TCP on the same number", { timeout: 30_000 }, async (t) => {
  const dir = tempDir('fp-taken-resp');
  const held = await holdTcp();
  const udp = createSocket('udp4');
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  t.after(() => {
    held.server.close();
    udp.close();
    dir.cleanup();
  });
  const web = `127.0.0.1:${await freePort()}`;
  const free = await freePort();
  const tcpCfg = dir.file('tcp.yaml', {
    web: { listen_address: web },
    responder: { tcp_echo: `127.0.0.1:${free}`, udp_echo: `127.0.0.1:${free}`, http: `127.0.0.1:${held.port}` },
  });
  const a = await runCli(['responder', '--config', tcpCfg], { timeoutMs: 20_000 });
  assert.equal(a.code, 1, a.stderr);
  assert.equal(
    a.stderr,
    `fleetprobe: cannot listen on 127.0.0.1:${held.port} (responder.http): address already in use; another process has it — choose another port with --responder.http\n`,
  );
  const udpPort = udp.address().port;
  const udpCfg = dir.file('udp.yaml', {
    web: { listen_address: web },
    responder: { tcp_echo: `127.0.0.1:${udpPort}`, udp_echo: `127.0.0.1:${udpPort}` },
  });
  const b = await runCli(['responder', '--config', udpCfg], { timeoutMs: 20_000 });
  // The TCP port of that number is free (unless another process took it meanwhile: then tcp_echo is named, also correctly).
  assert.equal(b.code, 1, b.stderr);
  assert.match(
    b.stderr,
    new RegExp(
      `^fleetprobe: cannot listen on 127\\.0\\.0\\.1:${udpPort} \\(responder\\.(udp_echo|tcp_echo)\\): address already in use; .* --responder\\.(udp|tcp)-echo\\n$`,
    ),
  );
  assert.equal(b.stderr.split('\n').length, 2, 'one line');
});

interface Status {
  ready: boolean;
  not_ready_reason: string | null;
  targets: { configured: number; probing: number; rejected: number };
}

test('every target rejected when read: not ready, with the reason (no privileges needed)', { timeout: 30_000 }, async (t) => {
  const dir = tempDir('fp-norun');
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  dir.file('targets.json', [{ name: 'bad', kind: 'tcp', address: 'no port here' }]);
  const cfg = dir.file('c.yaml', { workers: 1, flush_interval: '100ms', web: { listen_address: listen }, target_files: ['targets.json'] });
  const exp = new ExporterProcess(['run', '--config', cfg], listen);
  t.after(async () => {
    await exp.stop(3000);
    dir.cleanup();
  });
  const body = await waitFor(
    '/readyz to give the nothing-probeable reason',
    async () => {
      if (exp.exit) throw new Error(`exited\n${exp.tail()}`);
      const r = await exp.request('/readyz');
      return r.status === 503 && /no target can be probed/.test(r.text()) && r.text();
    },
    15_000,
  );
  assert.equal(body, 'not ready: no target can be probed: of 1 configured, 1 rejected when read\n');
  const status = JSON.parse((await exp.request('/api/v1/status')).text()) as Status;
  assert.equal(status.ready, false);
  assert.equal(status.targets.probing, 0);
  const rejected = JSON.parse((await exp.request('/api/v1/targets?state=rejected')).text()) as {
    targets: Array<{ name: string; kind: string; address: string }>;
  };
  assert.deepEqual(
    rejected.targets.map((x) => [x.name, x.kind, x.address]),
    [['bad', 'tcp', 'no port here']],
    'a rejected entry shows its kind and address',
  );
});

const NS_SKIP = netnsUnavailable(['ip', 'setpriv']);

test(
  'no CAP_NET_RAW: every ICMP target refused -> /readyz 503 with the reason, probing: 0; a probeable target makes it ready',
  { skip: NS_SKIP, timeout: 60_000 },
  async (t) => {
    const dir = tempDir('fp-unpriv', { forOtherUsers: true }); // uid 65534 reads the config
    const ns = createNetns(`fp-ready-${process.pid}`);
    const listen = '127.0.0.1:9798'; // the namespace's own loopback: nothing else listens there
    let exp: ExporterProcess | undefined;
    t.after(async () => {
      await exp?.stop(3000);
      ns.destroy();
      dir.cleanup();
    });
    // A new namespace admits no group to ICMP ping sockets: no ICMP socket of either kind for an unprivileged process.
    assert.equal(ns.exec('cat', ['/proc/sys/net/ipv4/ping_group_range']).trim().split(/\s+/).join(' '), '1 0');
    const config = (targets: unknown[]) => ({
      workers: 2,
      flush_interval: '100ms',
      web: { listen_address: listen },
      probe_defaults: { interval: '100ms', timeout: '500ms' },
      targets,
    });
    const icmp = [
      { name: 'lo4', address: '127.0.0.1' },
      { name: 'lo6', address: '::1' },
    ];
    const cfg = dir.file('c.yaml', config(icmp));
    chmodSync(cfg, 0o644);
    const runner = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', process.execPath];
    assert.equal(spawnSync(runner[0], [...runner.slice(1), '-e', '0']).status, 0, 'setpriv works here');
    exp = new ExporterProcess(['run', '--config', cfg], listen, { netns: ns.name, runner });

    const reason = await waitFor(
      '/readyz 503 saying nothing can be probed',
      async () => {
        if (exp.exit) throw new Error(`exited\n${exp.tail()}`);
        const r = await exp.request('/readyz');
        return r.status === 503 && /no target can be probed/.test(r.text()) && r.text();
      },
      30_000,
      250,
    );
    assert.match(
      reason,
      /^not ready: no target can be probed: of 2 configured, 2 refused by the workers \(lo[46]: icmp: cannot open a raw ICMPv[46] socket \(.*needs CAP_NET_RAW\) nor a ping socket \(.*ping_group_range/,
    );
    const status = JSON.parse((await exp.request('/api/v1/status')).text()) as Status;
    assert.deepEqual([status.ready, status.targets.configured, status.targets.probing, status.targets.rejected], [false, 2, 0, 2], JSON.stringify(status));
    assert.match(status.not_ready_reason ?? '', /refused by the workers/);
    const m = await exp.scrape();
    assert.equal(m.value('fleetprobe_targets', { state: 'probing' }), 0);
    assert.equal(m.value('fleetprobe_targets', { state: 'rejected' }), 2);
    assert.equal(m.value('fleetprobe_workers', { state: 'running' }), 2, 'the workers themselves are healthy');

    // A TCP target needs no privilege: once it is probed, the instance is ready.
    dir.file('c.yaml', config([...icmp, { name: 'conn', kind: 'tcp', address: '127.0.0.1:9798' }]));
    exp.signal('SIGHUP');
    await exp.waitReady(20_000);
    const after = JSON.parse((await exp.request('/api/v1/status')).text()) as Status;
    assert.deepEqual([after.ready, after.targets.probing, after.not_ready_reason], [true, 1, null], JSON.stringify(after));
    const stop = await exp.stop(5000);
    assert.equal(stop.code, 0, exp.tail());
  },
);
