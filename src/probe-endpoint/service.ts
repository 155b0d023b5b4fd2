/**
 * GET /probe from query to answer: parse (query.ts), admit (probe_endpoint.max_concurrent),
 * resolve a host name, check the address against probe_endpoint.allow_cidrs, run the
 * burst as an unlisted on-demand test (TestController.runUnlisted: the path of POST
 * /api/v1/tests, on a worker, the main thread never probes; not in the tests' list nor
 * their tests.max_concurrent) and render its TestResult (render.ts). Every outcome is an answer with a status and a text body, counted in
 * fleetprobe_probe_endpoint_requests_total{outcome}.
 *
 * Why the allowlist: /probe makes the exporter send traffic to whatever address a URL
 * names. Anyone who can reach the web port could otherwise aim a fleet of exporters at
 * a third party, or scan the exporter's own networks. The default allows loopback
 * only; the operator lists the networks the exporter is meant to probe.
 *
 * Host names: icmp/tcp/tcp_echo/udp names are resolved here once (dns.prefer), the
 * address is checked, and that address is what the worker probes, so the name cannot
 * resolve elsewhere between the check and the probe. An http target's client resolves
 * its URL's host itself, so an http host name cannot be checked that way: it is
 * allowed only when the list allows every address (::/0).
 */
import { isIP } from 'node:net';
import { Counter, type Registry } from 'prom-client';
import type { ProbeEndpointConfig } from '../config/schema-probe.js';
import type { TestController } from '../ondemand/controller.js';
import { Allowlist } from '../responder/cidr.js';
import { toShardTarget } from '../targets/registry.js';
import { hostOf, httpResolution, lookupHost, type DnsPreference, type LookupAll, type Resolution } from '../targets/resolve.js';
import type { ProbeDefaults } from '../targets/model.js';
import type { TestDescription } from '../ondemand/manager.js';
import { parseProbeQuery } from './query.js';
import { PROBE_CONTENT_TYPE, renderProbe } from './render.js';

export const PROBE_OUTCOMES = ['ok', 'bad_request', 'forbidden', 'too_many_requests', 'unavailable', 'failed', 'disabled'] as const;
export type ProbeRequestOutcome = (typeof PROBE_OUTCOMES)[number];

export interface ProbeAnswer {
  status: number;
  contentType: string;
  body: string;
  outcome: ProbeRequestOutcome;
  headers?: Record<string, string>;
}

export interface ProbeServiceOptions {
  /** Read per request, so a reload applies at once. */
  config(): ProbeEndpointConfig;
  defaults(): ProbeDefaults;
  dnsPrefer(): DnsPreference;
  /** Runs the burst as an unlisted on-demand test; null: no such controller (no pool). */
  tests(): TestController | null;
  registry?: Registry;
  /** Substitute resolver, only to inject faults (tests). */
  lookup?: LookupAll;
}

const TEXT = 'text/plain; charset=utf-8';
/** Longest a name lookup of /probe may take, whatever the budget. */
const LOOKUP_TIMEOUT_MS = 5000;

export class ProbeService {
  private inFlight = 0;
  private allow: { cidrs: readonly string[]; list: Allowlist; everything: boolean } | null = null;
  private readonly requests: Counter<'outcome'> | null;

  constructor(private readonly opts: ProbeServiceOptions) {
    this.requests = opts.registry
      ? new Counter({
          name: 'fleetprobe_probe_endpoint_requests_total',
          help: 'GET /probe requests by outcome (ok, bad_request, forbidden, too_many_requests, unavailable, failed, disabled).',
          labelNames: ['outcome'],
          registers: [opts.registry],
        })
      : null;
    for (const o of PROBE_OUTCOMES) this.requests?.inc({ outcome: o }, 0);
  }

  /** /probe requests being served now. */
  get running(): number {
    return this.inFlight;
  }

  async handle(params: URLSearchParams, scrapeTimeoutHeader: string | string[] | undefined, signal?: AbortSignal): Promise<ProbeAnswer> {
    const answer = await this.answer(params, scrapeTimeoutHeader, signal);
    this.requests?.inc({ outcome: answer.outcome });
    return answer;
  }

  private async answer(params: URLSearchParams, scrapeTimeoutHeader: string | string[] | undefined, signal?: AbortSignal): Promise<ProbeAnswer> {
    const config = this.opts.config();
    if (!config.enabled) return refuse(404, 'disabled', '/probe is off (probe_endpoint.enabled: false)');
    if (this.inFlight >= config.maxConcurrent) {
      return {
        ...refuse(429, 'too_many_requests', `too many /probe requests at once (probe_endpoint.max_concurrent: ${config.maxConcurrent}); retry later`),
        headers: { 'retry-after': '1' },
      };
    }
    this.inFlight++;
    try {
      return await this.run(config, params, scrapeTimeoutHeader, signal);
    } catch (err) {
      // A bug, not bad input: answered and counted, never a hung scrape.
      return refuse(500, 'failed', `probe failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.inFlight--;
    }
  }

  private async run(config: ProbeEndpointConfig, params: URLSearchParams, header: string | string[] | undefined, signal?: AbortSignal): Promise<ProbeAnswer> {
    const t0 = performance.now();
    const q = parseProbeQuery(params, { defaults: this.opts.defaults(), config, scrapeTimeoutHeader: header });
    if (!q.ok) return refuse(400, 'bad_request', q.problems.join('\n'));
    const { spec, count, intervalMs, budgetMs } = q.request;
    const allow = this.allowlist(config.allowCidrs);

    let res: Resolution;
    let dnsSeconds = 0;
    const host = hostOf(spec);
    if (host === null) {
      res = httpResolution(spec);
      if (res.status === 'ok' && isIP(res.ip) === 0 && !allow.everything) {
        return refuse(
          403,
          'forbidden',
          `target host ${res.ip} is a name, which an http probe resolves itself, so it cannot be checked against probe_endpoint.allow_cidrs; use an address, or allow every address (::/0)`,
        );
      }
    } else if (isIP(host) !== 0) {
      res = { status: 'ok', ip: host, family: isIP(host) === 6 ? 6 : 4, addresses: [host] };
    } else {
      const l0 = performance.now();
      res = await lookupHost(host, { lookup: this.opts.lookup, timeoutMs: Math.min(LOOKUP_TIMEOUT_MS, budgetMs), prefer: this.opts.dnsPrefer() });
      dnsSeconds = (performance.now() - l0) / 1000;
      if (res.status !== 'ok') return refuse(400, 'bad_request', `target ${host} cannot be resolved: ${res.code} ${res.message}`);
    }
    if (res.status !== 'ok') return refuse(400, 'bad_request', `target ${res.message}`);
    // An empty Allowlist allows all (the responder's convention); an empty probe_endpoint.allow_cidrs refuses all.
    if (isIP(res.ip) !== 0 && (config.allowCidrs.length === 0 || !allow.list.allows(res.ip))) {
      return refuse(
        403,
        'forbidden',
        `target address ${res.ip} is outside probe_endpoint.allow_cidrs (${config.allowCidrs.join(', ') || 'empty: every target is refused'})`,
      );
    }
    const placed = toShardTarget(0, spec, res);
    if (placed === null) return refuse(400, 'bad_request', 'target cannot be probed');
    const target = placed;
    // Time spent resolving comes off the last probe's timeout, so the answer still arrives in the budget.
    const left = budgetMs - (performance.now() - t0) - (count - 1) * intervalMs;
    target.timeoutMs = Math.floor(Math.min(target.timeoutMs, left));
    if (target.timeoutMs < 1) return refuse(503, 'unavailable', 'the name lookup used up the time this request may take');

    const tests = this.opts.tests();
    if (tests === null) return refuse(503, 'unavailable', 'the worker pool is not running; retry later');
    const desc: TestDescription = { kind: spec.kind, target: null, address: res.ip, count, intervalMs, timeoutMs: target.timeoutMs, size: null, tags: {} };
    const run = await tests.runUnlisted(desc, target, signal);
    if (!run.ok) return refuse(503, 'unavailable', run.message);
    // A cancelled run (the scrape went away) answers with what it has; a failed one with nothing is an error.
    if (run.result === null || (run.state === 'failed' && run.result.sent === 0)) {
      return refuse(503, 'unavailable', `the probe did not run: ${run.error ?? run.state}`);
    }
    const body = renderProbe({
      kind: spec.kind,
      ipProtocol: isIP(res.ip) === 6 ? 6 : isIP(res.ip) === 4 ? 4 : 0,
      result: run.result,
      durationSeconds: (performance.now() - t0) / 1000,
      dnsSeconds,
    });
    return { status: 200, contentType: PROBE_CONTENT_TYPE, body, outcome: 'ok' };
  }

  private allowlist(cidrs: readonly string[]): { list: Allowlist; everything: boolean } {
    if (this.allow === null || this.allow.cidrs !== cidrs) {
      const list = new Allowlist(cidrs);
      this.allow = { cidrs, list, everything: list.cidrs.some((c) => c.prefix128 === 0) };
    }
    return this.allow;
  }
}

function refuse(status: number, outcome: ProbeRequestOutcome, message: string): ProbeAnswer {
  return { status, contentType: TEXT, body: `${message}\n`, outcome };
}
