/**
 * The exporter process: wires configuration, targets, the shard supervisor, the
 * store, the HTTP server, the responder and OTel export together, and applies
 * reloads.
 *
 * Data flow: config → targets (sources → DNS → registry slots) → partition by worker
 * → supervisor (piscina shards) → batches → store → /metrics and OTLP.
 *
 * What survives a reload: the store (so counters carry on), the registry's slots for
 * targets that still exist, the worker pool (unless `workers` changed), the HTTP
 * listener. A reload whose config is invalid changes nothing and is reported.
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ConfigError, loadConfig, type Config } from './config/index.js';
import {
  loadTargets,
  parseHostPort,
  partitionByWorker,
  Resolver,
  TargetRegistry,
  workerOf,
  type RegistryDiff,
  type TargetSet,
} from './targets/index.js';
import { TargetStore } from './aggregate/store.js';
import { SelfMetrics } from './metrics/self.js';
import { renderMetrics } from './metrics/scrape.js';
import { ShardSupervisor } from './pool/supervisor.js';
import { startOtelExport, type OtelExport } from './metrics/otel.js';
import { build } from './http/app.js';
import { logFdLimits } from './http/fd-limit.js';
import type { TargetStatus } from './http/routes/api.js';
import { startResponder, type Responder, type ResponderOptions } from './responder/index.js';
import { BatchWriter } from './protocol/batch.js';
import { ErrorReason, ProbeEvent } from './protocol/events.js';

export type ExporterMode = 'run' | 'responder';

export interface ExporterOptions {
  /** Arguments after the subcommand (flags and --config). */
  argv: readonly string[];
  env?: Readonly<Record<string, string | undefined>>;
  mode?: ExporterMode;
  logger: Logger;
  /** Override the shard worker script (tests). */
  shardFilename?: string;
}

export class Exporter {
  readonly mode: ExporterMode;
  private readonly log: Logger;
  private config!: Config;
  private store!: TargetStore;
  private self!: SelfMetrics;
  private readonly registry = new TargetRegistry();
  private resolver: Resolver | null = null;
  private resolverStarted = false;
  /** True while applyTargets resolves: its own resolutions are not re-applied by onChange. */
  private applyingTargets = false;
  private supervisor: ShardSupervisor | null = null;
  private app: FastifyInstance | null = null;
  private responder: Responder | null = null;
  private otel: OtelExport | null = null;
  private targets: TargetSet = { targets: [], rejected: [], notOwned: 0, meshSelf: null };
  /** Targets a worker refused (by slot), with the reason. */
  private readonly workerRejected = new Map<number, string>();
  private readonly cookie = randomInt(1, 0xffffffff);
  private readonly icmpIdentifierBase = randomInt(0, 0x10000);
  private applied = false;
  private reloading: Promise<{ ok: boolean; error?: string }> | null = null;
  private readonly startedAt = Date.now();
  private listenUrl = '';

  constructor(private readonly opts: ExporterOptions) {
    this.mode = opts.mode ?? 'run';
    this.log = opts.logger;
  }

  /** Load and validate the configuration (throws ConfigError) without starting anything. */
  loadConfig(): Config {
    return loadConfig({ argv: this.opts.argv, env: this.opts.env });
  }

  async start(): Promise<void> {
    this.config = this.loadConfig();
    this.log.level = this.config.log.level;
    this.store = new TargetStore({ buckets: this.config.metrics.rttBuckets });
    this.self = new SelfMetrics({ store: this.store });
    // OTLP push of the same store, only when the standard OTEL_* variables ask for it.
    this.otel = startOtelExport({ store: this.store, logger: this.log.child({ component: 'otel' }), env: this.opts.env, serviceVersion: packageVersion() });

    if (this.config.responder.tcpEcho || this.config.responder.udpEcho || this.config.responder.http) {
      this.responder = await startResponder(responderOptions(this.config), { registry: this.self.registry, logger: this.log.child({ component: 'responder' }) });
    } else if (this.mode === 'responder') {
      throw new ConfigError([{ key: 'responder', value: null, message: 'responder mode needs at least one of responder.tcp_echo, responder.udp_echo, responder.http' }]);
    }

    if (this.mode === 'run') {
      this.replaceResolver();
      this.startSupervisor(this.config.workers);
      await this.applyTargets();
    }
    this.self.onReload(true);

    this.app = await build({
      logger: this.log,
      telemetryPath: this.config.web.telemetryPath,
      metrics: ({ gzip }) => renderMetrics(this.store, this.self.registry, { gzip }),
      readiness: () => this.readiness(),
      reload: () => this.reload(),
      api: { targets: () => this.targetStatus(), status: () => this.status() },
      limits: this.config.web,
      registry: this.self.registry,
    });
    const web = listenAddress('web.listen_address', this.config.web.listenAddress);
    this.listenUrl = await this.app.listen(web);
    const workers = this.mode === 'run' ? { workers: this.config.workers } : {};
    this.log.info({ url: this.listenUrl, config: this.config.configFile, mode: this.mode, ...workers }, 'fleetprobe listening');
    logFdLimits(this.log, this.config.web.maxConnections);
  }

  /** The address the HTTP server listens on, e.g. http://127.0.0.1:9798 */
  get url(): string {
    return this.listenUrl;
  }

  /** A resolver with the current dns.* settings; applyTargets starts it. */
  private replaceResolver(): void {
    this.resolver?.stop();
    this.resolver = this.createResolver();
    this.resolverStarted = false;
  }

  private createResolver(): Resolver {
    return new Resolver({
      refreshIntervalMs: this.config.dns.refreshIntervalMs,
      prefer: this.config.dns.prefer,
      onChange: (changes) => {
        // Resolutions made inside applyTargets are applied by it; the periodic ones here.
        if (!this.applied || this.applyingTargets) return;
        this.log.info({ changed: changes.map((c) => c.name) }, 'DNS changes');
        this.applyRegistry();
      },
      onError: (err) => this.log.error({ err }, 'DNS refresh failed'),
    });
  }

  private startSupervisor(workers: number): void {
    this.supervisor = new ShardSupervisor({
      workers,
      flushIntervalMs: this.config.flushIntervalMs,
      cookie: this.cookie,
      icmpIdentifierBase: this.icmpIdentifierBase,
      filename: this.opts.shardFilename,
      logger: this.log.child({ component: 'supervisor' }),
      onBatch: (i, buf) => this.onBatch(i, buf),
      onRejected: (slot, reason) => this.onWorkerRejected(slot, reason),
      onRestart: (i) => this.self.onWorkerRestart(i),
    });
    this.self.setWorkers(workers);
  }

  private onBatch(workerIndex: number, buf: ArrayBuffer): void {
    let header: Float64Array;
    try {
      header = this.store.applyBatch(buf);
    } catch (err) {
      this.self.onBatchRejected(workerIndex);
      this.log.warn({ err, worker: workerIndex }, 'rejected a malformed batch');
      return;
    }
    this.self.onBatch(workerIndex, header);
  }

  private onWorkerRejected(slot: number, reason: string): void {
    const name = this.store.nameOf(slot);
    this.workerRejected.set(slot, reason);
    this.log.warn({ target: name, slot, reason }, 'target rejected by its worker');
    this.updateTargetStates();
  }

  /** Read target sources, resolve names, and push the result to the workers. */
  private async applyTargets(): Promise<void> {
    const set = await loadTargets(this.config);
    for (const r of set.rejected) this.log.warn({ source: r.source, target: r.name, reason: r.reason }, 'target rejected');
    this.targets = set;
    this.resolver!.setTargets(set.targets);
    this.applyingTargets = true;
    try {
      if (!this.resolverStarted) {
        // A new resolver: resolve everything before assigning, then keep refreshing.
        await this.resolver!.start();
        this.resolverStarted = true;
      } else {
        await this.resolver!.refresh();
      }
    } finally {
      this.applyingTargets = false;
    }
    this.applyRegistry();
    this.applied = true;
  }

  /** Registry update from the current targets and resolutions, then store + workers. */
  private applyRegistry(): void {
    if (!this.supervisor || !this.resolver) return;
    const resolver = this.resolver;
    const diff = this.registry.update(this.targets.targets, (name) => resolver.get(name));
    this.applyDiffToStore(diff);
    const probing = this.registry.shardTargets();
    const assignments = partitionByWorker(probing, this.supervisor.workers);
    if (!this.applied) this.supervisor.start(assignments);
    else this.supervisor.update(assignments);
    this.updateTargetStates();
    this.log.info(
      { generation: diff.generation, added: diff.added.length, removed: diff.removed.length, changed: diff.changed.length, probing: probing.length },
      'targets applied',
    );
  }

  private applyDiffToStore(diff: RegistryDiff): void {
    for (const r of diff.removed) {
      this.store.releaseSlot(r.slot);
      this.workerRejected.delete(r.slot);
    }
    const unresolved = new BatchWriter(16);
    for (const e of [...diff.added, ...diff.changed]) {
      this.store.defineSlot(e.slot, e.spec);
      this.workerRejected.delete(e.slot);
      if (e.resolution?.status === 'error') {
        // Counted against the target (errors_total{reason="resolve"}) through the same
        // batch path the workers use, so there is one way counters change.
        unresolved.push(e.slot, ProbeEvent.TargetInvalid, ErrorReason.resolve);
        this.log.warn({ target: e.spec.name, code: e.resolution.code, error: e.resolution.message }, 'target does not resolve; retrying on the next DNS refresh');
      }
    }
    if (unresolved.length > 0) this.store.applyBatch(unresolved.take(-1, 0));
  }

  private updateTargetStates(): void {
    let unresolved = 0;
    for (const e of this.registry.entries()) if (e.resolution?.status === 'error') unresolved++;
    this.self.setTargetStates({
      configured: this.registry.size,
      rejected: this.targets.rejected.length + this.workerRejected.size,
      unresolved,
    });
  }

  private readiness(): { ready: boolean; reason?: string } {
    if (this.mode === 'responder') return { ready: true };
    if (!this.applied) return { ready: false, reason: 'targets not loaded yet' };
    if (!this.supervisor?.ready()) return { ready: false, reason: 'waiting for every worker to deliver a batch' };
    return { ready: true };
  }

  /** SIGHUP and POST /-/reload. Concurrent calls share one reload. */
  reload(): Promise<{ ok: boolean; error?: string }> {
    this.reloading ??= this.doReload().finally(() => {
      this.reloading = null;
    });
    return this.reloading;
  }

  private async doReload(): Promise<{ ok: boolean; error?: string }> {
    let next: Config;
    try {
      next = this.loadConfig();
    } catch (err) {
      this.self.onReload(false);
      const message = err instanceof Error ? err.message : String(err);
      this.log.error({ err }, 'reload failed: configuration invalid; keeping the running configuration');
      return { ok: false, error: message };
    }
    try {
      const prev = this.config;
      this.config = next;
      this.log.level = next.log.level;
      if (JSON.stringify(next.web) !== JSON.stringify(prev.web)) {
        this.log.warn({}, 'web.* settings take effect on restart');
      }
      if (String(next.metrics.rttBuckets) !== String(prev.metrics.rttBuckets)) {
        this.log.warn({}, 'metrics.rtt_buckets takes effect on restart');
      }
      if (JSON.stringify(next.responder) !== JSON.stringify(prev.responder)) {
        // Listeners keep their sockets and metrics; rebinding them under load is a restart's job.
        this.log.warn({}, 'responder settings take effect on restart');
      }
      if (this.mode === 'run' && this.supervisor) {
        if (next.workers !== this.supervisor.workers || next.flushIntervalMs !== prev.flushIntervalMs) {
          // Counters live in the store, so a new pool continues them.
          this.log.info({ from: this.supervisor.workers, to: next.workers }, 'restarting the worker pool');
          await this.supervisor.stop();
          this.startSupervisor(next.workers);
          this.applied = false;
          this.replaceResolver();
        } else if (JSON.stringify(next.dns) !== JSON.stringify(prev.dns)) {
          this.replaceResolver();
        }
        await this.applyTargets();
      }
      this.self.onReload(true);
      this.log.info({ config: next.configFile }, 'configuration reloaded');
      return { ok: true };
    } catch (err) {
      this.self.onReload(false);
      this.log.error({ err }, 'reload failed');
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  }

  private targetStatus(): TargetStatus[] {
    const out: TargetStatus[] = [];
    const workers = this.supervisor?.workers ?? 1;
    for (const e of this.registry.entries()) {
      const s = e.spec;
      const base = { name: s.name, kind: s.kind, address: s.address || s.url || '', source: s.source, labels: s.labels };
      const rejectedWhy = this.workerRejected.get(e.slot);
      if (rejectedWhy !== undefined) out.push({ ...base, state: 'rejected', error: rejectedWhy });
      else if (e.resolution?.status === 'error') out.push({ ...base, state: 'unresolved', error: `${e.resolution.code}: ${e.resolution.message}` });
      else if (e.shard) out.push({ ...base, state: 'ok', ip: e.shard.ip, worker: workerOf(s.name, workers) });
      else out.push({ ...base, state: 'pending' });
    }
    for (const r of this.targets.rejected) out.push({ name: r.name ?? '', kind: '', address: '', state: 'rejected', error: r.reason, source: r.source });
    return out;
  }

  private status(): Record<string, unknown> {
    return {
      version: packageVersion(),
      mode: this.mode,
      config: this.config.configFile,
      started: new Date(this.startedAt).toISOString(),
      ready: this.readiness().ready,
      targets: {
        configured: this.registry.size,
        probing: this.registry.shardTargets().length,
        rejected: this.targets.rejected.length + this.workerRejected.size,
        not_owned: this.targets.notOwned,
        mesh_self: this.targets.meshSelf,
      },
      workers: (this.supervisor?.status() ?? []).map((w) => ({
        ...w,
        lastBatchAgeSeconds: Number.isNaN(w.lastBatchAt) ? null : (performance.now() - w.lastBatchAt) / 1000,
      })),
      responder: this.responder?.addresses() ?? null,
    };
  }

  /** SIGTERM: stop accepting scrapes, flush the workers' last batches, close everything. */
  async stop(): Promise<void> {
    this.resolver?.stop();
    await this.app?.close();
    await this.supervisor?.stop();
    // After the workers' final batches are merged, so the last export holds them.
    await this.otel?.shutdown();
    await this.responder?.close();
    this.log.info({}, 'fleetprobe stopped');
  }
}

let cachedVersion: string | undefined;
/** This package's version (package.json two levels above dist/src or src). */
export function packageVersion(): string {
  cachedVersion ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return cachedVersion;
}

interface ListenAddress {
  host: string;
  port: number;
}

/** A configured "host:port" / ":port" listen address; an empty host listens on every address. */
function listenAddress(key: string, value: string): ListenAddress {
  const hp = parseHostPort(value, { allowEmptyHost: true, allowPortZero: true });
  if (typeof hp === 'string') throw new ConfigError([{ key, value, message: hp }]);
  return { host: hp.host || '::', port: hp.port };
}

/** Config "host:port" strings → the responder's listen addresses. */
export function responderOptions(config: Config): ResponderOptions {
  const r = config.responder;
  const listen = (key: string, v: string | null): ListenAddress | undefined => (v ? listenAddress(`responder.${key}`, v) : undefined);
  return {
    tcpEcho: listen('tcp_echo', r.tcpEcho),
    udpEcho: listen('udp_echo', r.udpEcho),
    http: listen('http', r.http),
    maxConnections: r.maxConnections,
    maxFrameBytes: r.maxFrameBytes,
    maxDatagramBytes: r.maxDatagramBytes,
    idleTimeoutMs: r.idleTimeoutMs,
    allowCidrs: r.allowCidrs,
    httpBodyBytes: r.httpBodyBytes,
    httpMaxBodyBytes: r.httpMaxBodyBytes,
  };
}
