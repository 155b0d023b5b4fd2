/**
 * The exporter (and the responder) as real child processes for the benchmark:
 * `node bin/fleetprobe.js run|responder --config FILE`, started from a config
 * and a target file written to a temporary directory, waited for on /readyz.
 * The pid is node's own, so /proc/PID accounts the whole exporter (every worker
 * thread included).
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnTracked, sleep, stopChild, type Tracked } from './child-processes.js';
import { getText } from './http-client.js';
import type { TargetEntry } from './loopback-fleet.js';

/** Repository root (this file runs as dist/load-tests/exporter-process.js). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = join(REPO_ROOT, 'bin', 'fleetprobe.js');

/** A TCP port free right now on `host` (the kernel picks it; a small race before the child binds is accepted). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

export interface ExporterConfigInput {
  webPort: number;
  workers?: number;
  /** icmp.socket; undefined: the exporter's default (auto). */
  icmpSocket?: 'auto' | 'raw' | 'dgram';
  intervalMs: number;
  timeoutMs: number;
  targetsFile?: string;
  /** Seconds; undefined: the exporter's default buckets. */
  rttBuckets?: number[];
  responder?: { tcpEcho?: string; udpEcho?: string; http?: string; maxConnections?: number };
}

/** The config document (JSON, which the YAML loader reads too, written as .json). */
export function exporterConfig(c: ExporterConfigInput): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    log: { level: 'warn' },
    web: { listen_address: `127.0.0.1:${c.webPort}` },
    probe_defaults: { interval: `${c.intervalMs}ms`, timeout: `${c.timeoutMs}ms` },
  };
  if (c.workers !== undefined) doc.workers = c.workers;
  if (c.icmpSocket !== undefined) doc.icmp = { socket: c.icmpSocket };
  if (c.targetsFile) doc.target_files = [c.targetsFile];
  if (c.rttBuckets) doc.metrics = { rtt_buckets: c.rttBuckets };
  if (c.responder) {
    doc.responder = {
      ...(c.responder.tcpEcho ? { tcp_echo: c.responder.tcpEcho } : {}),
      ...(c.responder.udpEcho ? { udp_echo: c.responder.udpEcho } : {}),
      ...(c.responder.http ? { http: c.responder.http } : {}),
      max_connections: c.responder.maxConnections ?? 4096,
      idle_timeout: '1h',
      allow_cidrs: ['127.0.0.0/8'],
      // One bench prober (one source address) opens thousands of tcp_echo connections
      // at start, and sends thousands of udp datagrams a second: the per-source abuse
      // limits are off for this fan-in.
      tcp_connect_rate_per_source: 0,
      udp_rate_per_source: 0,
    };
  }
  return doc;
}

export function writeJson(dir: string, name: string, doc: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(doc));
  return path;
}

export function writeTargets(dir: string, name: string, entries: readonly TargetEntry[]): string {
  return writeJson(dir, name, entries);
}

export interface RunningExporter {
  child: Tracked;
  baseUrl: string;
}

/** Start `fleetprobe MODE --config FILE` and wait (bounded) until /readyz answers 200. */
export async function startExporter(
  name: string,
  mode: 'run' | 'responder',
  configPath: string,
  webPort: number,
  readyTimeoutMs: number,
): Promise<RunningExporter> {
  const child = spawnTracked(name, process.execPath, [CLI, mode, '--config', configPath]);
  const baseUrl = `http://127.0.0.1:${webPort}`;
  const deadline = Date.now() + readyTimeoutMs;
  let last: string;
  for (;;) {
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) {
      throw new Error(`${name} exited (${child.proc.exitCode ?? child.proc.signalCode}) before ready:\n${child.output().slice(-4000)}`);
    }
    try {
      const r = await getText(`${baseUrl}/readyz`, 2000);
      if (r.status === 200) return { child, baseUrl };
      last = `${r.status} ${r.text.slice(0, 200)}`;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) {
      await stopChild(child, 'SIGKILL');
      throw new Error(`${name} not ready after ${readyTimeoutMs} ms (last /readyz: ${last}):\n${child.output().slice(-4000)}`);
    }
    await sleep(250);
  }
}
