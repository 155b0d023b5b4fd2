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
import { showValue } from '../values/show-value.js';

export { showValue };

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[], heading = 'invalid configuration') {
    const lines = problems.map((p) => `  - ${p.key}: ${p.message} (value: ${showValue(p.value)})`);
    super(`${heading}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${lines.join('\n')}`);
    this.problems = problems;
  }
}
