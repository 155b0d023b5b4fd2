/**
 * probe_endpoint.*: GET /probe, the multi-target pattern of blackbox_exporter
 * (src/probe-endpoint/). Its schema section, the formats of its keys, their bounds
 * and the typed config, in one file so the endpoint's settings are declared once.
 */
import { parseDuration } from '../values/duration.js';
import { boolFormat, durationFormat, intFormat, type Format } from '../values/format.js';
import { MINUTE_MS, SECOND_MS, type Range } from '../values/range.js';
import type { ConfigProblem } from './errors.js';
import type { SchemaSection } from './schema.js';
import type { ProbeModule } from './build-probe-modules.js';

export const PROBE_ENDPOINT_BOUNDS = {
  /** Probes of one /probe request (count, max_count). */
  count: { min: 1, max: 1000 },
  /** Gap between the probes of a burst. */
  interval: { min: 1, max: 10 * SECOND_MS },
  /** /probe requests served at once. */
  maxConcurrent: { min: 1, max: 10_000 },
  /** Subtracted from X-Prometheus-Scrape-Timeout-Seconds (blackbox's --timeout-offset). */
  timeoutOffset: { min: 0, max: 10 * SECOND_MS },
  /** Longest one /probe request may run. */
  maxDuration: { min: 10, max: 5 * MINUTE_MS },
} as const satisfies Record<string, Range>;

/** Loopback only: see the README ("/probe: who may make fleetprobe send traffic where"). */
export const PROBE_ENDPOINT_DEFAULT_CIDRS = ['127.0.0.0/8', '::1/128'];

export const PROBE_ENDPOINT_FORMATS: Record<string, Format> = {
  'fp-probe-count': intFormat(PROBE_ENDPOINT_BOUNDS.count),
  'fp-probe-interval': durationFormat(PROBE_ENDPOINT_BOUNDS.interval),
  'fp-probe-max-concurrent': intFormat(PROBE_ENDPOINT_BOUNDS.maxConcurrent),
  'fp-probe-timeout-offset': durationFormat(PROBE_ENDPOINT_BOUNDS.timeoutOffset),
  'fp-probe-max-duration': durationFormat(PROBE_ENDPOINT_BOUNDS.maxDuration),
  'fp-probe-enabled': boolFormat,
  /** Each module's fields are checked by buildProbeModules (with the probe defaults): here only the shape. */
  'fp-probe-modules': { check: (v) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? null : 'must be a mapping of module name to its settings') },
};

export function probeEndpointSection(): SchemaSection {
  return {
    probe_modules: {
      doc:
        'Named settings for GET /probe?module=NAME, like blackbox_exporter modules: {NAME: {kind, count?, interval?, timeout?, payload_size?, + the kind\'s options}}. ' +
        'Each is checked like a target; query parameters override it. Default: none (module= may also name a kind).',
      format: Object,
      check: 'fp-probe-modules',
      default: {},
      noEnv: true,
    },
    probe_endpoint: {
      enabled: {
        doc: 'Serve GET /probe?target=…&kind=… (the multi-target pattern of blackbox_exporter). Off: /probe answers 404.',
        format: 'fp-probe-enabled',
        default: true,
      },
      allow_cidrs: {
        doc:
          '/probe sends traffic only to addresses inside these CIDRs (a host name is resolved first and its address checked); others are refused with 403. ' +
          'Default: loopback only. ["0.0.0.0/0", "::/0"] allows every address, as blackbox_exporter does. Empty: /probe refuses every target.',
        format: 'fp-cidrs',
        default: PROBE_ENDPOINT_DEFAULT_CIDRS,
      },
      count: {
        doc: 'Probes of one /probe request when the query has no count.',
        format: 'fp-probe-count',
        default: 3,
      },
      max_count: {
        doc: 'Most probes one /probe request may ask for (count=…); more is a 400.',
        format: 'fp-probe-count',
        default: 20,
      },
      interval: {
        doc: 'Gap between the probes of one /probe request when the query has no interval.',
        format: 'fp-probe-interval',
        default: '100ms',
      },
      max_concurrent: {
        doc: '/probe requests served at once; one more is answered 429 at once (it never waits).',
        format: 'fp-probe-max-concurrent',
        default: 16,
      },
      timeout_offset: {
        doc: 'Subtracted from the X-Prometheus-Scrape-Timeout-Seconds header to get the time a /probe request may take, so the answer arrives before Prometheus gives up (blackbox_exporter: --timeout-offset).',
        format: 'fp-probe-timeout-offset',
        default: '500ms',
      },
      max_duration: {
        doc: 'Longest a /probe request may take: the budget without the header, and a cap with it.',
        format: 'fp-probe-max-duration',
        default: '10s',
      },
    },
  };
}

/** probe_endpoint.* as the exporter reads it (durations in ms). */
export interface ProbeEndpointConfig {
  enabled: boolean;
  /** As configured (validated CIDRs). */
  allowCidrs: string[];
  count: number;
  maxCount: number;
  intervalMs: number;
  maxConcurrent: number;
  timeoutOffsetMs: number;
  maxDurationMs: number;
  /** probe_modules, checked. */
  modules: Record<string, ProbeModule>;
}

/** probe_endpoint.* as convict hands them over, after the schema's checks. */
export interface ProbeEndpointProps {
  enabled: boolean;
  allow_cidrs: string[];
  count: number;
  max_count: number;
  interval: string;
  max_concurrent: number;
  timeout_offset: string;
  max_duration: string;
}

export function buildProbeEndpointConfig(p: ProbeEndpointProps, problems: ConfigProblem[], modules: (maxCount: number) => Record<string, ProbeModule>): ProbeEndpointConfig {
  const c: ProbeEndpointConfig = {
    enabled: p.enabled === true,
    allowCidrs: [...p.allow_cidrs],
    count: p.count,
    maxCount: p.max_count,
    intervalMs: parseDuration(p.interval),
    maxConcurrent: p.max_concurrent,
    timeoutOffsetMs: parseDuration(p.timeout_offset),
    maxDurationMs: parseDuration(p.max_duration),
    modules: {},
  };
  c.modules = modules(c.maxCount);
  if (c.count > c.maxCount) problems.push({ key: 'probe_endpoint.count', value: p.count, message: `must be at most probe_endpoint.max_count (${c.maxCount})` });
  if (c.timeoutOffsetMs >= c.maxDurationMs) {
    problems.push({ key: 'probe_endpoint.timeout_offset', value: p.timeout_offset, message: `must be less than probe_endpoint.max_duration (${p.max_duration})` });
  }
  return c;
}
