/**
 * `fleetprobe test` arguments -> what to run, or every problem with them. Pure.
 * node:util parseArgs does the flag syntax (repeatable options, --x=y); the rules of
 * this command are checked here.
 */
import { parseArgs } from 'node:util';
import { PROBE_KINDS, isProbeKind, type ProbeKind } from '../kinds/index.js';

export interface ControllerArgs {
  agents: string[];
  /** A configured target's name on every agent, or null. */
  target: string | null;
  /** A new address (with kind), or null. */
  address: string | null;
  kind: ProbeKind | null;
  /** --mesh FILE: every peer tests every other peer. */
  mesh: string | null;
  /** Web port of the mesh peers' agents (their API). */
  agentPort: number;
  /** Port of the peers' responder for tcp/tcp_echo/udp/http mesh tests. */
  targetPort: number | null;
  count: number | null;
  interval: string | null;
  timeout: string | null;
  rate: number | null;
  size: number | null;
  tags: Record<string, string>;
  json: boolean;
  tokenFile: string | null;
}

export const DEFAULT_AGENT_PORT = 9798;

const OPTIONS = {
  agent: { type: 'string', multiple: true },
  target: { type: 'string' },
  address: { type: 'string' },
  kind: { type: 'string' },
  mesh: { type: 'string' },
  'agent-port': { type: 'string' },
  'target-port': { type: 'string' },
  count: { type: 'string' },
  interval: { type: 'string' },
  timeout: { type: 'string' },
  rate: { type: 'string' },
  size: { type: 'string' },
  tags: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  'token-file': { type: 'string' },
} as const;

function int(name: string, v: string | undefined, min: number, max: number, problems: string[]): number | null {
  if (v === undefined) return null;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) {
    problems.push(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    return null;
  }
  return n;
}

export function parseControllerArgs(argv: readonly string[]): { ok: true; args: ControllerArgs } | { ok: false; problems: string[] } {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    values = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }).values as typeof values;
  } catch (err) {
    return { ok: false, problems: [(err as Error).message] };
  }
  const problems: string[] = [];
  const str = (k: string): string | undefined => values[k] as string | undefined;
  const agents = (values.agent as string[] | undefined) ?? [];
  for (const a of agents) {
    let u: URL | null = null;
    try {
      u = new URL(a);
    } catch {
      /* reported below */
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:'))
      problems.push(`--agent must be an http(s) URL of a fleetprobe exporter, got ${JSON.stringify(a)}`);
  }
  const mesh = str('mesh') ?? null;
  const target = str('target') ?? null;
  const address = str('address') ?? null;
  const kindRaw = str('kind');
  let kind: ProbeKind | null = null;
  if (kindRaw !== undefined) {
    if (isProbeKind(kindRaw)) kind = kindRaw;
    else problems.push(`--kind must be one of ${PROBE_KINDS.join(', ')}, got ${JSON.stringify(kindRaw)}`);
  }
  if (mesh !== null) {
    if (agents.length > 0) problems.push('--mesh takes the agents from the peer file: leave out --agent');
    if (target !== null || address !== null) problems.push('--mesh tests every peer to every other: leave out --target and --address');
  } else {
    if (agents.length === 0) problems.push('give at least one --agent URL (or --mesh FILE)');
    if ((target === null) === (address === null)) problems.push('give either --target NAME or --address ADDRESS --kind KIND');
    if (address !== null && kindRaw === undefined) problems.push('--address needs --kind');
    if (target !== null && kindRaw !== undefined) problems.push('--kind is for --address; a --target has its own kind');
  }
  const tags: Record<string, string> = {};
  for (const t of (values.tags as string[] | undefined) ?? []) {
    const eq = t.indexOf('=');
    if (eq <= 0) problems.push(`--tags must be key=value, got ${JSON.stringify(t)}`);
    else tags[t.slice(0, eq)] = t.slice(eq + 1);
  }
  let rate: number | null = null;
  if (str('rate') !== undefined) {
    rate = Number(str('rate'));
    if (!(rate > 0) || !Number.isFinite(rate)) problems.push(`--rate must be a positive number, got ${JSON.stringify(str('rate'))}`);
  }
  const args: ControllerArgs = {
    agents,
    target,
    address,
    kind,
    mesh,
    agentPort: int('agent-port', str('agent-port'), 1, 65535, problems) ?? DEFAULT_AGENT_PORT,
    targetPort: int('target-port', str('target-port'), 1, 65535, problems),
    count: int('count', str('count'), 1, 10_000_000, problems),
    interval: str('interval') ?? null,
    timeout: str('timeout') ?? null,
    rate,
    size: int('size', str('size'), 0, 2 ** 31, problems),
    tags,
    json: values.json === true,
    tokenFile: str('token-file') ?? null,
  };
  return problems.length > 0 ? { ok: false, problems } : { ok: true, args };
}
