/**
 * The answer of GET /probe in the Prometheus text format 0.0.4. Pure.
 *
 * blackbox_exporter's names where they mean the same thing (probe_success,
 * probe_duration_seconds, probe_ip_protocol, probe_http_status_code), fleetprobe's
 * own for what a burst adds (fleetprobe_probe_burst_*). Every family is a gauge:
 * the values describe this one burst, and the next scrape runs a new one (a counter
 * that starts again at every scrape would make rate() meaningless). No target label:
 * Prometheus attaches `instance` from the relabelled __param_target.
 *
 * probe_success is 1 when at least one probe of the burst was answered in time: a
 * burst of 3 with one lost probe still reached the target (the loss shows in
 * fleetprobe_probe_burst_loss_ratio), which is what blackbox's one-shot probe_success
 * means too.
 */
import { formatNumber } from '../metrics/format.js';
import { HTTP_PHASE_NAMES, type ErrorReasonName } from '../protocol/events.js';
import { kindModule, type ProbeKind } from '../kinds/index.js';
import type { TestResult } from '../protocol/ondemand/result.js';

export interface ProbeOutcome {
  kind: ProbeKind;
  /** 4 or 6; 0 when no address was used. */
  ipProtocol: 0 | 4 | 6;
  /** The on-demand test that ran the burst. */
  result: TestResult;
  /** Wall time of the whole request, resolution included (seconds). */
  durationSeconds: number;
  /** Seconds the name lookup took (0 for an IP literal). */
  dnsSeconds: number;
}

interface Family {
  name: string;
  help: string;
  samples: Array<[labels: string, value: number]>;
}

export const PROBE_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function gauge(name: string, help: string, value: number): Family {
  return { name, help, samples: [['', value]] };
}

/** The families of one outcome, in the order they are written. */
export function probeFamilies(o: ProbeOutcome): Family[] {
  const s = o.result;
  const completed = s.received + s.timeouts + errorCount(s);
  // Over the probes with an outcome, so a burst cut short does not count its unanswered last probes as lost.
  const loss = completed > 0 ? (completed - s.received) / completed : Number.NaN;
  const rtt = s.rtt_seconds;
  const status = s.http_status ?? null;
  const phases = s.http_phase_seconds ?? {};
  const out: Family[] = [
    gauge('probe_success', 'Whether the probe succeeded: 1 when at least one probe of the burst was answered in time.', s.received > 0 ? 1 : 0),
    gauge('probe_duration_seconds', 'How long the probe took to complete in seconds (the whole burst, name lookup included).', o.durationSeconds),
    gauge('probe_dns_lookup_time_seconds', 'Returns the time taken for probe dns lookup in seconds (0 for an address literal).', o.dnsSeconds),
  ];
  if (o.ipProtocol !== 0) out.push(gauge('probe_ip_protocol', 'Specifies whether probe ip protocol is IP4 or IP6.', o.ipProtocol));
  if (o.kind === 'http' && status !== null) out.push(gauge('probe_http_status_code', 'Response HTTP status code of the last response of the burst.', status));
  out.push(
    gauge('fleetprobe_probe_burst_sent', 'Probes sent by this burst.', s.sent),
    gauge('fleetprobe_probe_burst_received', 'Replies received in time by this burst.', s.received),
    gauge('fleetprobe_probe_burst_timeouts', 'Probes of this burst that got no reply within the timeout.', s.timeouts),
    {
      name: 'fleetprobe_probe_burst_errors',
      help: 'Probes of this burst that failed, by reason (every reason the kind can report, 0 when it did not happen).',
      samples: errorReasons(o.kind, s).map((r) => [`reason="${r}"`, s.errors[r] ?? 0]),
    },
    gauge('fleetprobe_probe_burst_duplicates', 'Duplicate replies seen by this burst.', s.duplicates),
    gauge('fleetprobe_probe_burst_loss_ratio', 'Share of the probes with an outcome that were not answered in time (NaN when none had one).', loss),
    {
      name: 'fleetprobe_probe_burst_rtt_seconds',
      help: 'Round-trip time of the replies received in time, by statistic (min, avg, max, stddev; NaN when none was received).',
      samples: (['min', 'avg', 'max', 'stddev'] as const).map((k) => [`stat="${k}"`, rtt ? rtt[k] : Number.NaN]),
    },
  );
  if (o.kind === 'http') {
    out.push({
      name: 'fleetprobe_probe_burst_http_phase_seconds',
      help: 'Mean duration of each HTTP phase over the requests of this burst that reached it.',
      samples: HTTP_PHASE_NAMES.filter((p) => phases[p] !== undefined).map((p) => [`phase="${p}"`, phases[p] as number]),
    });
  }
  return out;
}

/** The kind's declared reasons plus any other that occurred (bounded: reasons are a fixed set). */
function errorReasons(kind: ProbeKind, s: TestResult): ErrorReasonName[] {
  const reasons = new Set<ErrorReasonName>(kindModule(kind).reasons);
  for (const r of Object.keys(s.errors) as ErrorReasonName[]) reasons.add(r);
  return [...reasons];
}

export function renderProbe(o: ProbeOutcome): string {
  let text = '';
  for (const f of probeFamilies(o)) {
    if (f.samples.length === 0) continue;
    text += `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} gauge\n`;
    for (const [labels, v] of f.samples) text += `${f.name}${labels ? `{${labels}}` : ''} ${formatNumber(v)}\n`;
  }
  return text;
}

function errorCount(s: TestResult): number {
  let n = 0;
  for (const k in s.errors) n += s.errors[k];
  return n;
}
