/** The one error a bad configuration produces: every problem found, not just the first. */

export interface ConfigProblem {
  /** Dotted config key ("web.listen_address", "targets[2].interval"), a flag ("--foo") or a file. */
  key: string;
  /** The offending value as given (undefined when missing). */
  value: unknown;
  /** Why it is wrong, phrased to be read after the key. */
  message: string;
}

export { clip } from '../values/clip.js';

/** A value as a message shows it: JSON, cut to 120 characters. */
export function showValue(value: unknown): string {
  if (value === undefined) return '(missing)';
  try {
    const s = JSON.stringify(value);
    return s.length > 120 ? `${s.slice(0, 117)}...` : s;
  } catch {
    return String(value);
  }
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[], heading = 'invalid configuration') {
    const lines = problems.map((p) => `  - ${p.key}: ${p.message} (value: ${showValue(p.value)})`);
    super(`${heading}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${lines.join('\n')}`);
    this.problems = problems;
  }
}
