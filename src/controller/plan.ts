/**
 * Which tests the controller asks for: one per agent (--agent), or every ordered pair
 * of mesh peers (--mesh), each with the POST /api/v1/tests body to send. Pure.
 */
import type { MeshPeer, ProbeKind } from '../targets/model.js';
import type { ControllerArgs } from './args.js';

export interface PlannedTest {
  /** Base URL of the agent that runs the test. */
  agent: string;
  /** Mesh: the peers' names. */
  from?: string;
  to?: string;
  body: Record<string, unknown>;
}

/** Default responder port of each kind that needs one (the shipped responder's). */
const RESPONDER_PORT: Partial<Record<ProbeKind, number>> = { tcp: 4000, tcp_echo: 4000, udp: 4000, http: 4001 };

function hostForUrl(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}

/** The fields every test of this run shares. */
function testFields(a: ControllerArgs): Record<string, unknown> {
  const b: Record<string, unknown> = {};
  if (a.count !== null) b.count = a.count;
  if (a.interval !== null) b.interval = a.interval;
  if (a.timeout !== null) b.timeout = a.timeout;
  if (a.rate !== null) b.rate = a.rate;
  if (a.size !== null) b.size = a.size;
  if (Object.keys(a.tags).length > 0) b.tags = a.tags;
  return b;
}

/** The target part of a body for a peer's address and a kind. */
export function peerTarget(address: string, kind: ProbeKind, port: number | null): Record<string, unknown> {
  const p = port ?? RESPONDER_PORT[kind];
  if (kind === 'icmp') return { kind, address };
  if (kind === 'http') return { kind, url: `http://${hostForUrl(address)}:${p}/v1/ping` };
  return { kind, address: `${hostForUrl(address)}:${p}` };
}

export function planAgents(a: ControllerArgs): PlannedTest[] {
  // An http target is written with url, not address (as in a config target).
  const target: Record<string, unknown> =
    a.target !== null ? { target: a.target } : a.kind === 'http' ? { url: a.address, kind: a.kind } : { address: a.address, kind: a.kind };
  return a.agents.map((agent) => ({ agent: agent.replace(/\/+$/, ''), body: { ...target, ...testFields(a) } }));
}

export function planMesh(a: ControllerArgs, peers: readonly MeshPeer[]): PlannedTest[] {
  const kind = a.kind ?? 'icmp';
  const out: PlannedTest[] = [];
  for (const from of peers) {
    for (const to of peers) {
      if (from === to) continue;
      out.push({
        agent: `http://${hostForUrl(from.address)}:${a.agentPort}`,
        from: from.name,
        to: to.name,
        body: { ...peerTarget(to.address, kind, a.targetPort), ...testFields(a) },
      });
    }
  }
  return out;
}
