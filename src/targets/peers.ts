/** Mesh peer lists (inline or from a peers file): [{name, address, labels?}]. Pure. */
import { checkHost } from './address.js';
import { checkLabels } from './labels.js';
import { checkTargetName } from './spec.js';
import type { MeshPeer } from './model.js';
import { MESH_TARGET_LABELS } from './mesh.js';

export interface PeerProblem {
  key: string;
  value: unknown;
  message: string;
}

const PEER_FIELDS = ['name', 'address', 'labels'];

/** Every peer that is well formed, and a problem for each field of the others. */
export function parsePeers(raw: unknown, source: string): { peers: MeshPeer[]; problems: PeerProblem[] } {
  const peers: MeshPeer[] = [];
  const problems: PeerProblem[] = [];
  if (raw === null || raw === undefined) return { peers, problems };
  if (!Array.isArray(raw)) {
    problems.push({ key: source, value: raw, message: 'must be a list of {name, address, labels?}' });
    return { peers, problems };
  }
  raw.forEach((entry, i) => {
    const where = `${source}[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      problems.push({ key: where, value: entry, message: 'a peer must be a mapping {name, address, labels?}' });
      return;
    }
    const e = entry as Record<string, unknown>;
    const before = problems.length;
    for (const k of Object.keys(e)) {
      if (!PEER_FIELDS.includes(k)) problems.push({ key: `${where}.${k}`, value: e[k], message: `unknown peer field (fields: ${PEER_FIELDS.join(', ')})` });
    }
    const nameBad = checkTargetName(e.name);
    if (nameBad) problems.push({ key: `${where}.name`, value: e.name, message: nameBad });
    else if ((e.name as string).includes('/'))
      problems.push({ key: `${where}.name`, value: e.name, message: 'a peer name must not contain "/" (targets are named <peer>/<kind>)' });
    const addrBad = checkHost(e.address);
    if (addrBad) problems.push({ key: `${where}.address`, value: e.address, message: `address ${addrBad}` });
    for (const m of checkLabels(e.labels)) problems.push({ key: `${where}.labels`, value: e.labels, message: m });
    if (typeof e.labels === 'object' && e.labels !== null) {
      for (const k of MESH_TARGET_LABELS) {
        if (Object.prototype.hasOwnProperty.call(e.labels, k)) {
          problems.push({
            key: `${where}.labels.${k}`,
            value: (e.labels as Record<string, unknown>)[k],
            message: `label "${k}" is set by fleetprobe on mesh targets (${MESH_TARGET_LABELS.join(', ')})`,
          });
        }
      }
    }
    if (problems.length === before) {
      peers.push({ name: e.name as string, address: e.address as string, labels: { ...((e.labels as Record<string, string>) ?? {}) }, source: where });
    }
  });
  return { peers, problems };
}
