/**
 * Live-stream clients as a benchmark load: N SSE clients (GET /api/v1/stream,
 * stream mode) and M gRPC Subscribe streams (STREAM mode), each selecting its own
 * window of `select` targets by name (consecutive windows, wrapping), so every event
 * the exporter encodes is delivered as in a real fleet of watchers. The clients run
 * in the bench process, read everything, and count the events they receive.
 *
 * Loopback only; every wait is bounded.
 */
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { credentials, loadPackageDefinition, type ClientDuplexStream, type GrpcObject } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { REPO_ROOT } from './exporter-process.js';
import type { ExtraLoad, LoadContext, LoadFigures } from './extra-load.js';

export interface StreamLoadOptions {
  sseClients: number;
  grpcStreams: number;
  /** Targets per client; 'all': every client selects every target. */
  select: number | 'all';
}

/** Consecutive windows of `k` target names over `names`, one per client, wrapping around. */
export function selectionWindows(names: readonly string[], clients: number, k: number | 'all'): string[][] {
  if (k === 'all') return Array.from({ length: clients }, () => []);
  const n = names.length;
  const size = Math.min(k, n);
  return Array.from({ length: clients }, (_, c) => Array.from({ length: size }, (_, j) => names[(c * size + j) % n]));
}

interface Counts {
  results: number;
  states: number;
  /** Set when the stream ended before stop() (dropped or refused). */
  endedEarly: string | null;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
type Duplex = ClientDuplexStream<any, any>;

export class StreamLoad implements ExtraLoad {
  readonly name = 'stream';
  readonly exporterConfig: Record<string, unknown>;
  private readonly sse: { req: ClientRequest; res?: IncomingMessage; counts: Counts }[] = [];
  private readonly grpc: { call: Duplex; counts: Counts }[] = [];
  private client: { close(): void } | null = null;
  private windowT0 = 0;
  private stopping = false;

  constructor(private readonly o: StreamLoadOptions) {
    this.exporterConfig = { stream: { max_clients: o.sseClients + o.grpcStreams + 16 } };
  }

  async start(ctx: LoadContext): Promise<void> {
    const names = ctx.targets.map((t) => t.name);
    // One window per client over all of them, so SSE and gRPC clients watch different targets.
    const windows = selectionWindows(names, this.o.sseClients + this.o.grpcStreams, this.o.select);
    const sseSel = windows.slice(0, this.o.sseClients);
    const grpcSel = windows.slice(this.o.sseClients);
    const synced: Promise<void>[] = [];
    for (const sel of sseSel) synced.push(this.openSse(ctx.baseUrl, sel));
    if (this.o.grpcStreams > 0) {
      const def = loadSync('fleetprobe/v1/telemetry.proto', {
        keepCase: true,
        longs: Number,
        enums: String,
        defaults: true,
        oneofs: true,
        includeDirs: [join(REPO_ROOT, 'proto')],
      });
      const pkg = loadPackageDefinition(def) as GrpcObject & { fleetprobe: { v1: { Telemetry: new (a: string, c: unknown) => any } } };
      const client = new pkg.fleetprobe.v1.Telemetry(ctx.grpcAddress, credentials.createInsecure());
      this.client = client;
      for (const sel of grpcSel) synced.push(this.openGrpc(client, sel));
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(synced),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('stream clients did not all get their initial states within 60 s')), 60_000);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  private openSse(baseUrl: string, sel: string[]): Promise<void> {
    const counts: Counts = { results: 0, states: 0, endedEarly: null };
    const q = sel.map((n) => `target=${encodeURIComponent(n)}`).join('&');
    return new Promise((resolve, reject) => {
      const req = request(`${baseUrl}/api/v1/stream${q ? `?${q}` : ''}`, { agent: false });
      const entry: (typeof this.sse)[number] = { req, counts };
      this.sse.push(entry);
      let synced = false;
      let carry = '';
      req.on('response', (res) => {
        entry.res = res;
        if (res.statusCode !== 200) {
          reject(new Error(`SSE client: HTTP ${res.statusCode}`));
          res.resume();
          return;
        }
        res.setEncoding('utf8');
        res.on('data', (s: string) => {
          // Count event lines; a line split across chunks is joined through `carry`.
          const text = carry + s;
          const cut = text.lastIndexOf('\n');
          carry = cut < 0 ? text : text.slice(cut + 1);
          const body = cut < 0 ? '' : text.slice(0, cut);
          counts.results += occurrences(body, 'event: result');
          counts.states += occurrences(body, 'event: state');
          if (!synced && body.includes('event: sync')) {
            synced = true;
            resolve();
          }
          if (body.includes('event: dropped')) counts.endedEarly = 'dropped';
        });
        res.on('close', () => {
          if (!this.stopping) counts.endedEarly ??= 'closed';
          if (!synced) reject(new Error('SSE stream ended before its initial states'));
        });
      });
      req.on('error', (e) => {
        if (!this.stopping) counts.endedEarly ??= e.message;
        if (!synced) reject(e);
      });
      req.end();
    });
  }

  private openGrpc(client: any, sel: string[]): Promise<void> {
    const counts: Counts = { results: 0, states: 0, endedEarly: null };
    return new Promise((resolve, reject) => {
      const call: Duplex = client.Subscribe();
      this.grpc.push({ call, counts });
      let synced = false;
      call.on('data', (m: { response: string }) => {
        if (m.response === 'result') counts.results++;
        else if (m.response === 'state') counts.states++;
        else if (!synced) {
          synced = true;
          resolve();
        }
      });
      call.on('status', (st: { code: number; details: string }) => {
        if (!this.stopping) counts.endedEarly ??= `status ${st.code} ${st.details}`;
        if (!synced) reject(new Error(`gRPC stream ended before its initial states: ${st.code} ${st.details}`));
      });
      call.on('error', () => {});
      call.write({ subscribe: { mode: 'STREAM', targets: sel } });
    });
  }

  windowStart(): void {
    this.windowT0 = performance.now();
    for (const c of [...this.sse, ...this.grpc]) {
      c.counts.results = 0;
      c.counts.states = 0;
    }
  }

  stop(): Promise<LoadFigures> {
    const seconds = (performance.now() - this.windowT0) / 1000;
    this.stopping = true;
    const all = [...this.sse.map((c) => ({ t: 'sse', c: c.counts })), ...this.grpc.map((c) => ({ t: 'grpc', c: c.counts }))];
    const sum = (t: string, k: 'results' | 'states'): number => all.filter((x) => x.t === t).reduce((a, x) => a + x.c[k], 0);
    const figures: LoadFigures = {
      sse_clients: this.sse.length,
      grpc_streams: this.grpc.length,
      select: String(this.o.select),
      sse_results_per_s: Math.round(sum('sse', 'results') / seconds),
      sse_states_per_s: Math.round(sum('sse', 'states') / seconds),
      grpc_results_per_s: Math.round(sum('grpc', 'results') / seconds),
      grpc_states_per_s: Math.round(sum('grpc', 'states') / seconds),
      clients_ended_early: all.filter((x) => x.c.endedEarly !== null).length,
    };
    for (const c of this.sse) {
      c.req.destroy();
      c.res?.destroy();
    }
    for (const c of this.grpc) c.call.cancel();
    this.client?.close();
    return Promise.resolve(figures);
  }
}

function occurrences(s: string, needle: string): number {
  let n = 0;
  for (let i = s.indexOf(needle); i >= 0; i = s.indexOf(needle, i + needle.length)) n++;
  return n;
}
