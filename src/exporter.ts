/**
 * The exporter process: wires configuration, targets, the shard supervisor, the
 * store, the HTTP server, the responder and OTel export together, and applies
 * reloads.
 *
 * Data flow: config → targets (sources → DNS → registry slots) → partition by worker
 * → supervisor (piscina shards) → batches → store → /metrics and OTLP.
 *
 * What survives a reload: the store (so counters carry on), the registry's slots for
 * targets that still exist, the worker pool (unless `workers` or `flush_interval`
 * changed), the HTTP listener.
 *
 * Reloads are transactional: prepare() reads and validates everything new (config,
 * target files, peers, DNS of the new target set) without touching anything running;
 * only then apply() swaps it in. An invalid config changes nothing; an apply that
 * throws is rolled back to the previous config, targets, resolver and pool. A target
 * file that fails to read keeps its last good targets (the reload of the rest goes on
 * and is reported as partial).
 */
import { randomInt } from 'node:crypto';
import { packageVersion } from './version.js';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ConfigError, loadConfig, type Config } from './config/index.js';
import { showValue } from './config/errors.js';
import { DnsPeers, EMPTY_TARGET_SET, fileLabel, loadTargets, parseHostPort, Resolver, TargetRegistry, type TargetSet } from './targets/index.js';
import { TargetStore } from './aggregate/store.js';
import { History } from './aggregate/history.js';
import { meshProberName } from './targets/mesh.js';
import { mergePeers } from './targets/peers-dns.js';
import type { ConsoleEntry } from './http/console/catalog.js';
import type { ConsoleSource } from './http/console/model.js';
import { SelfMetrics } from './metrics/self.js';
import { GroupRollupExports } from './metrics/group-rollups.js';
import type { ProberIdentity } from './aggregate/groups.js';
import { MeshDnsMetrics } from './metrics/mesh-dns.js';
import { renderMetrics } from './metrics/scrape.js';
import { ShardSupervisor } from './pool/supervisor.js';
import { ProbeService } from './probe-endpoint/service.js';
import { TargetSync } from './pool/target-sync.js';
import { WorkerRecords } from './pool/worker-record.js';
import type { OtelExport } from './metrics/otel.js';
import { otlpExportAsked } from './metrics/otel-config.js';
import { build } from './http/app.js';
import { logFdLimits } from './http/fd-limit.js';
import type { TargetStatus } from './http/routes/api.js';
import type { ReloadProblem, ReloadResult, ReloadStatus } from './http/routes/admin.js';
import { registerTargetFileMetrics } from './metrics/target-files.js';
import { startResponder, type Responder, type ResponderOptions } from './responder/index.js';
import { failedListener, isListenFailure, listenError, type ListenerSetting } from './listen-error.js';
import { nothingProbeable, type ProbeCounts } from './readiness.js';
import { FileWatcher } from './targets/file-watch.js';
import { setLogFormat } from './logger.js';
import { LiveStreams } from './stream/service.js';
import type { CatalogEntry } from './stream/selection.js';
import { startMainLoopLag, type MainLoopLag } from './metrics/main-loop-lag.js';
import { WebSecurity } from './http/web-config/security.js';
import { ApiTargetSource, API_SOURCE } from './targets/api-source.js';
import { ApiTargetsController } from './targets/api-controller.js';
import { readStateFile } from './targets/state-file.js';
import type { TargetLoad } from './targets/files.js';
import { ruleOf, type MutationPolicy } from './http/mutation-auth.js';
import { describeMutationRule, type MutationRuleKind } from './auth/mutation.js';
import { TestManager } from './ondemand/manager.js';
import { TestController } from './ondemand/controller.js';
import { registerOnDemandMetrics } from './metrics/ondemand.js';

export type ExporterMode = 'run' | 'responder';

export interface ExporterOptions {
  /** Arguments after the subcommand (flags and --config). */
  argv: readonly string[];
  env?: Readonly<Record<string, string | undefined>>;
  mode?: ExporterMode;
  logger: Logger;
  /** Override the shard worker script (tests). */
  shardFilename?: string;
  /** Override the restart backoff of failed workers (tests). */
  restartBackoff?: { minMs?: number; maxMs?: number; healthyAfterMs?: number };
}

/**
 * Bounds of the shutdown steps (ms). Their sum stays under the CLI's hard deadline
 * (SHUTDOWN_TIMEOUT_MS in cli.ts), so a step that hangs is cut off and the next runs.
 */
export const STOP_STEP_TIMEOUTS = { http: 1500, workers: 2500, otlp: 3000, responder: 1000 } as const;

export class Exporter {
  readonly mode: ExporterMode;
  private readonly log: Logger;
  private config!: Config;
  private store!: TargetStore;
  /** Short per-target history for the web console (null when history.retention is 0s). */
  private history: History | null = null;
  /** Bumped whenever the target set or a target's state changes (the console reloads its list). */
  private consoleGeneration = 0;
  private self!: SelfMetrics;
  /** Group rollups (metrics.group_by); null without group_by. */
  private groupRollups: GroupRollupExports | null = null;
  private readonly registry = new TargetRegistry();
  /** Registry → store → workers, for every target update. */
  private sync!: TargetSync;
  /** One record per worker index, kept across pool restarts (written by the supervisor, read by the self metrics). */
  private readonly workerRecords = new WorkerRecords();
  /** The live resolver: its periodic refreshes re-apply the registry. */
  private resolver: Resolver | null = null;
  /** mesh.peers_dns, when configured: the live DNS source of mesh peers (its last good answer feeds the mesh). */
  private dnsPeers: DnsPeers | null = null;
  private meshDns!: MeshDnsMetrics;
  /** Target updates (reloads, DNS peer changes) run one at a time, in order. */
  private serial: Promise<unknown> = Promise.resolve();
  private supervisor: ShardSupervisor | null = null;
  private app: FastifyInstance | null = null;
  /** web.config_file in force: TLS, basic auth, headers of the web port; TLS of the gRPC port. */
  private webSecurity: WebSecurity | null = null;
  private responder: Responder | null = null;
  private otel: OtelExport | null = null;
  /** SSE and gRPC live streams (run mode). */
  private streams: LiveStreams | null = null;
  private mainLoopLag: MainLoopLag | null = null;
  private targets: TargetSet = EMPTY_TARGET_SET;
  /** Targets a worker refused (by slot), with the reason. */
  private readonly workerRejected = new Map<number, string>();
  private readonly cookie = randomInt(1, 0xffffffff);
  private readonly icmpIdentifierBase = randomInt(0, 0x10000);
  /** Targets have been applied once (readiness waits for it). */
  private applied = false;
  private reloading: Promise<ReloadResult> | null = null;
  /** Outcome of the newest (re)load, the initial load included (for /api/v1/status). */
  private lastReload: { status: ReloadStatus; at: number; problems: ReloadProblem[] } | null = null;
  private readonly startedAt = Date.now();
  private listenUrl = '';
  /** start() finished: listeners bound, probing. */
  private started = false;
  /** Watches target_files and mesh.peers_file (run mode, file_watch.enabled). */
  private watcher: FileWatcher | null = null;
  /** Files that changed before start() finished: reloaded once it has. */
  private pendingFileChanges: string[] = [];
  /** A recount of fleetprobe_targets{state} is queued (scheduleTargetStates). */
  private targetStatesPending = false;
  /** What asked for the reload being done ("SIGHUP", "file changed: …"), for its log line. */
  private reloadTrigger: string | null = null;
  /** Targets added over the API (POST /api/v1/targets): a source of their own, read by every (re)load. */
  private readonly apiTargets = new ApiTargetSource();
  /** api.state_file as read at start (a change takes effect on restart). */
  private apiStateFile: string | null = null;
  /** Addresses the web server is bound to ("127.0.0.1:9798"): the mutation rule depends on them. */
  private webAddresses: string[] = [];
  /** On-demand tests (POST /api/v1/tests; run mode). */
  private tests: TestManager | null = null;
  /** Built with the web app in run mode; GET /probe runs its bursts through it. */
  private testsController: TestController | null = null;
  /** The mutation rule last logged (logged again when a reload changes it). */
  private loggedMutationRule: MutationRuleKind | null = null;

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
    this.applyLogSettings(this.config);
    if (this.mode === 'responder' && !hasResponderListener(this.config)) {
      throw new ConfigError([
        { key: 'responder', value: null, message: 'responder mode needs at least one of responder.tcp_echo, responder.udp_echo, responder.http' },
      ]);
    }
    this.store = new TargetStore({ buckets: this.config.metrics.rttBuckets, seriesLabels: this.config.metrics.seriesLabels });
    if (this.config.history.retentionMs > 0) this.history = new History(this.store, this.config.history);
    this.sync = new TargetSync(this.registry, this.store);
    // No probe goes out until every listener is bound (startProbing releases the pool).
    this.sync.hold();
    this.self = new SelfMetrics({ store: this.store, workers: this.workerRecords });
    // Before any slot is defined: the rollups follow every slot from its definition.
    const { groupBy, groupLimit } = this.config.metrics;
    if (groupBy.length > 0) this.groupRollups = new GroupRollupExports(this.store, { groupBy, limit: groupLimit }, () => this.meshProber(), this.self.registry);
    this.meshDns = new MeshDnsMetrics(this.self.registry, () => this.dnsPeers?.peers().length ?? 0);
    this.mainLoopLag = startMainLoopLag(this.self.registry);
    registerOnDemandMetrics(this.self.registry, () => this.tests);
    if (this.mode === 'run') {
      this.streams = await LiveStreams.create({
        store: this.store,
        catalog: () => this.streamCatalog(),
        config: () => this.config,
        registry: this.self.registry,
        logger: this.log.child({ component: 'grpc' }),
      });
    }
    // OTLP push of the same store, only when the standard OTEL_* variables ask for it.
    // The OpenTelemetry SDK and exporters (about 25 MB of resident memory) are imported
    // only then: most exporters are scraped and never load them.
    if (otlpExportAsked(this.opts.env ?? process.env)) {
      const { startOtelExport } = await import('./metrics/otel.js');
      this.otel = startOtelExport({
        store: this.store,
        selfRegistry: this.self.registry,
        logger: this.log.child({ component: 'otel' }),
        env: this.opts.env,
        serviceVersion: packageVersion(),
        groupRollups: this.groupRollups ?? undefined,
      });
    }
    if (this.otel) {
      const stats = this.otel.stats;
      this.self.setOtlpSource(() => stats);
    }

    let initial: ReloadResult = { status: 'reloaded', applied: true, problems: [] };
    if (this.mode === 'run') {
      registerTargetFileMetrics(this.self.registry, () => this.targets.files);
      await this.loadApiState(this.config);
      // Watched before they are read, so a change made while they are read is not lost.
      this.watchFiles(this.config);
      const prepared = await this.prepare(this.config);
      // The pool and every target's slot (its series exist from the first scrape), but
      // no probe yet: the held TargetSync keeps the shards from starting.
      this.startSupervisor(this.config);
      this.goLive(prepared);
      initial = this.outcome(prepared);
    }
    // Every listener is bound before the first probe: a taken port ends the start here
    // with a ListenError naming the setting, and nothing has been sent.
    await this.bindListeners();
    this.startProbing();
    this.reloadTrigger = 'start';
    this.recordReload(initial, 'configuration loaded');
    this.reloadTrigger = null;
    this.started = true;
    const workers = this.mode === 'run' ? { workers: this.config.workers } : {};
    this.log.info({ url: this.listenUrl, config: this.config.configFile, mode: this.mode, ...workers }, 'fleetprobe listening');
    this.logMutationRule();
    if (this.pendingFileChanges.length > 0) this.onFilesChanged(this.pendingFileChanges.splice(0));
  }

  /**
   * Bind the responder's listeners and the web server (a gRPC listener belongs here
   * too). A bind failure becomes a ListenError naming the setting, its address and the
   * fix; what was bound already is closed by stop().
   */
  private async bindListeners(): Promise<void> {
    if (hasResponderListener(this.config)) {
      try {
        this.responder = await startResponder(responderOptions(this.config), {
          registry: this.self.registry,
          logger: this.log.child({ component: 'responder' }),
        });
      } catch (err) {
        if (!isListenFailure(err)) throw err;
        throw listenError(err, failedListener(err, responderListenerSettings(this.config)));
      }
    }
    this.webSecurity = new WebSecurity(this.config.webSecurity, {
      logger: this.log.child({ component: 'web' }),
      registry: this.self.registry,
      checkIntervalMs: this.config.fileWatch.checkIntervalMs,
      apiToken: () => this.config.api.token,
    });
    this.app = await build({
      logger: this.log,
      telemetryPath: this.config.web.telemetryPath,
      metrics: ({ gzip, format }) =>
        renderMetrics(this.store, this.self.registry, {
          gzip,
          format,
          classicHistograms: this.config.metrics.classicHistograms,
          snapshotFamilies: this.groupRollups?.textFamilies,
        }),
      readiness: () => this.readiness(),
      reload: () => this.reload('POST /-/reload'),
      api: { targets: () => this.targetStatus(), status: () => this.status() },
      stream: this.streams?.routeOptions(),
      limits: this.config.web,
      registry: this.self.registry,
      console: this.mode === 'run' ? { source: this.consoleSource(), peerPort: () => this.webPort() } : undefined,
      security: this.webSecurity,
      mutations: () => this.mutationPolicy(),
      targetChanges: this.mode === 'run' ? this.apiTargetsController() : undefined,
      tests: this.mode === 'run' ? this.testController() : undefined,
      probe: this.mode === 'run' ? this.probeService() : undefined,
    });
    const setting: ListenerSetting = { key: 'web.listen_address', address: this.config.web.listenAddress };
    const web = listenAddress(setting.key, setting.address);
    try {
      this.listenUrl = await this.app.listen(web);
    } catch (err) {
      if (!isListenFailure(err)) throw err;
      throw listenError(err, setting);
    }
    // What is actually bound decides whether mutations without a token are allowed
    // (a host name like "localhost" is judged by the addresses it bound to).
    this.webAddresses = this.app
      .addresses()
      .map((a) => (typeof a === 'string' ? a : a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`));
    logFdLimits(this.log, this.config.web.maxConnections);
    const grpcAddress = this.config.grpc.listenAddress;
    if (this.streams && grpcAddress !== null) {
      try {
        await this.streams.startGrpc(await this.webSecurity.grpcCredentials());
      } catch (err) {
        if (!isListenFailure(err)) throw err;
        throw listenError(err, { key: 'grpc.listen_address', address: grpcAddress });
      }
    }
  }

  /** Start the shards with the targets applied so far (once the listeners are bound). */
  private startProbing(): void {
    this.sync.release();
  }

  private applyLogSettings(config: Config): void {
    this.log.level = config.log.level;
    setLogFormat(this.log, config.log.format);
  }

  /** Watch the target files and the peers file of `config` (none when file_watch.enabled is false). */
  private watchFiles(config: Config): void {
    if (this.mode !== 'run') return;
    // The web configuration file too: exporter-toolkit applies a changed one without a signal.
    const watched = [
      ...config.targetFiles,
      ...(config.mesh.peersFile ? [config.mesh.peersFile] : []),
      ...(config.web.configFile ? [config.web.configFile] : []),
    ];
    const paths = config.fileWatch.enabled ? watched : [];
    if (paths.length === 0 && !this.watcher) return;
    this.watcher ??= new FileWatcher({
      debounceMs: FILE_WATCH_DEBOUNCE_MS,
      maxDelayMs: FILE_WATCH_MAX_DELAY_MS,
      checkIntervalMs: config.fileWatch.checkIntervalMs,
      onChange: (changed) => this.onFilesChanged(changed),
      onWatchError: (dir, err) =>
        this.log.warn({ dir, error: err.message }, 'cannot watch a directory of watched files; checking them every file_watch.check_interval'),
    });
    this.watcher.setPaths(paths, config.fileWatch.checkIntervalMs);
  }

  /**
   * Watched files changed: the same reload as SIGHUP. A reload already running may have
   * read them before the change, so this one waits for it and then reloads again.
   */
  private onFilesChanged(paths: string[]): void {
    if (!this.started) {
      for (const p of paths) if (!this.pendingFileChanges.includes(p)) this.pendingFileChanges.push(p);
      return;
    }
    const trigger = `file changed: ${paths.map(fileLabel).join(', ')}`;
    this.log.info({ files: paths.map(fileLabel) }, `${trigger}; reloading`);
    const running = this.reloading;
    void (async () => {
      if (running) await running.catch(() => undefined);
      await this.reload(trigger);
    })().catch((err: unknown) => this.log.error({ err }, 'reload after a file change failed'));
  }

  /** The address the HTTP server listens on, e.g. http://127.0.0.1:9798 */
  /** The OTLP export, or null when the OTEL_* variables do not ask for one. */
  get otlp(): OtelExport | null {
    return this.otel;
  }

  get url(): string {
    return this.listenUrl;
  }

  /**
   * A resolver for `config`'s dns.* settings. Only the live one (this.resolver) acts on
   * its periodic refreshes: a resolver being prepared by a reload changes nothing.
   */
  private createResolver(config: Config): Resolver {
    const resolver: Resolver = new Resolver({
      refreshIntervalMs: config.dns.refreshIntervalMs,
      prefer: config.dns.prefer,
      onChange: (changes) => {
        if (this.resolver !== resolver || !this.applied) return;
        this.log.info({ changed: changes.map((c) => c.name) }, 'DNS changes');
        this.applyRegistry();
      },
      onError: (err) => this.log.error({ err }, 'DNS refresh failed'),
    });
    return resolver;
  }

  private startSupervisor(config: Pick<Config, 'workers' | 'flushIntervalMs' | 'workersStallTimeoutMs' | 'workersHeapLimitMb' | 'icmpSocket'>): void {
    this.supervisor = new ShardSupervisor({
      workers: config.workers,
      flushIntervalMs: config.flushIntervalMs,
      cookie: this.cookie,
      icmpIdentifierBase: this.icmpIdentifierBase,
      stallTimeoutMs: config.workersStallTimeoutMs,
      heapLimitMb: config.workersHeapLimitMb,
      icmpSocket: config.icmpSocket,
      restartMinMs: this.opts.restartBackoff?.minMs,
      restartMaxMs: this.opts.restartBackoff?.maxMs,
      healthyAfterMs: this.opts.restartBackoff?.healthyAfterMs,
      filename: this.opts.shardFilename,
      logger: this.log.child({ component: 'supervisor' }),
      records: this.workerRecords,
      onBatch: (_i, buf) => this.onBatch(buf),
      onRejected: (slot, reason, generation) => this.onWorkerRejected(slot, reason, generation),
      onTestEnd: (_worker, end) => this.tests?.end(end.id, end.state, end.result, end.error),
      onShardGone: (worker) => this.tests?.workerGone(worker),
    });
    this.sync.attach(this.supervisor);
  }

  /** Merge a batch (a malformed one throws: the supervisor counts it), then the views that follow batches. */
  private onBatch(buf: ArrayBuffer): Float64Array {
    const header = this.store.applyBatch(buf);
    // Closes a history period when its boundary has passed (from the store's counters).
    this.history?.observe(Date.now());
    this.streams?.onBatch(buf);
    return header;
  }

  private onWorkerRejected(slot: number, reason: string, generation: number): void {
    // About a target that has left this slot since (generations.ts, rule 1): not the current one's.
    if (!(this.store.slotGeneration(slot) <= generation)) return;
    const name = this.store.nameOf(slot);
    this.workerRejected.set(slot, reason);
    this.log.warn({ target: name, slot, reason }, 'target rejected by its worker');
    this.scheduleTargetStates();
  }

  /**
   * Everything a (re)load needs, read and checked without changing anything running:
   * the targets of every source (a target file that fails keeps its last good
   * targets) and a new resolver that has resolved them all.
   */
  private async prepare(config: Config, reuseDnsPeers = false): Promise<Prepared> {
    const dnsPeers = reuseDnsPeers ? this.dnsPeers : await this.prepareDnsPeers(config);
    const targets = await loadTargets(config, {
      previousFiles: this.targets.files,
      dnsPeers: dnsPeers?.peers() ?? [],
      api: this.apiTargets.load(config.probeDefaults),
    });
    const resolver = this.createResolver(config);
    resolver.setTargets(targets.targets);
    await resolver.refresh();
    return { config, targets, resolver, dnsPeers };
  }

  /**
   * A new DNS source of mesh peers for `config` that has looked its name up once (not
   * yet live: goLive schedules it). It starts from the live source's last good answer
   * when the name is the same, so a lookup failing during a reload keeps the peers.
   */
  private async prepareDnsPeers(config: Config): Promise<DnsPeers | null> {
    const host = config.mesh.peersDns;
    if (host === null) return null;
    const dnsPeers: DnsPeers = new DnsPeers({
      host,
      refreshIntervalMs: config.dns.refreshIntervalMs,
      prefer: config.dns.prefer,
      seed: this.dnsPeers?.host === host ? this.dnsPeers.peers() : [],
      onLookup: (error) => {
        this.meshDns.onLookup(error === null);
        if (error) this.log.warn({ name: host, code: error.code, error: error.message }, 'mesh.peers_dns lookup failed; keeping the last peers');
      },
      onChange: (peers) => {
        if (this.dnsPeers !== dnsPeers) return; // replaced by a reload meanwhile
        this.log.info({ name: host, peers: peers.map((p) => p.address) }, 'mesh peers from DNS changed');
        this.exclusive(() => this.retarget()).catch((err: unknown) => this.log.error({ err }, 'applying the new mesh peers failed'));
      },
    });
    await dnsPeers.refresh();
    return dnsPeers;
  }

  /** The DNS peers changed: targets again from the running config and the live DNS peers (not a reload). */
  private async retarget(): Promise<void> {
    const prepared = await this.prepare(this.config, true);
    this.goLive(prepared);
  }

  /**
   * api.state_file: the API targets of the previous run, read before the first load. A
   * file that cannot be read or parsed is a configuration error naming the key (exit 2):
   * starting without its targets would overwrite it with the next change.
   */
  private async loadApiState(config: Config): Promise<void> {
    this.apiStateFile = config.api.stateFile;
    if (this.apiStateFile === null) return;
    const read = await readStateFile(this.apiStateFile);
    if (!read.ok) throw new ConfigError([{ key: 'api.state_file', value: this.apiStateFile, message: read.message }]);
    this.apiTargets.commit(read.entries);
    this.log.info(
      { file: this.apiStateFile, targets: read.entries.size, found: read.found },
      'targets API: state file read (counters of its targets start from zero)',
    );
  }

  /** What the mutation rule is judged by, now (a reload may set or remove the token). */
  private mutationPolicy(): MutationPolicy {
    return { token: this.config.api.token, listen: this.webAddresses };
  }

  /** Log which rule guards the API's changes, at start and whenever a reload changes it. */
  private logMutationRule(): void {
    if (!this.app) return;
    const rule = ruleOf(this.mutationPolicy());
    if (rule.kind === this.loggedMutationRule) return;
    this.loggedMutationRule = rule.kind;
    const line = describeMutationRule(rule);
    if (rule.kind === 'refused') this.log.warn({ rule: rule.kind, listen: rule.listen }, line);
    else this.log.info({ rule: rule.kind, listen: rule.listen }, line);
  }

  /** On-demand tests: run on the workers of the pool in effect, limits read per request (a reload changes them). */
  private testController(): TestController {
    const manager = new TestManager(() => ({ maxConcurrent: this.config.tests.maxConcurrent, resultsKept: this.config.tests.resultsKept }), {
      start: (worker, task) => this.supervisor?.startTest(worker, task) ?? false,
      cancel: (worker, id) => this.supervisor?.cancelTest(worker, id),
    });
    this.tests = manager;
    this.testsController = new TestController({
      manager,
      config: () => ({ probeDefaults: this.config.probeDefaults, limits: this.config.tests, dnsPrefer: this.config.dns.prefer }),
      configured: (name) => {
        const e = this.registry.get(name);
        return e ? { spec: e.spec, shard: e.shard } : undefined;
      },
      workerOf: (name) => this.supervisor?.workerOf(name) ?? 0,
      anyWorker: () => this.supervisor?.leastLoadedWorker() ?? null,
    });
    return this.testsController;
  }

  /** GET /probe: unlisted on-demand tests on the current pool, settings read per request (a reload applies at once). */
  private probeService(): ProbeService {
    return new ProbeService({
      config: () => this.config.probeEndpoint,
      defaults: () => this.config.probeDefaults,
      dnsPrefer: () => this.config.dns.prefer,
      tests: () => (this.supervisor ? this.testsController : null),
      registry: this.self.registry,
    });
  }

  /** POST/DELETE /api/v1/targets, applied through the same queue and path as reloads. */

  private apiTargetsController(): ApiTargetsController {
    return new ApiTargetsController({
      source: this.apiTargets,
      config: () => this.config,
      stateFile: this.apiStateFile,
      exclusive: (fn) => this.exclusive(fn),
      targetSetWith: (api) => this.targetSetWith(api),
      apply: (set) => this.applyApiTargets(set),
      definedBy: (name) => this.definedBy(name),
      logger: this.log.child({ component: 'api' }),
    });
  }

  /** The target set with `api` as the API's part: every other source as it is now, nothing re-read. */
  private targetSetWith(api: TargetLoad): Promise<TargetSet> {
    return loadTargets(this.config, { files: this.targets.files, dnsPeers: this.dnsPeers?.peers() ?? [], api });
  }

  /**
   * Make a target set that differs only in its API targets live: resolve the names that
   * are new (with the live resolver, one lookup each — not a refresh of the fleet), then
   * the registry diff as for any change: targets not involved keep slots and counters.
   */
  private async applyApiTargets(set: TargetSet): Promise<void> {
    const resolver = this.resolver;
    if (resolver) {
      // Old and new together while the new ones resolve, so a refresh applying the old
      // set meanwhile still finds every old target's answer.
      resolver.setTargets([...this.targets.targets, ...set.targets]);
      await resolver.resolveMissing();
      resolver.setTargets(set.targets);
    }
    for (const r of set.rejected) if (r.source === API_SOURCE) this.log.warn({ source: r.source, target: r.name, reason: r.reason }, 'target rejected');
    this.targets = set;
    this.applyRegistry();
  }

  /** The source of a target named `name` that is not an API target (configuration, mesh, files), or null. */
  private definedBy(name: string): string | null {
    for (const t of this.targets.targets) if (t.name === name && t.source !== API_SOURCE) return t.source;
    for (const t of this.config.targets) if (t.name === name) return t.source;
    for (const f of this.targets.files) for (const t of f.load?.targets ?? []) if (t.name === name) return t.source;
    return null;
  }

  /** Run `fn` after every update queued before it (reloads and DNS peer changes never interleave). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.serial.then(fn, fn);
    this.serial = run.catch(() => undefined);
    return run;
  }

  /** Make prepared targets and resolver the live ones and push them to the workers. */
  private goLive(p: Prepared): void {
    for (const r of p.targets.rejected) this.log.warn({ source: r.source, target: r.name, reason: r.reason }, 'target rejected');
    for (const f of p.targets.files) {
      if (f.stale)
        this.log.error({ file: f.path, error: f.error, kept: f.load?.targets.length ?? 0 }, 'target file failed to read; keeping its last good targets');
      else if (!f.ok) this.log.error({ file: f.path, error: f.error }, 'target file failed to read; it has no earlier good read, so it has no targets');
    }
    this.targets = p.targets;
    if (this.resolver !== p.resolver) {
      this.resolver?.stop();
      this.resolver = p.resolver;
      p.resolver.schedule();
    }
    if (this.dnsPeers !== p.dnsPeers) {
      this.dnsPeers?.stop();
      this.dnsPeers = p.dnsPeers;
      p.dnsPeers?.schedule();
    }
    this.applyRegistry();
    this.applied = true;
  }

  /** The outcome of a (re)load whose config was valid and applied: partial when target files failed. */
  private outcome(p: Prepared): ReloadResult {
    const problems: ReloadProblem[] = p.targets.files
      .filter((f) => !f.ok)
      .map((f) => ({
        key: fileLabel(f.path),
        message: f.stale
          ? `${f.error}; keeping its ${f.load?.targets.length ?? 0} targets of the last good read`
          : `${f.error}; no earlier good read, so no targets from it`,
      }));
    return {
      status: problems.length > 0 ? 'partial' : 'reloaded',
      applied: true,
      problems,
      targets: p.targets.targets.length,
      rejected: p.targets.rejected.length,
    };
  }

  /** Registry update from the current targets and resolutions, then store + workers. */
  private applyRegistry(): void {
    if (!this.supervisor || !this.resolver) return;
    const resolver = this.resolver;
    // Registry, store and workers (pool/target-sync.ts); unresolved targets get their
    // errors{reason="resolve"} record there, through the batch path.
    const diff = this.sync.apply(this.targets.targets, (name) => resolver.get(name));
    if (diff === null) return;
    this.streams?.targetsChanged();
    for (const r of diff.removed) this.workerRejected.delete(r.slot);
    for (const e of [...diff.added, ...diff.changed]) {
      this.workerRejected.delete(e.slot);
      if (e.resolution?.status === 'error') {
        this.log.warn(
          { target: e.spec.name, code: e.resolution.code, error: e.resolution.message },
          'target does not resolve; retrying on the next DNS refresh',
        );
      }
    }
    this.updateTargetStates();
    this.log.info(
      {
        generation: diff.generation,
        added: diff.added.length,
        removed: diff.removed.length,
        changed: diff.changed.length,
        probing: this.registry.shardTargets().length,
        slotsQuarantined: this.registry.quarantined,
      },
      'targets applied',
    );
  }

  private updateTargetStates(): void {
    this.consoleGeneration++;
    let unresolved = 0;
    let probing = 0;
    for (const e of this.registry.entries()) {
      if (e.resolution?.status === 'error') unresolved++;
      else if (e.shard && !this.workerRejected.has(e.slot)) probing++;
    }
    this.self.setTargetStates({
      configured: this.registry.size,
      probing,
      rejected: this.targets.rejected.length + this.workerRejected.size,
      unresolved,
    });
  }

  /**
   * Workers refuse targets one message each (every ICMP target without CAP_NET_RAW):
   * count once per batch of messages, not once per message over the whole registry.
   */
  private scheduleTargetStates(): void {
    if (this.targetStatesPending) return;
    this.targetStatesPending = true;
    setImmediate(() => {
      this.targetStatesPending = false;
      this.updateTargetStates();
    });
  }

  /**
   * The owned targets by what became of them: probed, refused by a worker, or without
   * an address (unresolved, or not resolved yet). `untilProbing`: stop at the first
   * probed one (enough for readiness, and O(1) in the usual case).
   */
  private probeCounts(untilProbing = false): ProbeCounts {
    const c: ProbeCounts = {
      configured: this.registry.size,
      probing: 0,
      refused: 0,
      unresolved: 0,
      rejected: this.targets.rejected.length,
      notOwned: this.targets.notOwned,
    };
    for (const e of this.registry.entries()) {
      const refused = this.workerRejected.get(e.slot);
      if (refused !== undefined) {
        c.refused++;
        c.refusalExample ??= `${e.spec.name}: ${refused}`;
      } else if (e.shard) {
        c.probing++;
        if (untilProbing) break;
      } else c.unresolved++;
    }
    return c;
  }

  private readiness(): { ready: boolean; reason?: string } {
    if (this.mode === 'responder') return { ready: true };
    if (!this.applied) return { ready: false, reason: 'targets not loaded yet' };
    if (!this.supervisor) return { ready: false, reason: 'the worker pool is restarting' };
    const problems = this.supervisor.notReadyReasons();
    if (problems.length > 0) return { ready: false, reason: problems.join('; ') };
    // Workers report the targets they refuse before their first batch, so once every
    // worker is running the counts below are complete.
    const nothing = nothingProbeable(this.probeCounts(true));
    if (nothing !== null) return { ready: false, reason: nothing };
    return { ready: true };
  }

  /**
   * SIGHUP, POST /-/reload and changed watched files (`trigger` says which, in the log
   * line of the outcome). Concurrent calls share one reload.
   */
  reload(trigger = 'request'): Promise<ReloadResult> {
    this.reloading ??= this.exclusive(() => this.doReload(trigger)).finally(() => {
      this.reloading = null;
      // Whatever is live now (a refused or rolled-back reload keeps the old files).
      if (this.config) this.watchFiles(this.config);
    });
    return this.reloading;
  }

  private async doReload(trigger: string): Promise<ReloadResult> {
    this.reloadTrigger = trigger;
    try {
      return await this.doReloadSteps();
    } finally {
      this.reloadTrigger = null;
    }
  }

  private async doReloadSteps(): Promise<ReloadResult> {
    // 1. Load and validate everything new; nothing running changes here.
    let prepared: Prepared | null = null;
    let next: Config;
    try {
      next = this.loadConfig();
    } catch (err) {
      const problems: ReloadProblem[] =
        err instanceof ConfigError
          ? err.problems.map((p) => ({ key: p.key, message: p.message, value: showValue(p.value) }))
          : [{ key: 'config', message: err instanceof Error ? err.message : String(err) }];
      return this.recordReload({ status: 'invalid', applied: false, problems }, 'reload refused: configuration invalid; nothing changed');
    }
    // The new config's files are watched from before they are read (see start()).
    this.watchFiles(next);
    try {
      if (this.mode === 'run') prepared = await this.prepare(next);
    } catch (err) {
      return this.recordReload(
        { status: 'failed', applied: false, problems: [{ key: 'targets', message: err instanceof Error ? err.message : String(err) }] },
        'reload failed while loading targets; nothing changed',
        err,
      );
    }
    // 2. Apply; on any error put the previous state back.
    try {
      await this.apply(next, prepared);
    } catch (err) {
      return this.recordReload(
        { status: 'failed', applied: false, problems: [{ key: 'apply', message: err instanceof Error ? err.message : String(err) }] },
        'reload failed while applying; the previous configuration was restored',
        err,
      );
    }
    const result = this.recordReload(prepared ? this.outcome(prepared) : { status: 'reloaded', applied: true, problems: [] }, 'configuration reloaded');
    this.logMutationRule();
    return result;
  }

  private async apply(next: Config, prepared: Prepared | null): Promise<void> {
    const prev = this.config;
    // Settings a running pool cannot change: a new pool continues the store's counters.
    const restartPool =
      prepared !== null &&
      this.supervisor !== null &&
      (next.workers !== this.supervisor.workers ||
        next.flushIntervalMs !== prev.flushIntervalMs ||
        next.workersStallTimeoutMs !== prev.workersStallTimeoutMs ||
        next.workersHeapLimitMb !== prev.workersHeapLimitMb ||
        next.icmpSocket !== prev.icmpSocket);
    // web.config_file is applied by applyWebSecurity(); the rest of web.* needs a restart.
    if (JSON.stringify({ ...next.web, configFile: null }) !== JSON.stringify({ ...prev.web, configFile: null })) {
      this.log.warn({}, 'web.* settings take effect on restart');
    }
    if (next.grpc.listenAddress !== prev.grpc.listenAddress) {
      this.log.warn({}, 'grpc.listen_address takes effect on restart');
    }
    if (String(next.metrics.rttBuckets) !== String(prev.metrics.rttBuckets)) {
      this.log.warn({}, 'metrics.rtt_buckets takes effect on restart');
    }
    if (JSON.stringify(next.metrics.groupBy) !== JSON.stringify(prev.metrics.groupBy) || next.metrics.groupLimit !== prev.metrics.groupLimit) {
      this.log.warn({}, 'metrics.group_by and metrics.group_limit take effect on restart');
    }
    if (next.history.retentionMs !== prev.history.retentionMs || next.history.resolutionMs !== prev.history.resolutionMs) {
      this.log.warn({}, 'history.retention and history.resolution take effect on restart');
    }
    if (next.api.stateFile !== prev.api.stateFile) {
      this.log.warn({ state_file: this.apiStateFile }, 'api.state_file takes effect on restart; API targets are still written to the file read at start');
    }
    if (JSON.stringify(next.responder) !== JSON.stringify(prev.responder)) {
      // Listeners keep their sockets and metrics; rebinding them under load is a restart's job.
      this.log.warn({}, 'responder settings take effect on restart');
    }
    if (prepared === null) {
      this.config = next;
      this.applyLogSettings(next);
      this.applyWebSecurity(next);
      this.store.setSeriesLabels(next.metrics.seriesLabels);
      return;
    }
    const before = { config: prev, targets: this.targets, resolver: this.resolver, dnsPeers: this.dnsPeers, supervisor: this.supervisor };
    let poolStopped = false;
    try {
      if (restartPool) {
        // Counters live in the store, so a new pool continues them.
        this.log.info({ from: this.supervisor!.workers, to: next.workers, flushIntervalMs: next.flushIntervalMs }, 'restarting the worker pool');
        await this.supervisor!.stop();
        poolStopped = true;
        this.startSupervisor(next);
      }
      this.config = next;
      this.applyLogSettings(next);
      this.goLive(prepared);
      this.applyWebSecurity(next);
      // Labels encoded again once, for the targets goLive left in the store (scrapes after this see them).
      this.store.setSeriesLabels(next.metrics.seriesLabels);
    } catch (err) {
      // Put back what was running. (Targets the failed apply removed come back on new
      // slots; an apply that throws is a bug path, and probing resumes either way.)
      prepared.resolver.stop();
      if (prepared.dnsPeers !== before.dnsPeers) prepared.dnsPeers?.stop();
      this.config = before.config;
      this.applyLogSettings(before.config);
      this.targets = before.targets;
      this.resolver = before.resolver;
      this.resolver?.schedule();
      this.dnsPeers = before.dnsPeers;
      this.dnsPeers?.schedule();
      if (poolStopped) {
        if (this.supervisor !== before.supervisor) await this.supervisor?.stop().catch(() => undefined);
        this.startSupervisor(before.config);
      }
      this.applyRegistry();
      throw err;
    }
  }

  /** The reloaded web configuration file: applied at once, but for what needs a restart (logged). */
  private applyWebSecurity(next: Config): void {
    for (const change of this.webSecurity?.update(next.webSecurity) ?? []) {
      this.log.warn({ change, file: next.web.configFile }, 'web.config_file: this change takes effect on restart');
    }
  }

  /** Report a (re)load's outcome: the reload metrics, one log line with every problem, the status API. */
  private recordReload(r: ReloadResult, message: string, err?: unknown): ReloadResult {
    this.self.onReload(r.status === 'reloaded');
    this.lastReload = { status: r.status, at: Date.now(), problems: r.problems };
    const fields = {
      status: r.status,
      applied: r.applied,
      problems: r.problems,
      targets: r.targets,
      rejected: r.rejected,
      config: this.config.configFile,
      ...(this.reloadTrigger ? { trigger: this.reloadTrigger } : {}),
      ...(err ? { err } : {}),
    };
    if (r.status === 'reloaded') this.log.info(fields, message);
    else if (r.status === 'partial') this.log.error(fields, `${message}, but target files failed to read (they keep their last good targets)`);
    else this.log.error(fields, message);
    return r;
  }

  /** The registry's targets as the live streams select them. */
  private *streamCatalog(): Generator<CatalogEntry> {
    for (const e of this.registry.entries()) {
      const s = e.spec;
      yield { slot: e.slot, name: s.name, kind: s.kind, address: s.address || s.url || '', labels: s.labels };
    }
  }

  private targetStatus(): TargetStatus[] {
    // The console's entries without their slots; rejected entries of a source have no labels.
    // A rejection that is no single entry (a file that failed as a whole) has neither kind nor address: null in the API.
    return this.consoleEntries().map(({ slot, labels, ...t }) =>
      slot < 0 ? { ...t, kind: t.kind || null, address: t.address || null } : { ...t, labels: labels },
    );
  }

  /** What the web console reads: the store, the history, the targets with their slots, this node and its mesh peers. */
  private consoleSource(): ConsoleSource {
    return {
      store: this.store,
      history: this.history,
      generation: () => this.consoleGeneration,
      entries: () => this.consoleEntries(),
      status: () => this.status(),
      workers: () => this.self.workerHealth(),
      node: () => this.nodeIdentity(),
      peers: () => this.meshPeers().filter((p) => p.name !== this.targets.meshSelf),
    };
  }

  /** This node as a prober: its mesh name and its own peer entry's labels; mesh when it has peers. */
  private nodeIdentity(): { name: string; labels: Record<string, string>; mesh: boolean } {
    const peers = this.meshPeers();
    const self = this.targets.meshSelf;
    return { name: meshProberName(self, this.config.mesh.name), labels: { ...(peers.find((p) => p.name === self)?.labels ?? {}) }, mesh: peers.length > 0 };
  }

  /** The source side of the group rollups: this node in mesh mode, else none (the scraped instance is the source). */
  private meshProber(): ProberIdentity | null {
    if (this.mode !== 'run') return null;
    const n = this.nodeIdentity();
    return n.mesh ? { node: n.name, labels: n.labels } : null;
  }

  private meshPeers(): { name: string; address: string; labels: Record<string, string> }[] {
    return mergePeers(this.config.mesh.peers, this.dnsPeers?.peers() ?? []).map((p) => ({ name: p.name, address: p.address, labels: p.labels }));
  }

  /** This node's web port (peers serve their console API on the same port). */
  private webPort(): number {
    const a = this.app?.server.address();
    return a !== null && typeof a === 'object' ? a.port : 0;
  }

  /** targetStatus() with each target's store slot. */
  private consoleEntries(): ConsoleEntry[] {
    const out: ConsoleEntry[] = [];
    for (const e of this.registry.entries()) {
      const s = e.spec;
      const base = { slot: e.slot, name: s.name, kind: s.kind, address: s.address || s.url || '', source: s.source, labels: s.labels };
      const rejectedWhy = this.workerRejected.get(e.slot);
      if (rejectedWhy !== undefined) out.push({ ...base, state: 'rejected', error: rejectedWhy });
      else if (e.resolution?.status === 'error') out.push({ ...base, state: 'unresolved', error: `${e.resolution.code}: ${e.resolution.message}` });
      else if (e.shard) out.push({ ...base, state: 'ok', ip: e.shard.ip, worker: this.supervisor?.workerOf(s.name) });
      else out.push({ ...base, state: 'pending' });
    }
    // A rejected entry shows its kind and address as written; a file that failed as a whole has neither.
    for (const r of this.targets.rejected)
      out.push({
        slot: -1,
        name: r.name ?? '',
        kind: r.kind ?? '',
        address: r.address ?? '',
        labels: {},
        state: 'rejected',
        error: r.reason,
        source: r.source,
      });
    return out;
  }

  private status(): Record<string, unknown> {
    const readiness = this.readiness();
    const counts = this.probeCounts();
    return {
      version: packageVersion(),
      mode: this.mode,
      config: this.config.configFile,
      started: new Date(this.startedAt).toISOString(),
      ready: readiness.ready,
      not_ready_reason: readiness.reason ?? null,
      targets: {
        configured: this.registry.size,
        // Probed right now: placed on a worker, and not refused by it.
        probing: counts.probing,
        unresolved: counts.unresolved,
        rejected: this.targets.rejected.length + this.workerRejected.size,
        not_owned: this.targets.notOwned,
        mesh_self: this.targets.meshSelf,
      },
      target_files: this.targets.files.map((f) => ({
        file: f.path,
        ok: f.ok,
        error: f.error,
        last_success: f.lastSuccessAt === null ? null : new Date(f.lastSuccessAt).toISOString(),
        targets: f.load?.targets.length ?? 0,
        kept_last_good: f.stale,
      })),
      last_reload: this.lastReload && { status: this.lastReload.status, at: new Date(this.lastReload.at).toISOString(), problems: this.lastReload.problems },
      workers: (this.supervisor?.status() ?? []).map((w) => ({
        ...w,
        lastBatchAgeSeconds: Number.isNaN(w.lastBatchAt) ? null : (performance.now() - w.lastBatchAt) / 1000,
      })),
      responder: this.responder?.addresses() ?? null,
      mesh_dns: this.meshDnsStatus(),
      api_targets: this.mode === 'run' ? { count: this.apiTargets.size, max: this.config.api.maxTargets, state_file: this.apiStateFile } : null,
      // The responder runs on its own thread: is it listening, how often was it restarted.
      responder_thread: this.responder?.status() ?? null,
    };
  }

  private meshDnsStatus(): Record<string, unknown> | null {
    if (!this.dnsPeers) return null;
    const s = this.dnsPeers.status();
    return {
      name: s.name,
      peers: s.peers,
      lookups: s.lookups,
      failures: s.failures,
      last_success: s.lastSuccessAt === null ? null : new Date(s.lastSuccessAt).toISOString(),
      error: s.error === null ? null : `${s.error.code}: ${s.error.message}`,
    };
  }

  /**
   * SIGTERM: stop accepting scrapes, flush the workers' last batches, export once more,
   * close everything. Every step has its own bound (STOP_STEP_TIMEOUTS): one that hangs
   * (a client that never reads, a thread that never answers, a collector that never
   * replies) is logged and left behind, and the next step runs. Resolves false when a
   * step failed with an error (a step cut off by its bound is only logged).
   */
  async stop(): Promise<boolean> {
    // Waiting callers (?wait=1) get their answer before the HTTP server closes.
    this.tests?.close();
    this.watcher?.close();
    this.webSecurity?.close();
    this.resolver?.stop();
    this.dnsPeers?.stop();
    const t = STOP_STEP_TIMEOUTS;
    this.mainLoopLag?.stop();
    let clean = await this.bounded('closing the HTTP server and the live streams', t.http, async () => {
      // Stream subscribers get their last event (written at once) before the HTTP server
      // cuts connections; the gRPC server stops alongside (bounded below t.http).
      const streams = this.streams?.close(t.http - 500);
      await this.app?.close();
      await streams;
    });
    // supervisor.stop is bounded itself (t.workers, then up to 1 s to end the threads).
    clean = (await this.bounded('stopping the workers', t.workers + 1500, async () => this.supervisor?.stop(t.workers))) && clean;
    // After the workers' final batches are merged, so the last export holds them. The
    // OTLP step is bounded inside (a collector that never answers is not our failure).
    await this.otel?.shutdown(t.otlp);
    clean = (await this.bounded('closing the responder', t.responder, async () => this.responder?.close())) && clean;
    // After a start that failed, the caller reports why; "stopped" would suggest it ran.
    if (this.started) this.log.info({ clean }, 'fleetprobe stopped');
    else this.log.debug({ clean }, 'cleaned up after a failed start');
    return clean;
  }

  /** Run one shutdown step for at most `ms`; false when it threw (a timeout is logged and counts as done). */
  private async bounded(step: string, ms: number, fn: () => Promise<unknown>): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
    try {
      const r = await Promise.race([fn().then(() => 'done' as const), timeout]);
      if (r === 'timeout') this.log.warn({ step, timeoutMs: ms }, `shutdown: ${step} did not finish in time; going on`);
      return true;
    } catch (err) {
      this.log.error({ err, step }, `shutdown: ${step} failed`);
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Quiet time after the last change of a watched file before it is reloaded (a generator writing in steps). */
export const FILE_WATCH_DEBOUNCE_MS = 500;
/** ... but no later than this after its first change (a file rewritten without pause). */
export const FILE_WATCH_MAX_DELAY_MS = 5000;

function hasResponderListener(config: Config): boolean {
  return config.responder.tcpEcho !== null || config.responder.udpEcho !== null || config.responder.http !== null;
}

/** The responder's configured listeners, for naming the one that failed to bind. */
function responderListenerSettings(config: Config): ListenerSetting[] {
  const r = config.responder;
  const out: ListenerSetting[] = [];
  if (r.tcpEcho) out.push({ key: 'responder.tcp_echo', address: r.tcpEcho });
  if (r.udpEcho) out.push({ key: 'responder.udp_echo', address: r.udpEcho, udp: true });
  if (r.http) out.push({ key: 'responder.http', address: r.http });
  return out;
}

/** A (re)load read and checked, not yet applied. */
interface Prepared {
  config: Config;
  targets: TargetSet;
  /** Has resolved every target; not yet refreshing on its timer. */
  resolver: Resolver;
  /** mesh.peers_dns source whose peers are in `targets` (null without one); not yet on its timer unless already live. */
  dnsPeers: DnsPeers | null;
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
    udpRatePerSource: r.udpRatePerSource,
    udpBurstPerSource: r.udpBurstPerSource,
    tcpConnectRatePerSource: r.tcpConnectRatePerSource,
    tcpConnectBurstPerSource: r.tcpConnectBurstPerSource,
    rateLimitSources: r.rateLimitSources,
  };
}
