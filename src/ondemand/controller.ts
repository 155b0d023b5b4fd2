/**
 * POST/GET/DELETE /api/v1/tests as the exporter performs them: plan the body
 * (request.ts), resolve a new address the way a target is resolved, build the worker's
 * task on an on-demand slot, place it, and hand it to the TestManager.
 *
 * Placement: a configured target's test runs on the worker that owns the target (the
 * supervisor's placement by name), next to its scheduled probes; a new address runs on
 * the running worker with the fewest targets.
 */
import type { ProbeDefaults, ShardTarget } from '../targets/model.js';
import { hostOf, httpResolution, lookupHost, type DnsPreference, type Resolution } from '../targets/resolve.js';
import { toShardTarget } from '../targets/registry.js';
import { ONDEMAND_SLOT_BASE, type OnDemandTask } from '../protocol/messages.js';
import { describeTestProblems, planTest, type ConfiguredTarget, type TestLimits, type TestPlan, type TestProblem } from './request.js';
import type { TestDescription, TestManager, TestView, UnlistedOutcome } from './manager.js';
import type { KindOptions } from '../kinds/index.js';

/** How long a new address's name may take to resolve. */
export const TEST_LOOKUP_TIMEOUT_MS = 5000;

export interface TestAnswer {
  status: number;
  body: unknown;
}

export interface TestControllerDeps {
  manager: TestManager;
  config(): { probeDefaults: ProbeDefaults; limits: TestLimits; dnsPrefer: DnsPreference };
  configured(name: string): ConfiguredTarget | undefined;
  /** Worker that owns a configured target. */
  workerOf(name: string): number;
  /** A worker for a new address; null when no pool runs. */
  anyWorker(): number | null;
}

function refused(status: number, error: string, problems: TestProblem[], message = describeTestProblems(problems)): TestAnswer {
  return { status, body: { error, message, problems } };
}

/** The worker's target of a test: the resolved target with the test's timing, on an on-demand slot. */
export function testTarget(plan: TestPlan, base: ShardTarget, slot: number): ShardTarget {
  const t: ShardTarget = {
    ...base,
    slot,
    intervalMs: Math.max(1, plan.intervalMs),
    phaseMs: 0,
    timeoutMs: plan.timeoutMs,
    payloadSize: plan.payloadSize,
  };
  if (plan.size !== null && base.url !== undefined) {
    const u = new URL(base.url);
    u.searchParams.set('size', String(plan.size));
    t.url = u.toString();
    const http = base.options as Extract<KindOptions, { maxBodyBytes: number }>;
    // Read the whole body asked for: a cut-off body would make the throughput lie.
    t.options = { ...http, maxBodyBytes: Math.max(http.maxBodyBytes, plan.size) };
  }
  return t;
}

export class TestController {
  constructor(private readonly d: TestControllerDeps) {}

  async start(body: unknown): Promise<TestAnswer> {
    const cfg = this.d.config();
    const planned = planTest(body, { defaults: cfg.probeDefaults, limits: cfg.limits, configured: (n) => this.d.configured(n) });
    if (!planned.ok) return refused(400, 'invalid_test', planned.problems);
    const plan = planned.plan;

    let base: ShardTarget | null = plan.base;
    let worker: number | null;
    if (plan.target !== null) {
      if (base === null) {
        return refused(409, 'target_not_probed', [
          { key: 'target', message: `target ${plan.target} is not probed now (unresolved, refused or owned by another instance); see GET /api/v1/targets` },
        ]);
      }
      worker = this.d.workerOf(plan.target);
    } else {
      const host = hostOf(plan.spec);
      const res: Resolution = host === null ? httpResolution(plan.spec) : await lookupHost(host, { timeoutMs: TEST_LOOKUP_TIMEOUT_MS, prefer: cfg.dnsPrefer });
      if (res.status !== 'ok')
        return refused(400, 'invalid_test', [
          { key: plan.spec.kind === 'http' ? 'url' : 'address', message: `cannot resolve ${host ?? plan.address}: ${res.code} ${res.message}` },
        ]);
      base = toShardTarget(ONDEMAND_SLOT_BASE, plan.spec, res);
      if (base === null) return refused(400, 'invalid_test', [{ key: 'address', message: 'cannot be probed' }]);
      worker = this.d.anyWorker();
    }
    if (worker === null) return { status: 503, body: { error: 'worker_unavailable', message: 'the worker pool is not running' } };

    const desc: TestDescription = {
      kind: plan.kind,
      target: plan.target,
      address: plan.address,
      count: plan.count,
      intervalMs: plan.intervalMs,
      timeoutMs: plan.timeoutMs,
      size: plan.size,
      tags: plan.tags,
    };
    const shardBase = base;
    const started = this.d.manager.start(desc, worker, (id, slotIndex): OnDemandTask => ({
      id,
      target: testTarget(plan, shardBase, ONDEMAND_SLOT_BASE + slotIndex),
      count: plan.count,
      intervalMs: plan.intervalMs,
    }));
    if (!started.ok) return { status: started.status, body: { error: started.error, message: started.message } };
    return { status: 202, body: { id: started.id } };
  }

  get(id: string): TestAnswer {
    const v = this.d.manager.get(id);
    return v ? { status: 200, body: v } : notFound(id);
  }

  list(): TestAnswer {
    return { status: 200, body: { tests: this.d.manager.list() } };
  }

  cancel(id: string): TestAnswer {
    const v = this.d.manager.cancel(id);
    return v ? { status: 202, body: v } : notFound(id);
  }

  /**
   * An unlisted test (GET /probe): `target` is resolved and timed by the caller (its
   * slot is replaced); placed like a new address's test, on the least loaded worker,
   * and not recorded (TestManager.runUnlisted). Resolves when it ends.
   */
  runUnlisted(desc: TestDescription, target: ShardTarget, signal?: AbortSignal): Promise<UnlistedOutcome> {
    const worker = this.d.anyWorker();
    if (worker === null) return Promise.resolve({ ok: false, error: 'worker_unavailable', message: 'the worker pool is not running' });
    return this.d.manager.runUnlisted(
      desc,
      worker,
      (id, slotIndex): OnDemandTask => ({
        id,
        target: { ...target, slot: ONDEMAND_SLOT_BASE + slotIndex, phaseMs: 0, intervalMs: Math.max(1, desc.intervalMs) },
        count: desc.count,
        intervalMs: desc.intervalMs,
      }),
      signal,
    );
  }

  /** The test's view once it has ended. */
  async waitFor(id: string): Promise<TestView | null> {
    await this.d.manager.waitFor(id);
    return this.d.manager.get(id);
  }
}

function notFound(id: string): TestAnswer {
  return { status: 404, body: { error: 'not_found', message: `no test ${JSON.stringify(id.slice(0, 64))} (ended tests are kept up to tests.results_kept)` } };
}
