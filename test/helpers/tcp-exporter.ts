/**
 * An Exporter in this process probing three tcp targets (a TCP listener of the test on
 * loopback; no privilege needed), for tests that read fleetprobe's reports on itself.
 */
import { createServer } from 'node:net';
import { pino } from 'pino';
import { Exporter } from '../../src/exporter.js';
import { tempDir } from './exporter-process.js';

async function tcpTarget(): Promise<{ port: number; close(): Promise<void> }> {
  const srv = createServer((s) => s.on('error', () => {}).resume());
  await new Promise<void>((resolve) => srv.listen({ host: '127.0.0.1', port: 0 }, resolve));
  return { port: (srv.address() as { port: number }).port, close: () => new Promise<void>((resolve) => srv.close(() => resolve())) };
}

/** Start it (flush 500 ms, 1 s interval); `config` overrides, `env` is its environment. Stopped by t.after. */
export async function startTcpExporter(
  t: { after(fn: () => Promise<void>): void },
  prefix: string,
  config: Record<string, unknown>,
  env: Record<string, string> = {},
): Promise<Exporter> {
  const dir = tempDir(prefix);
  const target = await tcpTarget();
  const cfg = dir.file('c.yaml', {
    flush_interval: '500ms',
    log: { level: 'silent' },
    web: { listen_address: '127.0.0.1:0' },
    probe_defaults: { kind: 'tcp', interval: '1s', timeout: '500ms' },
    targets: [0, 1, 2].map((i) => ({ name: `tcp${i}`, address: `127.0.0.1:${target.port}` })),
    ...config,
  });
  const exporter = new Exporter({ argv: ['--config', cfg], env, logger: pino({ level: 'silent' }) });
  t.after(async () => {
    await exporter.stop();
    await target.close();
    dir.cleanup();
  });
  await exporter.start();
  return exporter;
}
