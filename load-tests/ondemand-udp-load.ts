/**
 * One on-demand udp test as a benchmark load (issue 8's benchmark): during B's measured
 * window, POST /api/v1/tests {address, kind: 'udp', count, rate} toward a udp echo on
 * loopback, and at the end read GET /api/v1/tests/ID for sent, received, loss and RTT p99.
 * The echo is the exporter's own responder.udp_echo when the bench config has one, else a
 * `fleetprobe responder` child process the load starts and stops (its own process, so
 * neither the bench's clients nor the exporter's CPU figure include it).
 *
 * Loopback only; every wait is bounded.
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OnDemandUdpSpec } from './bench-args.js';
import { stopChild } from './child-processes.js';
import { exporterConfig, freePort, startExporter, writeJson, type RunningExporter } from './exporter-process.js';
import type { ExtraLoad, LoadContext, LoadFigures } from './extra-load.js';
import { OnDemandClient, type OnDemandTestView } from './ondemand-client.js';
import { udpDropCounters, type UdpDropCounters } from './proc-stats.js';

/** A udp port free on `host` right now (the kernel picks it; a small race before the responder binds is accepted). */
function freeUdpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, host, () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

const ms = (s: number | null | undefined): string => (typeof s === 'number' ? (s * 1000).toFixed(2) : '—');

/** The report's cell and figures for a test as GET /api/v1/tests/ID answered it (pure). */
export function onDemandFigures(
  spec: OnDemandUdpSpec,
  view: OnDemandTestView | null,
  error: string | null,
  kernelDrops: UdpDropCounters | null = null,
): LoadFigures {
  if (!view || !view.result) {
    const why = error ?? (view ? `state ${view.state}, no result` : 'no answer');
    return { ondemand_udp: `${spec.count}@${spec.rate}/s`, error: why, cell: `failed: ${why}` };
  }
  const r = view.result;
  const lossPct = (r.loss_ratio * 100).toFixed(2);
  // Loss on loopback is never the network's: a full socket buffer (any UDP socket of the
  // machine, so a bound, not an attribution) is the usual cause; say how many the kernel dropped.
  const drops = kernelDrops === null ? '' : `; kernel udp drops ${kernelDrops.rcvbufErrors} receive, ${kernelDrops.sndbufErrors} send buffer`;
  return {
    ondemand_udp: `${spec.count}@${spec.rate}/s`,
    state: view.state,
    sent: r.sent,
    received: r.received,
    loss: `${lossPct}%`,
    rtt_p50_ms: ms(r.rtt_seconds.p50),
    rtt_p99_ms: ms(r.rtt_seconds.p99),
    rtt_max_ms: ms(r.rtt_seconds.max),
    ...(kernelDrops === null ? {} : { kernel_udp_rcvbuf_drops: kernelDrops.rcvbufErrors, kernel_udp_sndbuf_drops: kernelDrops.sndbufErrors }),
    cell: `${r.received} of ${r.sent} (loss ${lossPct}%), p99 ${ms(r.rtt_seconds.p99)} ms${view.state === 'done' ? '' : ` [${view.state}]`}${drops}`,
  };
}

export class OnDemandUdpLoad implements ExtraLoad {
  readonly name = 'ondemand-udp';
  readonly column = 'on-demand udp: received of sent, RTT p99';
  readonly exporterConfig: Record<string, unknown>;
  private api: OnDemandClient | null = null;
  private echo: string | null = null;
  private responder: RunningExporter | null = null;
  private dir: string | null = null;
  private started: Promise<{ id: string | null; error: string | null }> | null = null;
  /** The kernel's UDP drop counters when the test was started. */
  private kernelBefore: UdpDropCounters | null = null;

  constructor(private readonly spec: OnDemandUdpSpec) {
    // Above the default tests.max_count (10000) the exporter must allow it; the rate is
    // checked against tests.max_rate's ceiling (1000/s, its default) when parsing.
    this.exporterConfig = spec.count > 10_000 ? { tests: { max_count: spec.count } } : {};
  }

  async start(ctx: LoadContext): Promise<void> {
    this.api = new OnDemandClient(ctx.baseUrl, undefined);
    if (ctx.udpEcho) {
      this.echo = ctx.udpEcho;
      return;
    }
    this.dir = mkdtempSync(join(tmpdir(), 'fleetprobe-bench-udp-echo-'));
    const host = '127.0.0.1';
    const port = await freeUdpPort(host);
    const webPort = await freePort();
    const cfg = writeJson(
      this.dir,
      'responder.json',
      exporterConfig({ webPort, intervalMs: 1000, timeoutMs: 1000, responder: { udpEcho: `${host}:${port}` } }),
    );
    this.responder = await startExporter(`udp echo ${host}:${port}`, 'responder', cfg, webPort, 30_000);
    this.echo = `${host}:${port}`;
  }

  /** The test starts with the window, so all of it runs inside the measured window (5 s of a 30 s window at 5000@1000). */
  windowStart(): void {
    const api = this.api!;
    this.kernelBefore = udpDropCounters();
    this.started = api
      .start({ address: this.echo, kind: 'udp', count: this.spec.count, rate: this.spec.rate })
      .then((r) => (r.id ? { id: r.id, error: null } : { id: null, error: `POST /api/v1/tests answered ${r.status}: ${r.text.slice(0, 300)}` }))
      .catch((e: unknown) => ({ id: null, error: `POST /api/v1/tests: ${(e as Error).message}` }));
  }

  async stop(): Promise<LoadFigures> {
    try {
      const { id, error } = this.started ? await this.started : { id: null, error: 'never started' };
      let view: OnDemandTestView | null = null;
      let err = error;
      if (id) {
        // The test's own length plus the probe timeout and a margin for a busy machine.
        view = await this.api!.waitEnded(id, (this.spec.count / this.spec.rate) * 1000 + 30_000).catch((e: unknown) => {
          err = `GET /api/v1/tests/${id}: ${(e as Error).message}`;
          return null;
        });
        if (view?.state === 'running') err = 'still running after its length + 30 s';
      }
      const after = udpDropCounters();
      const b = this.kernelBefore;
      const drops =
        b && after
          ? { rcvbufErrors: after.rcvbufErrors - b.rcvbufErrors, sndbufErrors: after.sndbufErrors - b.sndbufErrors, inErrors: after.inErrors - b.inErrors }
          : null;
      return onDemandFigures(this.spec, view, err, drops);
    } finally {
      if (this.responder) await stopChild(this.responder.child);
      if (this.dir) rmSync(this.dir, { recursive: true, force: true });
      this.responder = null;
      this.dir = null;
    }
  }
}
