/**
 * The query string of GET /api/v1/stream: `target=NAME` (repeatable),
 * `label=key=value` (repeatable), `mode=once|stream` (default stream). Pure; every
 * problem is collected so a 400 lists them all.
 */
import { parseLabelArg, type LabelMatcher, type Selection } from './selection.js';

export const SSE_MODES = ['stream', 'once'] as const;
export type SseMode = (typeof SSE_MODES)[number];

const PARAMS = ['target', 'label', 'mode'] as const;

export type StreamQuery = { ok: true; selection: Selection; mode: SseMode } | { ok: false; problems: string[] };

export function parseStreamQuery(params: URLSearchParams): StreamQuery {
  const problems: string[] = [];
  const targets: string[] = [];
  const labels: LabelMatcher[] = [];
  const modes: string[] = [];
  for (const [key, value] of params) {
    switch (key) {
      case 'target':
        if (value === '') problems.push('target= needs a target name');
        else targets.push(value);
        break;
      case 'label': {
        const m = parseLabelArg(value);
        if (typeof m === 'string') problems.push(m);
        else labels.push(m);
        break;
      }
      case 'mode':
        modes.push(value);
        break;
      default:
        problems.push(`unknown parameter "${key}" (known: ${PARAMS.join(', ')})`);
    }
  }
  if (modes.length > 1) problems.push(`mode is given ${modes.length} times`);
  const mode = modes[0] ?? 'stream';
  if (!(SSE_MODES as readonly string[]).includes(mode)) {
    problems.push(`mode "${mode}" is not one of ${SSE_MODES.join(', ')}${mode === 'poll' ? ' (poll is a gRPC mode: re-request with mode=once instead)' : ''}`);
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, selection: { targets, labels }, mode: mode as SseMode };
}
