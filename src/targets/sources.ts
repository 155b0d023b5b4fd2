/**
 * All target sources together: inline (already validated by loadConfig), mesh, then
 * target files in order. A name seen twice keeps its first definition; the later one
 * is rejected naming both sources. Then the instance shard keeps only its own targets.
 */
import type { Config } from '../config/types.js';
import type { TargetSpec } from './model.js';
import { loadTargetFile, type RejectedTarget } from './files.js';
import { meshPorts, meshTargets, ownAddresses, responderListenHosts } from './mesh.js';
import { ownedByInstance } from './partition.js';
import { mergePeers } from './peers-dns.js';
import type { MeshPeer } from '../config/types.js';

export interface TargetSet {
  /** Targets this instance probes, in source order. */
  targets: TargetSpec[];
  rejected: RejectedTarget[];
  /** Valid targets left to other instances (shard.count > 1). */
  notOwned: number;
  /** Mesh peer recognised as this node, if any. */
  meshSelf: string | null;
}

/** Keep the first of each name; reject the rest, naming both sources. */
export function dedupeTargets(specs: readonly TargetSpec[], rejected: RejectedTarget[]): TargetSpec[] {
  const first = new Map<string, TargetSpec>();
  const out: TargetSpec[] = [];
  for (const s of specs) {
    const prior = first.get(s.name);
    if (prior) {
      rejected.push({ source: s.source, name: s.name, reason: `duplicate target name "${s.name}": already defined at ${prior.source}` });
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
}

export async function loadTargets(config: Config, opts: LoadTargetsOptions = {}): Promise<TargetSet> {
  const rejected: RejectedTarget[] = [];
  const all: TargetSpec[] = [...config.targets];
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
    all.push(...m.targets);
  }
  const loads = await Promise.all(config.targetFiles.map((f) => loadTargetFile(f, config.probeDefaults)));
  for (const l of loads) {
    all.push(...l.targets);
    rejected.push(...l.rejected);
  }
  const unique = dedupeTargets(all, rejected);
  const targets = unique.filter((t) => ownedByInstance(t.name, config.shard.index, config.shard.count));
  return { targets, rejected, notOwned: unique.length - targets.length, meshSelf };
}
