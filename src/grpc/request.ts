/**
 * Validation of a Subscribe call's first message (decoded by proto-loader with
 * enums as names and oneof discriminators). Pure; every problem is collected so
 * the INVALID_ARGUMENT status lists them all.
 */
import { labelMatcherProblem, type LabelMatcher, type Selection } from '../stream/selection.js';
import type { Mode } from '../stream/types.js';

/** Wire enum names -> hub modes. */
const MODES: Readonly<Record<string, Mode>> = { STREAM: 'stream', ONCE: 'once', POLL: 'poll' };

export interface DecodedSubscribeRequest {
  request?: string;
  subscribe?: { mode?: string | number; targets?: string[]; labels?: { name?: string; value?: string }[] } | null;
  poll?: object | null;
}

export type ParsedSubscription = { ok: true; selection: Selection; mode: Mode } | { ok: false; problems: string[] };

export function parseSubscribeRequest(msg: DecodedSubscribeRequest): ParsedSubscription {
  if (msg.request !== 'subscribe' || !msg.subscribe) {
    return { ok: false, problems: [`the first message must carry "subscribe" (got ${msg.request === 'poll' ? '"poll"' : 'neither subscribe nor poll'})`] };
  }
  const sub = msg.subscribe;
  const problems: string[] = [];
  const mode = typeof sub.mode === 'string' ? MODES[sub.mode] : undefined;
  if (mode === undefined) problems.push(`mode ${JSON.stringify(sub.mode)} is not one of ${Object.keys(MODES).join(', ')}`);
  const targets: string[] = [];
  (sub.targets ?? []).forEach((t, i) => {
    if (t === '') problems.push(`targets[${i}] is empty`);
    else targets.push(t);
  });
  const labels: LabelMatcher[] = [];
  (sub.labels ?? []).forEach((l, i) => {
    const m = { name: l.name ?? '', value: l.value ?? '' };
    const why = m.name === '' ? 'has no name' : labelMatcherProblem(m);
    if (why) problems.push(`labels[${i}]: ${why}`);
    else labels.push(m);
  });
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, selection: { targets, labels }, mode: mode! };
}
