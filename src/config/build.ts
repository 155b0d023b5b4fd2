/**
 * Validated convict properties (snake_case, durations as strings) -> typed Config
 * (camelCase, milliseconds). Inline targets and mesh peers are checked here entry
 * by entry, so each bad one is named with its index and field.
 */
import { isAbsolute, resolve } from 'node:path';
import { formatDuration, parseDuration } from '../values/duration.js';
import { checkTimeoutSpan } from '../kinds/timing.js';
import { checkHistorySpan } from './bounds.js';
import { PROBE_KINDS, defaultOptionValues, kindModule, type ProbeKind } from '../kinds/index.js';
import { RESPONDER_LIMIT_RULES, responderLimitProblems, type LimitRule, type NumericResponderLimit } from '../responder/limits.js';
import { checkMergedLabelCount } from '../targets/labels.js';
import type { ConfigProblem } from './errors.js';
import type { Config, MeshPeer, ProbeDefaults, LogLevel, LogFormat, DnsPreference, ResponderConfig } from './types.js';
import type { TargetSpec } from '../targets/model.js';
import type { SeriesLabels } from '../aggregate/label-arena.js';
import { parseTargetEntry, type ParseTargetOptions } from '../targets/spec.js';
import { parsePeers } from '../targets/peers.js';
import { readStructuredFileSync } from '../values/structured-file.js';
import { listenerSetting } from './formats.js';
import { listenerCollisions } from './listeners.js';
import { defaultStallTimeoutMs } from '../pool/failures.js';
import { buildApiConfig, buildGrpcConfig, buildStreamConfig, buildTestsConfig } from './build-api.js';
import { buildWebSecurity } from './build-web.js';
import { buildProbeEndpointConfig } from './schema-probe.js';
import { buildProbeModules } from './build-probe-modules.js';
import { MESH_TARGET_LABELS } from '../targets/mesh.js';

/**
 * The probe_defaults.* properties as convict hands them over, after the schema's checks;
 * one optional section of option values per kind (icmp has none).
 */
type ProbeDefaultsProps = {
  kind: string;
  interval: string;
  timeout: string;
  loss_window: number;
  payload_size: number;
  labels: Record<string, string>;
} & Partial<Record<ProbeKind, Record<string, unknown>>>;

/**
 * The whole tree of properties as convict hands it over (convict.getProperties()), after
 * the schema's checks (config/schema.ts) and with defaults in place of bad leaves:
 * snake_case keys, durations still as strings, null where a setting is off.
 */
export interface ConfigProps {
  workers: number;
  flush_interval: string;
  workers_stall_timeout: string;
  workers_heap_limit_mb: number;
  icmp: { socket: string };
  log: { level: string; format: string };
  web: {
    listen_address: string;
    telemetry_path: string;
    max_requests: number;
    max_connections: number;
    read_timeout: string;
    write_timeout: string;
    idle_timeout: string;
    config_file: string | null;
  };
  dns: { refresh_interval: string; prefer: string };
  metrics: { rtt_buckets: number[]; group_by: string[]; group_limit: number; classic_histograms: boolean; series_labels: string };
  history: { retention: string; resolution: string };
  shard: { index: number; count: number };
  probe_defaults: ProbeDefaultsProps;
  targets: unknown[];
  target_files: string[];
  file_watch: { enabled: boolean; check_interval: string };
  responder: {
    tcp_echo: string | null;
    udp_echo: string | null;
    http: string | null;
    max_connections: number;
    max_frame_bytes: number;
    max_datagram_bytes: number;
    idle_timeout: string;
    allow_cidrs: string[];
    http_body_bytes: number;
    http_max_body_bytes: number;
    udp_rate_per_source: number;
    udp_burst_per_source: number;
    tcp_connect_rate_per_source: number;
    tcp_connect_burst_per_source: number;
    rate_limit_sources: number;
  };
  mesh: { name: string | null; peers: unknown[]; peers_file: string | null; peers_dns: string | null; kinds: string[] };
  api: Parameters<typeof buildApiConfig>[0];
  tests: Parameters<typeof buildTestsConfig>[0];
  grpc: Parameters<typeof buildGrpcConfig>[0];
  stream: Parameters<typeof buildStreamConfig>[0];
  probe_endpoint: Parameters<typeof buildProbeEndpointConfig>[0];
  /** Checked by buildProbeModules, entry by entry. */
  probe_modules: unknown;
}

/**
 * probe_defaults -> ProbeDefaults. Each kind's option values are kept as written
 * (validated; a kind without a section, icmp, has none): a target's own values
 * override them and the kind normalises the result (targets/options.ts).
 */
export function buildProbeDefaults(p: ProbeDefaultsProps): ProbeDefaults {
  const optionValues = {} as Record<ProbeKind, Readonly<Record<string, unknown>>>;
  for (const kind of PROBE_KINDS) {
    const configured = p[kind] ?? {};
    const values = defaultOptionValues(kind);
    for (const key of Object.keys(kindModule(kind).options)) if (configured[key] !== undefined) values[key] = configured[key];
    optionValues[kind] = Object.freeze(values);
  }
  return {
    kind: p.kind as ProbeKind,
    intervalMs: parseDuration(p.interval),
    timeoutMs: parseDuration(p.timeout),
    lossWindow: p.loss_window,
    payloadSize: p.payload_size,
    labels: { ...p.labels },
    optionValues,
  };
}

/**
 * Inline targets -> specs; problems keyed "targets[i].field". Duplicate names among
 * inline targets are problems too (files are checked against them later).
 */
export function buildInlineTargets(
  raw: unknown[],
  defaults: ProbeDefaults,
  sourcePrefix: string,
  problems: ConfigProblem[],
  opts: ParseTargetOptions = {},
): TargetSpec[] {
  const specs: TargetSpec[] = [];
  const seen = new Map<string, number>();
  raw.forEach((entry, i) => {
    const parsed = parseTargetEntry(entry, `${sourcePrefix}targets[${i}]`, defaults, opts);
    if (!parsed.ok) {
      for (const p of parsed.problems) problems.push({ key: `targets[${i}]${p.field ? '.' + p.field : ''}`, value: p.value, message: p.message });
      return;
    }
    const first = seen.get(parsed.spec.name);
    if (first !== undefined) {
      problems.push({ key: `targets[${i}].name`, value: parsed.spec.name, message: `duplicate target name (also targets[${first}])` });
      return;
    }
    seen.set(parsed.spec.name, i);
    specs.push(parsed.spec);
  });
  return specs;
}

/** Config key of each numeric responder limit (the rules live with the responder). */
const RESPONDER_KEYS: Record<NumericResponderLimit, string> = {
  maxConnections: 'responder.max_connections',
  maxFrameBytes: 'responder.max_frame_bytes',
  maxDatagramBytes: 'responder.max_datagram_bytes',
  idleTimeoutMs: 'responder.idle_timeout',
  httpMaxBodyBytes: 'responder.http_max_body_bytes',
  httpBodyBytes: 'responder.http_body_bytes',
  udpRatePerSource: 'responder.udp_rate_per_source',
  udpBurstPerSource: 'responder.udp_burst_per_source',
  tcpConnectRatePerSource: 'responder.tcp_connect_rate_per_source',
  tcpConnectBurstPerSource: 'responder.tcp_connect_burst_per_source',
  rateLimitSources: 'responder.rate_limit_sources',
};

/** A bound as the config writes it: durations with a unit. */
function showLimit(n: number, rule: LimitRule): string {
  return rule.unit === 'ms' ? formatDuration(n) : String(n);
}

/**
 * Build the typed Config. `bad` holds the keys whose values failed their own check and
 * were replaced by defaults: rules comparing them with other keys are skipped, so every
 * problem reported is a real one.
 */
export function buildConfig(p: ConfigProps, configFile: string, baseDir: string, problems: ConfigProblem[], bad: ReadonlySet<string> = new Set()): Config {
  const abs = (f: string) => (isAbsolute(f) ? f : resolve(baseDir, f));
  const isBad = (...keys: string[]) => keys.some((k) => bad.has(k));
  const probeDefaults = buildProbeDefaults(p.probe_defaults);
  if (!isBad('probe_defaults.interval', 'probe_defaults.timeout')) {
    const span = checkTimeoutSpan(probeDefaults.intervalMs, probeDefaults.timeoutMs);
    if (span) problems.push({ key: 'probe_defaults.timeout', value: p.probe_defaults.timeout, message: span });
  }
  const fileLabel = configFile.startsWith('(') ? '' : `${configFile} `;
  const targets = buildInlineTargets(p.targets, probeDefaults, fileLabel, problems, {
    inheritedTimingUnknown: isBad('probe_defaults.interval', 'probe_defaults.timeout'),
  });

  const peers: MeshPeer[] = [];
  const inline = parsePeers(p.mesh.peers, 'mesh.peers');
  for (const e of inline.problems) problems.push({ key: e.key, value: e.value, message: e.message });
  for (const peer of inline.peers) peers.push(peer);
  const peersFile = p.mesh.peers_file === null ? null : abs(p.mesh.peers_file);
  if (peersFile !== null) {
    let raw: unknown;
    try {
      raw = readStructuredFileSync(peersFile);
      const fromFile = parsePeers(raw, peersFile);
      for (const e of fromFile.problems) problems.push({ key: `mesh.peers_file ${e.key}`, value: e.value, message: e.message });
      // A loop, not push(...): a peers file may hold more entries than a call has argument slots.
      for (const peer of fromFile.peers) peers.push(peer);
    } catch (e) {
      problems.push({ key: 'mesh.peers_file', value: p.mesh.peers_file, message: `${peersFile} ${(e as Error).message}` });
    }
  }
  const names = new Map<string, string>();
  for (const peer of peers) {
    const other = names.get(peer.name);
    if (other !== undefined) problems.push({ key: peer.source, value: peer.name, message: `duplicate peer name (also ${other})` });
    else names.set(peer.name, peer.source);
    // Mesh targets also carry the peer and prober labels.
    const meshLabels = Object.fromEntries(MESH_TARGET_LABELS.map((k) => [k, '']));
    const tooMany = checkMergedLabelCount(probeDefaults.labels, { ...peer.labels, ...meshLabels });
    if (tooMany)
      problems.push({
        key: `${peer.source}.labels`,
        value: Object.keys(peer.labels).length,
        message: `${tooMany} (mesh targets also carry ${MESH_TARGET_LABELS.join(' and ')})`,
      });
  }

  const history = { retentionMs: parseDuration(p.history.retention), resolutionMs: parseDuration(p.history.resolution) };
  if (!isBad('history.retention', 'history.resolution')) {
    const span = checkHistorySpan(history.retentionMs, history.resolutionMs);
    if (span) problems.push({ key: 'history.retention', value: p.history.retention, message: span });
  }

  const flushIntervalMs = parseDuration(p.flush_interval);
  const stall = isBad('workers_stall_timeout', 'flush_interval')
    ? defaultStallTimeoutMs(flushIntervalMs)
    : resolveStallTimeout(p.workers_stall_timeout, flushIntervalMs);
  if (typeof stall === 'string') problems.push({ key: 'workers_stall_timeout', value: p.workers_stall_timeout, message: stall });

  if (!isBad('shard.index', 'shard.count') && p.shard.index >= p.shard.count) {
    problems.push({ key: 'shard.index', value: p.shard.index, message: `must be less than shard.count (${p.shard.count})` });
  }

  const responder: ResponderConfig = {
    tcpEcho: listenerSetting(p.responder.tcp_echo) as string | null,
    udpEcho: listenerSetting(p.responder.udp_echo) as string | null,
    http: listenerSetting(p.responder.http) as string | null,
    maxConnections: p.responder.max_connections,
    maxFrameBytes: p.responder.max_frame_bytes,
    maxDatagramBytes: p.responder.max_datagram_bytes,
    idleTimeoutMs: parseDuration(p.responder.idle_timeout),
    allowCidrs: [...p.responder.allow_cidrs],
    httpBodyBytes: p.responder.http_body_bytes,
    httpMaxBodyBytes: p.responder.http_max_body_bytes,
    udpRatePerSource: p.responder.udp_rate_per_source,
    udpBurstPerSource: p.responder.udp_burst_per_source,
    tcpConnectRatePerSource: p.responder.tcp_connect_rate_per_source,
    tcpConnectBurstPerSource: p.responder.tcp_connect_burst_per_source,
    rateLimitSources: p.responder.rate_limit_sources,
  };
  // The responder's own rule set, so check-config refuses what startResponder would.
  // Its single-key bounds are the formats of these keys already; this adds the rules
  // between keys (http_body_bytes <= http_max_body_bytes).
  for (const r of responderLimitProblems(responder, showLimit, (o) => RESPONDER_KEYS[o])) {
    const key = RESPONDER_KEYS[r.option];
    const rule = RESPONDER_LIMIT_RULES[r.option] as LimitRule;
    if (isBad(key) || (rule.atMost !== undefined && isBad(RESPONDER_KEYS[rule.atMost as NumericResponderLimit]))) continue;
    problems.push({ key, value: (p.responder as Record<string, unknown>)[key.slice('responder.'.length)], message: r.message });
  }

  if (!isBad('web.listen_address', 'grpc.listen_address', 'responder.tcp_echo', 'responder.udp_echo', 'responder.http')) {
    const listeners = { 'web.listen_address': p.web.listen_address, 'grpc.listen_address': p.grpc.listen_address, ...responderListeners(responder) };
    for (const c of listenerCollisions(listeners)) problems.push(c);
  }

  return {
    configFile,
    workers: p.workers,
    flushIntervalMs,
    workersStallTimeoutMs: typeof stall === 'number' ? stall : defaultStallTimeoutMs(flushIntervalMs),
    workersHeapLimitMb: p.workers_heap_limit_mb,
    icmpSocket: p.icmp.socket as Config['icmpSocket'],
    log: { level: p.log.level as LogLevel, format: p.log.format as LogFormat },
    web: {
      listenAddress: p.web.listen_address,
      telemetryPath: p.web.telemetry_path,
      maxRequests: p.web.max_requests,
      maxConnections: p.web.max_connections,
      readTimeoutMs: parseDuration(p.web.read_timeout),
      writeTimeoutMs: parseDuration(p.web.write_timeout),
      idleTimeoutMs: parseDuration(p.web.idle_timeout),
      configFile: p.web.config_file === null ? null : abs(p.web.config_file),
    },
    webSecurity: buildWebSecurity(p.web.config_file, abs, p.grpc.listen_address, problems),
    dns: { refreshIntervalMs: parseDuration(p.dns.refresh_interval), prefer: p.dns.prefer as DnsPreference },
    metrics: {
      rttBuckets: [...p.metrics.rtt_buckets],
      groupBy: [...p.metrics.group_by],
      groupLimit: p.metrics.group_limit,
      classicHistograms: p.metrics.classic_histograms,
      seriesLabels: p.metrics.series_labels as SeriesLabels,
    },
    history,
    shard: { index: p.shard.index, count: p.shard.count },
    probeDefaults,
    targets,
    targetFiles: p.target_files.map(abs),
    fileWatch: { enabled: p.file_watch.enabled, checkIntervalMs: parseDuration(p.file_watch.check_interval) },
    responder,
    mesh: { name: p.mesh.name, peers, peersFile, peersDns: p.mesh.peers_dns, kinds: [...p.mesh.kinds] as ProbeKind[] },
    api: buildApiConfig(p.api, abs, problems, isBad('api.token', 'api.token_file')),
    tests: buildTestsConfig(p.tests),
    grpc: buildGrpcConfig(p.grpc),
    stream: buildStreamConfig(p.stream),
    probeEndpoint: buildProbeEndpointConfig(p.probe_endpoint, problems, (maxCount) => buildProbeModules(p.probe_modules, probeDefaults, maxCount, problems)),
  };
}

/** The responder's listeners by config key (null: off). */
function responderListeners(r: ResponderConfig): Record<string, string | null> {
  return { 'responder.tcp_echo': r.tcpEcho, 'responder.udp_echo': r.udpEcho, 'responder.http': r.http };
}

/**
 * workers_stall_timeout (already format-checked) -> ms, or the reason it cannot work with
 * this flush_interval: a worker only proves it is alive once per flush, so a timeout
 * shorter than a few flushes would replace healthy workers.
 */
export function resolveStallTimeout(value: string, flushIntervalMs: number): number | string {
  if (value === 'auto') return defaultStallTimeoutMs(flushIntervalMs);
  const ms = parseDuration(value);
  if (ms < 3 * flushIntervalMs) return `must be at least 3 x flush_interval (${3 * flushIntervalMs}ms), or "auto"`;
  return ms;
}
