/**
 * All target sources together: inline (already validated by loadConfig), mesh, target
 * files in order, then the targets added over the API (api-source.ts). A name seen
 * twice keeps its first definition; the later one is rejected naming both sources. Then the instance shard keeps only its own targets.
 *
 * Target files keep their last good targets: a file whose read fails (unreadable,
 * truncated, not a list, empty) contributes what its previous good read gave, as
 * Prometheus' file_sd does, and the failure is reported (TargetFileState, one
 * rejection naming the file). Kept targets are the specs of that read, as they were.
 *
 * Large inputs: nothing here spreads an array into a call (`push(...list)` puts every
 * element on the stack and throws RangeError past ~120k elements); lists are appended
 * in loops.
 */
import type { MeshConfig, MeshPeer, ProbeDefaults, TargetSpec } from './model.js';
import { fileLabel, readTargetFile, type RejectedTarget, type TargetLoad } from './files.js';
import { meshPorts, meshTargets, ownAddresses, responderListenHosts, type ResponderListeners } from './mesh.js';
import { ownedByInstance } from './partition.js';
import { mergePeers } from './peers-dns.js';

/**
 * What the target sources read from the configuration (the typed Config fits): declared
 * here so that targets/ needs nothing from config/ (config/ builds on targets/).
 */
export interface TargetSourcesConfig {
  /** Inline targets, already validated. */
  targets: readonly TargetSpec[];
  /** Absolute paths. */
  targetFiles: readonly string[];
  probeDefaults: ProbeDefaults;
  mesh: MeshConfig;
  responder: ResponderListeners;
  shard: { index: number; count: number };
}

/** What one target file contributes, and how its newest read went. */
export interface TargetFileState {
  /** Absolute path, as configured. */
  path: string;
  /** The newest read succeeded. */
  ok: boolean;
  /** Why the newest read failed; null when it succeeded. */
  error: string | null;
  /** Wall-clock ms of the newest successful read; null before the first. */
  lastSuccessAt: number | null;
  /** The targets in effect: the newest good read (the last good one while reads fail); null: none yet. */
  load: TargetLoad | null;
  /** `load` is from an earlier read, kept because the newest failed. */
  stale: boolean;
}

export interface TargetSet {
  /** Targets this instance probes, in source order. */
  targets: TargetSpec[];
  rejected: RejectedTarget[];
  /** Valid targets left to other instances (shard.count > 1). */
  notOwned: number;
  /** Mesh peer recognised as this node, if any. */
  meshSelf: string | null;
  /** One entry per configured target file, in order. */
  files: TargetFileState[];
}

export const EMPTY_TARGET_SET: TargetSet = { targets: [], rejected: [], notOwned: 0, meshSelf: null, files: [] };

/** Keep the first of each name; reject the rest, naming both sources. */
export function dedupeTargets(specs: readonly TargetSpec[], rejected: RejectedTarget[]): TargetSpec[] {
  const first = new Map<string, TargetSpec>();
  const out: TargetSpec[] = [];
  for (const s of specs) {
    const prior = first.get(s.name);
    if (prior) {
      rejected.push({
        source: s.source,
        name: s.name,
        kind: s.kind,
        address: s.url ?? s.address,
        reason: `duplicate target name "${s.name}": already defined at ${prior.source}`,
      });
      continue;
    }
    first.set(s.name, s);
    out.push(s);
  }
  return out;
}

export interface LoadTargetsOptions {
  /** This host's addresses for mesh self-detection (default: os.networkInterfaces()). */
  ownAddresses?: ReadonlySet<string>;
  /** Mesh peers found through mesh.peers_dns (the last good answer), added to the configured ones. */
  dnsPeers?: readonly MeshPeer[];
  /** The files' states of the previous load: a file that fails now keeps its last good targets from here. */
  previousFiles?: readonly TargetFileState[];
  /** Wall clock in ms (default Date.now()). */
  now?: () => number;
  /** The targets added over the API (parsed against config.probeDefaults), last in order. */
  api?: TargetLoad;
  /**
   * Use these file states as they are instead of reading the files (a change made over
   * the API applies without re-reading anything).
   */
  files?: readonly TargetFileState[];
}

/** Append without spreading (see the file header). */
function append<T>(to: T[], from: readonly T[]): void {
  for (let i = 0; i < from.length; i++) to.push(from[i]);
}

/** The state of one file after reading it now, given its state before. */
export function nextFileState(
  path: string,
  read: Awaited<ReturnType<typeof readTargetFile>>,
  previous: TargetFileState | undefined,
  now: number,
): TargetFileState {
  if (read.ok) return { path, ok: true, error: null, lastSuccessAt: now, load: read.load, stale: false };
  const kept = previous?.load ?? null;
  return { path, ok: false, error: read.error, lastSuccessAt: previous?.lastSuccessAt ?? null, load: kept, stale: kept !== null };
}

/** The rejection that reports a failed read (the file's own bad entries are listed separately). */
function fileFailure(f: TargetFileState): RejectedTarget {
  const label = fileLabel(f.path);
  if (!f.stale || f.load === null) return { source: label, reason: f.error ?? `${label} could not be read` };
  const when = f.lastSuccessAt === null ? '' : ` (read ${new Date(f.lastSuccessAt).toISOString()})`;
  return { source: label, reason: `${f.error}; keeping its ${f.load.targets.length} targets of the last good read${when}` };
}

export async function loadTargets(config: TargetSourcesConfig, opts: LoadTargetsOptions = {}): Promise<TargetSet> {
  const rejected: RejectedTarget[] = [];
  const all: TargetSpec[] = [];
  append(all, config.targets);
  let meshSelf: string | null = null;
  const peers = mergePeers(config.mesh.peers, opts.dnsPeers ?? []);
  if (peers.length > 0) {
    const m = meshTargets(
      { ...config.mesh, peers },
      config.probeDefaults,
      meshPorts(config.responder),
      opts.ownAddresses ?? ownAddresses(),
      responderListenHosts(config.responder),
    );
    meshSelf = m.self;
    append(all, m.targets);
  }
  const now = (opts.now ?? Date.now)();
  const previous = new Map((opts.previousFiles ?? []).map((f) => [f.path, f]));
  let files: TargetFileState[];
  if (opts.files) files = [...opts.files];
  else {
    const reads = await Promise.all(config.targetFiles.map((f) => readTargetFile(f, config.probeDefaults)));
    files = config.targetFiles.map((path, i) => nextFileState(path, reads[i], previous.get(path), now));
  }
  for (const f of files) {
    if (!f.ok) rejected.push(fileFailure(f));
    if (f.load === null) continue;
    append(all, f.load.targets);
    append(rejected, f.load.rejected);
  }
  if (opts.api) {
    append(all, opts.api.targets);
    append(rejected, opts.api.rejected);
  }
  const unique = dedupeTargets(all, rejected);
  const targets = unique.filter((t) => ownedByInstance(t.name, config.shard.index, config.shard.count));
  return { targets, rejected, notOwned: unique.length - targets.length, meshSelf, files };
}
