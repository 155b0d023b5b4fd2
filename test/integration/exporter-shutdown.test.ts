/**
 * SIGTERM always ends the process within its bound (SHUTDOWN_TIMEOUT_MS), even when
 * the OTLP collector accepts the connection and never answers, and a second signal
 * ends it at once with 128+signal. The CLI runs as a child process, exporting over
 * OTLP to a "black hole" on loopback: a TCP server that reads every byte and never
 * writes one (what a hung collector or a stuck proxy looks like). The probed target is
 * a TCP listener of the test (kind tcp), so no privilege is needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { SHUTDOWN_TIMEOUT_MS } from '../../src/cli.js';
import { ExporterProcess, tempDir, waitFor } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';

interface BlackHole {
  port: number;
  connections: number;
  bytes: number;
  close(): Promise<void>;
}

/** Accepts, reads and never answers. */
async function blackHole(): Promise<BlackHole> {
  const sockets = new Set<Socket>();
  const bh = { port: 0, connections: 0, bytes: 0 } as BlackHole;
  const srv: Server = createServer((s) => {
    bh.connections++;
    sockets.add(s);
    s.on('data', (d) => (bh.bytes += d.length));
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => srv.listen({ host: '127.0.0.1', port: 0 }, resolve));
  bh.port = (srv.address() as { port: number }).port;
  bh.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      srv.close(() => resolve());
    });
  return bh;
}

/** A plain TCP listener to probe (tcp connect probes). */
async function tcpTarget(): Promise<{ port: number; close(): Promise<void> }> {
  const srv = createServer((s) => s.on('error', () => {}).resume());
  await new Promise<void>((resolve) => srv.listen({ host: '127.0.0.1', port: 0 }, resolve));
  return { port: (srv.address() as { port: number }).port, close: () => new Promise<void>((resolve) => srv.close(() => resolve())) };
}

/** A running CLI exporting OTLP to a black hole; `ready` once /readyz is 200. */
async function startAgainstBlackHole(t: { after(fn: () => Promise<void>): void }): Promise<{ exp: ExporterProcess; bh: BlackHole }> {
  const dir = tempDir('fp-shutdown');
  const [bh, target, port] = await Promise.all([blackHole(), tcpTarget(), freePort()]);
  const listen = `127.0.0.1:${port}`;
  const cfg = dir.file('c.yaml', {
    workers: 1,
    flush_interval: '100ms',
    log: { level: 'info' },
    web: { listen_address: listen },
    probe_defaults: { kind: 'tcp', interval: '200ms', timeout: '500ms' },
    targets: [{ name: 'hole-target', address: `127.0.0.1:${target.port}` }],
  });
  // The default export interval (60 s) means the final export at SIGTERM is the only one.
  const exp = new ExporterProcess(['run', '--config', cfg], listen, {
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${bh.port}`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' },
  });
  t.after(async () => {
    await exp.stop(2000);
    await Promise.all([bh.close(), target.close()]);
    dir.cleanup();
  });
  await exp.waitReady();
  // A few probe results, so the final export has data points to send.
  await waitFor('a probe result', async () => ((await exp.scrape()).value('fleetprobe_probe_received_total', { target: 'hole-target' }) ?? 0) >= 2, 5000);
  return { exp, bh };
}

test('SIGTERM exits within the shutdown bound, with status 0, when the OTLP collector never answers', { timeout: 60_000 }, async (t) => {
  const { exp, bh } = await startAgainstBlackHole(t);
  const t0 = Date.now();
  exp.signal('SIGTERM');
  const exit = await Promise.race([exp.exited, new Promise<null>((r) => setTimeout(() => r(null), SHUTDOWN_TIMEOUT_MS + 5000))]);
  const ms = Date.now() - t0;
  assert.ok(exit !== null, `still running ${SHUTDOWN_TIMEOUT_MS + 5000} ms after SIGTERM\n${exp.tail()}`);
  t.diagnostic(`SIGTERM → exit: ${ms} ms, exit ${JSON.stringify(exit)}`);
  assert.ok(bh.connections >= 1 && bh.bytes > 0, 'the final export reached the collector (and was never answered)');
  assert.equal(exit.code, 0, `a collector that never answers is logged, not a failed shutdown\n${exp.tail()}`);
  assert.ok(ms < SHUTDOWN_TIMEOUT_MS, `exited ${ms} ms after SIGTERM; the bound is ${SHUTDOWN_TIMEOUT_MS} ms`);
  assert.match(exp.stdout, /OTLP final export did not finish in time/);
  assert.match(exp.stdout, /fleetprobe stopped/);
});

for (const [second, code] of [
  ['SIGTERM', 143],
  ['SIGINT', 130],
] as const) {
  test(`a second signal (${second}) during a slow shutdown exits at once with status ${code}`, { timeout: 60_000 }, async (t) => {
    const { exp } = await startAgainstBlackHole(t);
    exp.signal('SIGTERM');
    // The shutdown now waits on the collector (up to its OTLP bound of seconds).
    await waitFor('the shutdown to begin', () => /"msg":"shutting down"/.test(exp.stdout), 5000, 20);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(exp.exit, null, 'still shutting down when the second signal comes');
    const t1 = Date.now();
    exp.signal(second);
    const exit = await Promise.race([exp.exited, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
    const ms = Date.now() - t1;
    assert.ok(exit !== null, `still running 5 s after the second signal\n${exp.tail()}`);
    t.diagnostic(`second ${second} → exit: ${ms} ms`);
    assert.equal(exit.code, code, exp.tail());
    assert.ok(ms < 2000, `exited ${ms} ms after the second signal`);
    assert.match(exp.stdout, /second signal: exiting now/);
  });
}
