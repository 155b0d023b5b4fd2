/** The schema as documentation: for --help, check-config and the README. */
import { buildSchema, leaves } from './schema.js';
import { CONFIG_FILE_ENV } from './load.js';
import { FORMATS } from './formats.js';

export interface ConfigKeyDoc {
  /** Dotted key as written in the config file. */
  key: string;
  doc: string;
  default: unknown;
  /** Environment variable, when the key has one. */
  env?: string;
  /** Flag including dashes ("--web.listen-address"), when the key has one. */
  flag?: string;
  /** Documented bounds ("1ms to 1h"), for every duration, count, size and capped list. */
  range?: string;
}

export function configSchemaDocs(): ConfigKeyDoc[] {
  return leaves(buildSchema()).map(([key, leaf]) => {
    const d: ConfigKeyDoc = { key, doc: leaf.doc, default: leaf.default };
    const range = FORMATS[leaf.check ?? (leaf.format as string)]?.range;
    if (range) d.range = range;
    if (leaf.env) d.env = leaf.env;
    if (leaf.arg) d.flag = `--${leaf.arg}`;
    return d;
  });
}

/**
 * A plain-text flag list: "--flag VALUE  doc (default: x; env: FLEETPROBE_X)"; `only`
 * keeps the keys a command reads (e.g. the responder's).
 */
export function formatConfigHelp(only: (key: string) => boolean = () => true): string {
  const lines = [`  --config FILE  Config file (.yaml, .yml or .json); default: the embedded config/default.yaml. env: ${CONFIG_FILE_ENV}`];
  for (const d of configSchemaDocs()) {
    if (!only(d.key)) continue;
    const def = JSON.stringify(d.default);
    const where = d.flag ? `  ${d.flag} VALUE` : `  (file only) ${d.key}`;
    const range = d.range ? `; range: ${d.range}` : '';
    lines.push(`${where}\n      ${d.doc}\n      default: ${def}${range}${d.env ? `; env: ${d.env}` : ''}`);
  }
  return lines.join('\n');
}
