/**
 * loadConfig: defaults < config file < FLEETPROBE_* environment < flags, validated
 * strictly, plus the OTEL_* variables of the OTLP export (metrics/otel-config.ts).
 * Any problem anywhere -> one ConfigError naming every bad key and variable.
 */
import convict from 'convict';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema, leaves, type SchemaSection } from './schema.js';
import { ConfigError, type ConfigProblem } from './errors.js';
import { splitArgv } from './argv.js';
import { readStructuredFileSync } from '../values/structured-file.js';
import { prune, checkLeaves, withDefaultsFor } from './validate.js';
import { buildConfig } from './build.js';
import type { Config } from './types.js';
import { targetFromFlag } from '../targets/flag-target.js';
import { describeProblems, parseTargetEntry } from '../targets/spec.js';
import { resolveOtelConfig } from '../metrics/otel-config.js';

export interface LoadConfigOptions {
  /** Arguments after the subcommand, e.g. ['--config', 'x.yaml', '--web.listen-address', '127.0.0.1:0']. */
  argv?: readonly string[];
  /** Environment (default: process.env). FLEETPROBE_* variables, and the OTEL_* ones of the OTLP export (checked only). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Base for a relative --config path (default: process.cwd()). */
  cwd?: string;
}

/** Environment variable naming the config file when --config is absent. */
export const CONFIG_FILE_ENV = 'FLEETPROBE_CONFIG';
export const EMBEDDED_DEFAULT = '(embedded default)';
/** configFile of a configuration made of flags alone: --target without --config. */
export const COMMAND_LINE_ONLY = '(command line)';

/** config/default.yaml of this package, found from this module (src/ or dist/src/). */
export function embeddedDefaultPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = resolve(dir, 'config', 'default.yaml');
    if (existsSync(candidate) && existsSync(resolve(dir, 'package.json'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('config/default.yaml not found next to the fleetprobe package');
}

let cachedSchema: SchemaSection | undefined;
function schema(): SchemaSection {
  return (cachedSchema ??= buildSchema());
}

export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const s = schema();
  const all = leaves(s);
  const flags = new Set(all.filter(([, l]) => l.arg).map(([, l]) => l.arg as string));
  const envNames = new Set(all.filter(([, l]) => l.env).map(([, l]) => l.env as string));

  const problems: ConfigProblem[] = [];
  const args = splitArgv(opts.argv ?? [], flags);
  for (const p of args.problems) problems.push(p);

  for (const name of Object.keys(env)) {
    if (name.startsWith('FLEETPROBE_') && !envNames.has(name) && name !== CONFIG_FILE_ENV) {
      problems.push({ key: name, value: env[name], message: 'unknown environment variable (FLEETPROBE_* variables must name a config key)' });
    }
  }

  // The standard OTEL_* variables of the OTLP export: not config keys, but refused
  // here all the same (keyed by the variable) so a bad one stops the start too.
  const otel = resolveOtelConfig(env);
  for (const p of otel.problems ?? []) problems.push({ key: p.variable, value: p.value, message: p.message });

  const requested = args.configFile ?? env[CONFIG_FILE_ENV] ?? null;
  // --target without a config file starts from the built-in defaults alone: not the
  // embedded default, whose loopback targets and responder would come along (and
  // collide with a responder already running on this host).
  const flagsOnly = requested === null && args.targets.length > 0;
  const filePath = requested === null ? embeddedDefaultPath() : resolve(cwd, requested);
  const configFile = flagsOnly ? COMMAND_LINE_ONLY : requested === null ? EMBEDDED_DEFAULT : filePath;
  let fileObject: Record<string, unknown> = {};
  try {
    if (!flagsOnly) fileObject = prune(readStructuredFileSync(filePath), s, problems);
  } catch (e) {
    problems.push({ key: requested === null ? 'config' : '--config', value: filePath, message: (e as Error).message });
  }

  // convict's own definition: our leaves carry extra fields (check, noEnv) it ignores.
  const conf = convict(s as unknown as convict.Schema<Record<string, unknown>>, {
    env,
    args: args.rest,
  });
  conf.load(fileObject);
  const props = conf.getProperties();

  const leafProblems: ConfigProblem[] = [];
  const badKeys = checkLeaves(props, s, leafProblems);
  const flagValues = new Set(args.rest.filter((t) => t.startsWith('--')).map((t) => t.slice(2).split('=')[0]));
  const byPath = new Map(all);
  for (const p of leafProblems) {
    const leaf = byPath.get(leafKeyOf(p.key, byPath));
    if (leaf?.arg && flagValues.has(leaf.arg)) p.message += ` (from --${leaf.arg})`;
    else if (leaf?.env && env[leaf.env] !== undefined) p.message += ` (from ${leaf.env})`;
  }
  for (const p of leafProblems) problems.push(p);

  // Build even when leaves are bad (with defaults in their place), so the inline targets,
  // the peers and the rules between keys are checked too and one run names everything.
  const safe = badKeys.size > 0 ? withDefaultsFor(props, s, badKeys) : props;
  const baseDir = requested === null ? cwd : dirname(filePath);
  const config = buildConfig(safe, configFile, baseDir, problems, badKeys);
  addFlagTargets(config, args.targets, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** --target values -> targets appended to the inline ones; each bad one is a problem "--target[i]". */
function addFlagTargets(config: Config, values: readonly string[], problems: ConfigProblem[]): void {
  const names = new Map(config.targets.map((t) => [t.name, t.source]));
  values.forEach((value, i) => {
    const key = `--target[${i}]`;
    const flag = targetFromFlag(value);
    if (!flag.ok) {
      problems.push({ key, value, message: flag.message });
      return;
    }
    const parsed = parseTargetEntry(flag.entry, key, config.probeDefaults);
    if (!parsed.ok) {
      problems.push({ key, value, message: describeProblems(parsed.problems) });
      return;
    }
    const other = names.get(parsed.spec.name);
    if (other !== undefined) {
      problems.push({ key, value, message: `names the same target as ${other}` });
      return;
    }
    names.set(parsed.spec.name, key);
    config.targets.push(parsed.spec);
  });
}

/** The schema leaf a problem key belongs to: "responder.allow_cidrs[2]" -> "responder.allow_cidrs". */
function leafKeyOf(key: string, leavesByPath: ReadonlyMap<string, unknown>): string {
  let k = key;
  while (k !== '' && !leavesByPath.has(k)) {
    const cut = Math.max(k.lastIndexOf('['), k.lastIndexOf('.'));
    if (cut <= 0) break;
    k = k.slice(0, cut);
  }
  return k;
}
