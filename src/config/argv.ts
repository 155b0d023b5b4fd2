/**
 * The command line as the config sees it: pull out --config and every --target, and
 * name every flag convict would silently ignore (a typo like --web.listen-adress must
 * not be lost).
 */
import type { ConfigProblem } from './errors.js';

export interface SplitArgv {
  configFile: string | null;
  /** Values of --target (repeatable), in order. */
  targets: string[];
  /** argv without the --config and --target options, for convict. */
  rest: string[];
  problems: ConfigProblem[];
}

/** Flags spelled as other tools spell them -> ours (exporter-toolkit's --web.config.file). */
const FLAG_ALIASES: Readonly<Record<string, string>> = { 'web.config.file': 'web.config-file' };

export function splitArgv(argv: readonly string[], knownFlags: ReadonlySet<string>): SplitArgv {
  let configFile: string | null = null;
  const targets: string[] = [];
  const rest: string[] = [];
  const problems: ConfigProblem[] = [];
  for (let i = 0; i < argv.length; i++) {
    let tok = argv[i];
    if (!tok.startsWith('--') || tok === '--') {
      problems.push({ key: tok, value: tok, message: 'unexpected argument (options are written --name value)' });
      continue;
    }
    const eq = tok.indexOf('=');
    const written = tok.slice(2, eq < 0 ? undefined : eq);
    const name = FLAG_ALIASES[written] ?? written;
    if (name !== written) tok = `--${name}${eq < 0 ? '' : tok.slice(eq)}`;
    let value: string | undefined = eq < 0 ? undefined : tok.slice(eq + 1);
    const takesNext = eq < 0 && i + 1 < argv.length && !argv[i + 1].startsWith('--');
    if (name === 'config') {
      if (value === undefined && takesNext) value = argv[++i];
      if (value === undefined || value === '') problems.push({ key: '--config', value: null, message: 'needs a file path' });
      else configFile = value;
      continue;
    }
    if (name === 'target') {
      if (value === undefined && takesNext) value = argv[++i];
      if (value === undefined)
        problems.push({
          key: '--target',
          value: null,
          message: 'needs an address (--target 127.0.0.1, --target 127.0.0.1:22, --target http://127.0.0.1:8080/)',
        });
      else targets.push(value);
      continue;
    }
    const bare = name.startsWith('no-') && !knownFlags.has(name) ? name.slice(3) : name;
    if (!knownFlags.has(bare)) {
      problems.push({ key: `--${name}`, value: value ?? (takesNext ? argv[i + 1] : true), message: 'unknown flag (see --help for the list)' });
      if (takesNext) i++;
      continue;
    }
    rest.push(tok);
    if (takesNext) rest.push(argv[++i]);
  }
  return { configFile, targets, rest, problems };
}
