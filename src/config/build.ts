/**
 * Validated convict properties (snake_case, durations as strings) -> typed Config
 * (camelCase, milliseconds). Inline targets and mesh peers are checked here entry
 * by entry, so each bad one is named with its index and field.
 */
import { isAbsolute, resolve } from 'node:path';
import { parseDuration } from './duration.js';
import { toProbeOptions } from '../targets/options.js';
import type { ConfigProblem } from './errors.js';
import type { Config, MeshPeer, ProbeDefaults, LogLevel, DnsPreference } from './types.js';
import { PROBE_KINDS, type ProbeKind, type TargetSpec } from '../targets/model.js';
import { parseTargetEntry } from '../targets/spec.js';
import { parsePeers } from '../targets/peers.js';
import { readStructuredFileSync } from './file.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Props = Record<string, any>;

export function buildProbeDefaults(p: Props): ProbeDefaults {
  const options = {} as Record<ProbeKind, Record<string, unknown>>;
  for (const kind of PROBE_KINDS) options[kind] = toProbeOptions(kind, p[kind] ?? {});
  return {
    kind: p.kind as ProbeKind,
    intervalMs: parseDuration(p.interval),
    timeoutMs: parseDuration(p.timeout),
    lossWindow: p.loss_window,
    payloadSize: p.payload_size,
    labels: { ...p.labels },
    options,
  };
}

/**
 * Inline targets -> specs; problems keyed "targets[i].field". Duplicate names among
 * inline targets are problems too (files are checked against them later).
 */
export function buildInlineTargets(raw: unknown[], defaults: ProbeDefaults, sourcePrefix: string, problems: ConfigProblem[]): TargetSpec[] {
  const specs: TargetSpec[] = [];
  const seen = new Map<string, number>();
  raw.forEach((entry, i) => {
    const parsed = parseTargetEntry(entry, `${sourcePrefix}targets[${i}]`, defaults);
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

export function buildConfig(p: Props, configFile: string, baseDir: string, problems: ConfigProblem[]): Config {
  const abs = (f: string) => (isAbsolute(f) ? f : resolve(baseDir, f));
  const probeDefaults = buildProbeDefaults(p.probe_defaults);
  const fileLabel = configFile.startsWith('(') ? '' : `${configFile} `;
  const targets = buildInlineTargets(p.targets, probeDefaults, fileLabel, problems);

  const peers: MeshPeer[] = [];
  const inline = parsePeers(p.mesh.peers, 'mesh.peers');
  for (const e of inline.problems) problems.push({ key: e.key, value: e.value, message: e.message });
  peers.push(...inline.peers);
  const peersFile = p.mesh.peers_file === null ? null : abs(p.mesh.peers_file);
  if (peersFile !== null) {
    let raw: unknown;
    try {
      raw = readStructuredFileSync(peersFile);
      const fromFile = parsePeers(raw, peersFile);
      for (const e of fromFile.problems) problems.push({ key: `mesh.peers_file ${e.key}`, value: e.value, message: e.message });
      peers.push(...fromFile.peers);
    } catch (e) {
      problems.push({ key: 'mesh.peers_file', value: p.mesh.peers_file, message: `${peersFile} ${(e as Error).message}` });
    }
  }
  const names = new Map<string, string>();
  for (const peer of peers) {
    const other = names.get(peer.name);
    if (other !== undefined) problems.push({ key: peer.source, value: peer.name, message: `duplicate peer name (also ${other})` });
    else names.set(peer.name, peer.source);
  }

  if (p.shard.index >= p.shard.count) {
    problems.push({ key: 'shard.index', value: p.shard.index, message: `must be less than shard.count (${p.shard.count})` });
  }

  return {
    configFile,
    workers: p.workers,
    flushIntervalMs: parseDuration(p.flush_interval),
    log: { level: p.log.level as LogLevel },
    web: {
      listenAddress: p.web.listen_address,
      telemetryPath: p.web.telemetry_path,
      maxRequests: p.web.max_requests,
      maxConnections: p.web.max_connections,
      readTimeoutMs: parseDuration(p.web.read_timeout),
      writeTimeoutMs: parseDuration(p.web.write_timeout),
      idleTimeoutMs: parseDuration(p.web.idle_timeout),
    },
    dns: { refreshIntervalMs: parseDuration(p.dns.refresh_interval), prefer: p.dns.prefer as DnsPreference },
    metrics: { rttBuckets: [...p.metrics.rtt_buckets] },
    shard: { index: p.shard.index, count: p.shard.count },
    probeDefaults,
    targets,
    targetFiles: (p.target_files as string[]).map(abs),
    responder: {
      tcpEcho: p.responder.tcp_echo,
      udpEcho: p.responder.udp_echo,
      http: p.responder.http,
      maxConnections: p.responder.max_connections,
      maxFrameBytes: p.responder.max_frame_bytes,
      maxDatagramBytes: p.responder.max_datagram_bytes,
      idleTimeoutMs: parseDuration(p.responder.idle_timeout),
      allowCidrs: [...p.responder.allow_cidrs],
      httpBodyBytes: p.responder.http_body_bytes,
      httpMaxBodyBytes: p.responder.http_max_body_bytes,
    },
    mesh: { name: p.mesh.name, peers, peersFile, kinds: [...p.mesh.kinds] as ProbeKind[] },
  };
}

