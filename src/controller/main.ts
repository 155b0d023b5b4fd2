/**
 * `fleetprobe test`: Netpupper's scheduler role without a server of its own. Asks each
 * agent's API to run an on-demand test (POST /api/v1/tests?wait=1), all agents at
 * once, waits for every answer, and prints one row per agent (or, with --mesh, every
 * peer to every other peer, then the matrix); --json prints the outcomes as a JSON
 * array. Exit status: 0 when every test ended `done`, 1 otherwise, 2 for bad arguments.
 */
import { readFileSync } from 'node:fs';
import { readStructuredFileSync } from '../values/structured-file.js';
import { parsePeers } from '../targets/peers.js';
import { parseControllerArgs } from './args.js';
import { planAgents, planMesh, type PlannedTest } from './plan.js';
import { runOnAgent } from './client.js';
import { formatMatrix, formatRows } from './format.js';

export interface ControllerIo {
  env: NodeJS.ProcessEnv;
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export async function controllerMain(argv: readonly string[], io: ControllerIo): Promise<number> {
  const parsed = parseControllerArgs(argv);
  if (!parsed.ok) {
    for (const p of parsed.problems) io.stderr(`fleetprobe test: ${p}\n`);
    io.stderr('see fleetprobe test --help\n');
    return 2;
  }
  const a = parsed.args;
  let token: string | null = io.env.FLEETPROBE_API_TOKEN || null;
  if (a.tokenFile !== null) {
    try {
      token = readFileSync(a.tokenFile, 'utf8').trim();
    } catch (err) {
      io.stderr(`fleetprobe test: cannot read --token-file ${a.tokenFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
      return 2;
    }
  }
  let plan: PlannedTest[];
  let peerNames: string[] = [];
  if (a.mesh !== null) {
    let raw: unknown;
    try {
      raw = readStructuredFileSync(a.mesh);
    } catch (err) {
      io.stderr(`fleetprobe test: cannot read --mesh ${a.mesh}: ${(err as Error).message}\n`);
      return 2;
    }
    const { peers, problems } = parsePeers(raw, a.mesh);
    if (problems.length > 0 || peers.length < 2) {
      for (const p of problems) io.stderr(`fleetprobe test: ${p.key}: ${p.message}\n`);
      if (peers.length < 2) io.stderr(`fleetprobe test: ${a.mesh} needs at least two peers\n`);
      return 2;
    }
    peerNames = peers.map((p) => p.name);
    plan = planMesh(a, peers);
  } else {
    plan = planAgents(a);
  }
  const outcomes = await Promise.all(plan.map((t) => runOnAgent(t, token)));
  if (a.json) io.stdout(`${JSON.stringify(outcomes, null, 2)}\n`);
  else {
    io.stdout(formatRows(outcomes));
    if (a.mesh !== null) io.stdout(`\n${formatMatrix(peerNames, outcomes)}`);
  }
  return outcomes.every((o) => o.test?.state === 'done') ? 0 : 1;
}
