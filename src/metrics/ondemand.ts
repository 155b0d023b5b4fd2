/**
 * fleetprobe_ondemand_tests_total{kind,state} and fleetprobe_ondemand_probes_total{kind}
 * on the self-metrics registry, read at scrape time from the TestManager's counts.
 * Every kind x end state exists from the start at 0, so a rate() over them never
 * starts from a missing series.
 */
import { Counter, type Registry } from 'prom-client';
import { PROBE_KINDS } from '../targets/model.js';
import { TEST_END_STATES, type TestManager } from '../ondemand/manager.js';

/** Registers both families; `manager` null (not yet started): every series reads 0. */
export function registerOnDemandMetrics(registry: Registry, manager: () => TestManager | null): void {
  const tests: Counter<'kind' | 'state'> = new Counter({
    name: 'fleetprobe_ondemand_tests_total',
    help: 'On-demand tests (POST /api/v1/tests) that ended, by probe kind and end state (done, failed, cancelled).',
    labelNames: ['kind', 'state'],
    registers: [registry],
    collect() {
      const m = manager();
      tests.reset();
      for (const kind of PROBE_KINDS) {
        for (const state of TEST_END_STATES) tests.labels(kind, state).inc(m?.testsByKindState.get(`${kind} ${state}`) ?? 0);
      }
    },
  });
  const probes: Counter<'kind'> = new Counter({
    name: 'fleetprobe_ondemand_probes_total',
    help: 'Probes sent by on-demand tests, by probe kind (counted when each test ends).',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      const m = manager();
      probes.reset();
      for (const kind of PROBE_KINDS) probes.labels(kind).inc(m?.probesByKind.get(kind) ?? 0);
    },
  });
}
