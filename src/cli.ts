/**
 * Entry point: `fleetprobe [run] [flags]`, `fleetprobe responder [flags]`,
 * `fleetprobe check-config --config FILE`, `fleetprobe test ...` (the controller),
 * `fleetprobe version`, `fleetprobe help`.
 *
 * Exit codes: 0 ok, 1 runtime failure (e.g. port in use), 2 invalid configuration
 * (every bad key is printed before anything starts), 128+n when a second signal n
 * cut the shutdown short (143 for SIGTERM, 130 for SIGINT).
 *
 * Shutdown is bounded: every step has its own timeout (Exporter.stop), and
 * SHUTDOWN_TIMEOUT_MS after the first signal the process exits with status 1 whatever
 * is still running. Setting process.exitCode is not enough for that: a socket that
 * never closes (a collector that never answers) keeps the event loop, and so the
 * process, alive.
 */
import { ConfigError, loadConfig } from './config/index.js';
import { loadTargets } from './targets/index.js';
import { loadApiEntries } from './targets/api-source.js';
import { readStateFile } from './targets/state-file.js';
import { createLogger } from './logger.js';
import type { ExporterMode } from './exporter.js';
import { packageVersion } from './version.js';
import { ListenError } from './listen-error.js';
import { controllerMain } from './controller/main.js';
import { COMMANDS, SHUTDOWN_TIMEOUT_MS, generalHelp, isCommand, unknownCommandMessage, type CommandName } from './commands.js';

export { SHUTDOWN_TIMEOUT_MS } from './commands.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_CONFIG = 2;
/** After a clean stop, handles left open (a request stuck on a collector) get this long before we exit anyway. */
const EXIT_LINGER_MS = 500;
const SIGNAL_NUMBERS = { SIGINT: 2, SIGTERM: 15 } as const;

const isHelpFlag = (a: string): boolean => a === '--help' || a === '-h';

/**
 * The command and its arguments. The first word is the command when it is not a flag
 * (an unknown word is an error, not a stray argument of "run"); flags alone mean run,
 * so `fleetprobe --config x.yaml` runs.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const first = argv[0];
  let command: CommandName = 'run';
  let rest = argv;
  if (first !== undefined && !first.startsWith('-')) {
    if (!isCommand(first)) {
      process.stderr.write(`${unknownCommandMessage(first)}\n`);
      return EXIT_CONFIG;
    }
    command = first;
    rest = argv.slice(1);
  } else if (first !== undefined && isHelpFlag(first)) {
    command = 'help';
    rest = argv.slice(1);
  } else if (first === '--version') {
    command = 'version';
    rest = argv.slice(1);
  }
  if (command === 'help') return help(rest);
  // --help anywhere among a command's arguments (before "--") shows that command's help.
  const options = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (options.some(isHelpFlag)) {
    process.stdout.write(COMMANDS[command].help());
    return EXIT_OK;
  }
  switch (command) {
    case 'version':
      if (rest.length > 0) return usageError(`"version" takes no arguments (got ${rest.join(' ')})`);
      process.stdout.write(`fleetprobe ${packageVersion()} (node ${process.version})\n`);
      return EXIT_OK;
    case 'check-config':
      return checkConfig(rest);
    case 'test':
      return controllerMain(rest, { env: process.env, stdout: (x) => process.stdout.write(x), stderr: (x) => process.stderr.write(x) });
    default:
      return run(rest, command);
  }
}

function usageError(message: string): number {
  process.stderr.write(`fleetprobe: ${message}; see fleetprobe --help\n`);
  return EXIT_CONFIG;
}

/** `fleetprobe help [COMMAND]`. */
function help(args: readonly string[]): number {
  const topics = args.filter((a) => !isHelpFlag(a));
  if (topics.length === 0 && args.length > 0) {
    process.stdout.write(COMMANDS.help.help()); // fleetprobe help --help
    return EXIT_OK;
  }
  if (topics.length === 0) {
    process.stdout.write(generalHelp());
    return EXIT_OK;
  }
  if (topics.length > 1) return usageError(`"help" takes one command (got ${topics.join(' ')})`);
  if (!isCommand(topics[0])) {
    process.stderr.write(`${unknownCommandMessage(topics[0])}\n`);
    return EXIT_CONFIG;
  }
  process.stdout.write(COMMANDS[topics[0]].help());
  return EXIT_OK;
}

/** err.message already begins "invalid configuration: N problems". */
function printConfigError(err: ConfigError): void {
  process.stderr.write(`fleetprobe: ${err.message}\n`);
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

async function checkConfig(argv: readonly string[]): Promise<number> {
  try {
    const config = loadConfig({ argv });
    // The targets API's state file is read as `run` reads it: a bad one stops the start.
    let api;
    if (config.api.stateFile !== null) {
      const state = await readStateFile(config.api.stateFile);
      if (!state.ok) throw new ConfigError([{ key: 'api.state_file', value: config.api.stateFile, message: state.message }]);
      api = loadApiEntries(state.entries, config.probeDefaults);
    }
    const set = await loadTargets(config, { api });
    for (const r of set.rejected) {
      process.stderr.write(`${r.source}${r.name ? ` (${r.name})` : ''}: ${r.reason}\n`);
    }
    if (set.rejected.length > 0) {
      process.stderr.write(`fleetprobe: ${plural(set.rejected.length, 'target')} rejected in ${config.configFile}\n`);
      return EXIT_CONFIG;
    }
    process.stdout.write(`${config.configFile}: ok (${plural(set.targets.length, 'target')}, ${plural(config.workers, 'worker')})\n`);
    return EXIT_OK;
  } catch (err) {
    if (err instanceof ConfigError) {
      printConfigError(err);
      return EXIT_CONFIG;
    }
    throw err;
  }
}

async function run(argv: readonly string[], mode: ExporterMode): Promise<number> {
  if (mode === 'responder') {
    const target = argv.find((a) => a === '--target' || a.startsWith('--target='));
    if (target !== undefined) {
      printConfigError(new ConfigError([{ key: '--target', value: target, message: 'the responder probes nothing; targets are for "fleetprobe run"' }]));
      return EXIT_CONFIG;
    }
  }
  const logger = createLogger('info');
  // Loaded here, not at the top: the exporter pulls in Fastify, gRPC, OpenTelemetry and the
  // worker pool, which `--help`, `version` and `check-config` never need (they start in a
  // fraction of the time without them).
  const { Exporter } = await import('./exporter.js');
  const exporter = new Exporter({ argv, mode, logger });
  try {
    await exporter.start();
  } catch (err) {
    // One line on stderr that names the problem (and, for a listener, the setting and
    // the fix); stdout stays for logs. What had started is closed after the line is out.
    if (err instanceof ConfigError) printConfigError(err);
    else if (err instanceof ListenError) process.stderr.write(`fleetprobe: ${err.message}\n`);
    else
      process.stderr.write(
        `fleetprobe: cannot start: ${err instanceof Error ? err.message : String(err)}\n${err instanceof Error && err.stack ? `${err.stack}\n` : ''}`,
      );
    await exporter.stop().catch(() => {});
    return err instanceof ConfigError ? EXIT_CONFIG : EXIT_FAILURE;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const exitNow = (code: number): void => {
      resolve(code);
      process.exit(code);
    };
    const stop = (signal: keyof typeof SIGNAL_NUMBERS): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now without finishing the shutdown');
        exitNow(128 + SIGNAL_NUMBERS[signal]);
        return;
      }
      stopping = true;
      logger.info({ signal, timeoutMs: SHUTDOWN_TIMEOUT_MS }, 'shutting down');
      // Whatever still runs at the deadline (a step stuck past its own bound), the process
      // ends. unref(): when everything closed in time the process exits without waiting.
      setTimeout(() => {
        logger.error({ timeoutMs: SHUTDOWN_TIMEOUT_MS }, 'shutdown did not finish in time; exiting');
        exitNow(EXIT_FAILURE);
      }, SHUTDOWN_TIMEOUT_MS).unref();
      exporter.stop().then(
        (clean) => {
          const code = clean ? EXIT_OK : EXIT_FAILURE;
          resolve(code);
          // Normally nothing is left and the process exits now; a handle that outlived its
          // step's bound must not hold it until the deadline.
          setTimeout(() => process.exit(code), EXIT_LINGER_MS).unref();
        },
        (err: unknown) => {
          logger.error({ err }, 'error during shutdown');
          exitNow(EXIT_FAILURE);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      logger.info({}, 'SIGHUP: reloading');
      void exporter.reload('SIGHUP');
    });
  });
}
