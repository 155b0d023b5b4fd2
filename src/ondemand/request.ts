/**
 * POST /api/v1/tests body -> the plan of one on-demand test, or every problem with it
 * (400). Pure: the configured targets and the limits in effect are passed in.
 *
 * A body names a configured target ({"target": "NAME"}) or describes a new one the way
 * a config target is written ({"address": "127.0.0.9", "kind": "icmp"}, {"kind":
 * "http", "url": ...}): a new one goes through the same parseTargetEntry as every
 * config, file and API target, so it obeys the same validation. Test fields on top:
 *
 *   count     probes to send (default 10, at most tests.max_count)
 *   interval  between probes (default: the target's, or probe_defaults.interval)
 *   timeout   per probe (default: the target's, or probe_defaults.timeout)
 *   payload_size  icmp/udp payload bytes (default: the target's)
 *   rate      udp only: probes per second (instead of interval)
 *   size      http only: ask the responder's /v1/ping?size=N for an N-byte body
 *   tags      string map kept with the result
 *
 * Limits: rate (1 / interval) <= tests.max_rate, count x interval + timeout <=
 * tests.max_duration. The timeout may span at most 15 intervals (kinds/timing.ts),
 * except for udp, whose sequence window is sized from the ratio (a 1,000/s test with a
 * 1 s timeout keeps 1,000 probes in flight).
 */
import type { ProbeDefaults, ProbeKind, ShardTarget, TargetSpec } from '../targets/model.js';
import { parseTargetEntry } from '../targets/spec.js';
import { TARGET_FIELD_FORMATS, LABEL_BOUNDS } from '../targets/fields.js';
import { checkTimeoutSpan } from '../kinds/timing.js';
import { isProbeKind } from '../kinds/index.js';
import { parseDuration, formatDuration } from '../values/duration.js';
import { showValue } from '../values/show-value.js';
import { clip } from '../values/clip.js';

export interface TestLimits {
  maxCount: number;
  maxRate: number;
  maxDurationMs: number;
  maxHttpSize: number;
}

export interface TestProblem {
  key: string;
  message: string;
  value?: string;
}

export const DEFAULT_TEST_COUNT = 10;
/** Largest in-flight span of a udp test (its sequence window holds 2 x span + 2 <= 65,536). */
export const UDP_MAX_SPAN = 32_000;

/** Fields of a test on top of a target's. */
const TEST_FIELDS: ReadonlySet<string> = new Set(['target', 'count', 'rate', 'size', 'tags', 'interval', 'timeout', 'payload_size']);
/** Target fields a test does not take: they describe a scheduled series, not a test. */
const NOT_FOR_TESTS: Readonly<Record<string, string>> = {
  name: 'a test has no name; use tags to tell tests apart',
  labels: 'a test has no labels; use tags',
  loss_window: 'a test reports its own loss ratio; loss_window is for scheduled targets',
};

export interface ConfiguredTarget {
  spec: TargetSpec;
  /** null: not probed now (unresolved, refused, not owned by this instance). */
  shard: ShardTarget | null;
}

export interface TestPlanContext {
  defaults: ProbeDefaults;
  limits: TestLimits;
  configured(name: string): ConfiguredTarget | undefined;
}

export interface TestPlan {
  kind: ProbeKind;
  /** The configured target's name, or null for a new address. */
  target: string | null;
  /** Address as shown in the result: the target's address, or url for http. */
  address: string;
  /** The configured target's spec, or the new one's (named "ondemand"). */
  spec: TargetSpec;
  /** The configured target as probed now (null for a new address or one not probed). */
  base: ShardTarget | null;
  count: number;
  intervalMs: number;
  timeoutMs: number;
  payloadSize: number;
  /** http: the ?size= asked for, or null. */
  size: number | null;
  tags: Record<string, string>;
}

export type PlanResult = { ok: true; plan: TestPlan } | { ok: false; problems: TestProblem[] };

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** Name of the spec of a test to a new address (placement and messages only: it has no series). */
export const NEW_TARGET_NAME = 'ondemand';

export function planTest(body: unknown, ctx: TestPlanContext): PlanResult {
  const problems: TestProblem[] = [];
  const bad = (key: string, message: string, ...value: unknown[]) =>
    problems.push(value.length > 0 ? { key, message, value: showValue(value[0]) } : { key, message });
  if (!isMapping(body)) {
    return {
      ok: false,
      problems: [
        {
          key: 'body',
          value: showValue(body),
          message: 'must be a JSON object: {"target": "NAME"} or a new target ({"address": ..., "kind": ...}) plus test fields',
        },
      ],
    };
  }
  const b = body;
  for (const [k, why] of Object.entries(NOT_FOR_TESTS)) if (hasOwn(b, k)) bad(k, why, b[k]);

  // The target: configured, or new.
  let spec: TargetSpec | null = null;
  let base: ShardTarget | null = null;
  let targetName: string | null = null;
  if (hasOwn(b, 'target')) {
    if (typeof b.target !== 'string' || b.target === '') bad('target', 'target must be the name of a configured target', b.target);
    else {
      for (const k of ['address', 'url', 'kind'])
        if (hasOwn(b, k))
          bad(
            k,
            `${k} describes a new target; a test of a configured target takes only test fields (count, interval, timeout, payload_size, rate, size, tags)`,
            b[k],
          );
      const c = ctx.configured(b.target);
      if (!c) bad('target', `no configured target is named ${JSON.stringify(clip(b.target, 256))}`, b.target);
      else {
        spec = c.spec;
        base = c.shard;
        targetName = b.target;
        for (const k of Object.keys(b)) {
          if (!TEST_FIELDS.has(k) && !hasOwn(NOT_FOR_TESTS, k) && !['address', 'url', 'kind'].includes(k)) bad(k, `unknown test field "${k}"`, b[k]);
        }
      }
    }
  } else {
    // A new target: every field but the test's own is a target field, checked as one.
    const entry: Record<string, unknown> = { name: NEW_TARGET_NAME };
    for (const k of Object.keys(b)) if (!TEST_FIELDS.has(k) && !hasOwn(NOT_FOR_TESTS, k)) entry[k] = b[k];
    if (b.payload_size !== undefined) entry.payload_size = b.payload_size;
    const parsed = parseTargetEntry(entry, 'POST /api/v1/tests', ctx.defaults);
    if (parsed.ok) spec = parsed.spec;
    else for (const p of parsed.problems) if (p.field !== 'name') problems.push({ key: p.field || 'body', message: p.message, value: showValue(p.value) });
  }

  // The kind even when the new target has problems of its own, so test fields that do
  // not fit it are reported in the same answer.
  const kind: ProbeKind | null = spec?.kind ?? (targetName !== null ? null : b.kind === undefined ? ctx.defaults.kind : isProbeKind(b.kind) ? b.kind : null);
  const count = b.count === undefined ? DEFAULT_TEST_COUNT : b.count;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) bad('count', 'count must be a positive integer', b.count);
  else if (count > ctx.limits.maxCount) bad('count', `count ${count} is above tests.max_count (${ctx.limits.maxCount})`, b.count);

  let intervalMs = spec?.intervalMs ?? ctx.defaults.intervalMs;
  if (b.interval !== undefined) {
    const why = TARGET_FIELD_FORMATS.interval.check(b.interval);
    if (why) bad('interval', `interval ${why}`, b.interval);
    else intervalMs = parseDuration(b.interval);
  }
  if (b.rate !== undefined) {
    if (kind !== null && kind !== 'udp') bad('rate', `rate is for udp tests; a ${kind} test takes interval`, b.rate);
    else if (b.interval !== undefined) bad('rate', 'set either rate or interval, not both', b.rate);
    else if (typeof b.rate !== 'number' || !(b.rate > 0) || !Number.isFinite(b.rate))
      bad('rate', 'rate must be a positive number of probes per second', b.rate);
    else if (b.rate > ctx.limits.maxRate) bad('rate', `rate ${b.rate}/s is above tests.max_rate (${ctx.limits.maxRate}/s)`, b.rate);
    else intervalMs = 1000 / b.rate;
  } else if (1000 / intervalMs > ctx.limits.maxRate) {
    bad(
      'interval',
      `interval ${formatDuration(intervalMs)} is ${+(1000 / intervalMs).toFixed(3)} probes/s, above tests.max_rate (${ctx.limits.maxRate}/s)`,
      b.interval ?? formatDuration(intervalMs),
    );
  }

  let timeoutMs = spec?.timeoutMs ?? ctx.defaults.timeoutMs;
  if (b.timeout !== undefined) {
    const why = TARGET_FIELD_FORMATS.timeout.check(b.timeout);
    if (why) bad('timeout', `timeout ${why}`, b.timeout);
    else timeoutMs = parseDuration(b.timeout);
  }
  if (kind === 'udp') {
    if (Math.ceil(timeoutMs / Math.max(1, intervalMs)) > UDP_MAX_SPAN) bad('timeout', `timeout spans more than ${UDP_MAX_SPAN} intervals`, b.timeout);
  } else if (kind !== null) {
    const span = checkTimeoutSpan(intervalMs, timeoutMs);
    if (span) bad(b.timeout !== undefined ? 'timeout' : 'interval', span, b.timeout ?? b.interval);
  }

  let payloadSize = spec?.payloadSize ?? ctx.defaults.payloadSize;
  if (b.payload_size !== undefined && targetName !== null) {
    const why = TARGET_FIELD_FORMATS.payload_size.check(b.payload_size);
    if (why) bad('payload_size', `payload_size ${why}`, b.payload_size);
    else payloadSize = b.payload_size as number;
  }

  let size: number | null = null;
  if (b.size !== undefined) {
    if (kind !== null && kind !== 'http') bad('size', `size is for http tests (the responder's /v1/ping?size=N); a ${kind} test takes payload_size`, b.size);
    else if (typeof b.size !== 'number' || !Number.isInteger(b.size) || b.size < 0) bad('size', 'size must be a non-negative integer (bytes)', b.size);
    else if (b.size > ctx.limits.maxHttpSize) bad('size', `size ${b.size} is above tests.max_http_size (${ctx.limits.maxHttpSize})`, b.size);
    else size = b.size;
  }

  const tags: Record<string, string> = {};
  if (b.tags !== undefined) {
    if (!isMapping(b.tags)) bad('tags', 'tags must be a map of strings', b.tags);
    else {
      const entries = Object.entries(b.tags);
      if (entries.length > LABEL_BOUNDS.perTarget) bad('tags', `at most ${LABEL_BOUNDS.perTarget} tags`, `(${entries.length} tags)`);
      for (const [k, v] of entries) {
        if (k === '' || Buffer.byteLength(k, 'utf8') > LABEL_BOUNDS.nameBytes)
          bad(`tags.${clip(k, 64)}`, `a tag name must be 1 to ${LABEL_BOUNDS.nameBytes} bytes`);
        else if (typeof v !== 'string') bad(`tags.${k}`, 'a tag value must be a string', v);
        else if (Buffer.byteLength(v, 'utf8') > LABEL_BOUNDS.valueBytes) bad(`tags.${k}`, `a tag value must be at most ${LABEL_BOUNDS.valueBytes} bytes`, v);
        else tags[k] = v;
      }
    }
  }

  if (problems.length === 0 && typeof count === 'number') {
    const durationMs = count * intervalMs + timeoutMs;
    if (durationMs > ctx.limits.maxDurationMs) {
      bad(
        'count',
        `count x interval + timeout is ${formatDuration(Math.ceil(durationMs))}, above tests.max_duration (${formatDuration(ctx.limits.maxDurationMs)})`,
        count,
      );
    }
  }
  if (problems.length > 0 || spec === null) return { ok: false, problems };
  return {
    ok: true,
    plan: {
      kind: spec.kind,
      target: targetName,
      address: spec.kind === 'http' ? (spec.url ?? spec.address) : spec.address,
      spec,
      base,
      count: count as number,
      intervalMs,
      timeoutMs,
      payloadSize,
      size,
      tags,
    },
  };
}

/** "3 problems: count: ...; rate: ..." */
export function describeTestProblems(problems: readonly TestProblem[]): string {
  return `${problems.length} problem${problems.length === 1 ? '' : 's'}: ${problems.map((p) => `${p.key}: ${p.message}`).join('; ')}`;
}
