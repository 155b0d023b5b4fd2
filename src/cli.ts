/**
 * Entry point: `fleetprobe [run] [flags]`, `fleetprobe responder [flags]`,
 * `fleetprobe check-config --config FILE`, `fleetprobe version`, `fleetprobe help`.
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
import { ConfigError, formatConfigHelp, loadConfig } from './config/index.js';
import { loadTargets } from './targets/index.js';
import { createLogger } from './logger.js';
import { Exporter, packageVersion, type ExporterMode } from './exporter.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_CONFIG = 2;
/** Hard bound from the first SIGTERM/SIGINT to the process's exit. */
export const SHUTDOWN_TIMEOUT_MS = 10_000;
/** After a clean stop, handles left open (a request stuck on a collector) get this long before we exit anyway. */
const EXIT_LINGER_MS = 500;
const SIGNAL_NUMBERS = { SIGINT: 2, SIGTERM: 15 } as const;

const SUBCOMMANDS = new Set(['run', 'responder', 'check-config', 'version', 'help']);


const USAGE = `usage: fleetprobe [run] [--config FILE] [flags]     probe targets and serve /metrics
       fleetprobe responder [--config FILE] [flags] only answer other probers (tcp_echo, udp, http)
       fleetprobe check-config --config FILE        validate configuration and target files, then exit
       fleetprobe version | help

Without --config (or FLEETPROBE_CONFIG) the embedded default configuration is used:
it probes loopback addresses and its own responder.
Signals: SIGHUP reloads configuration and targets (as POST /-/reload does); SIGTERM/SIGINT stop gracefully
within ${SHUTDOWN_TIMEOUT_MS / 1000}s (then exit 1); a second SIGTERM/SIGINT exits at once (143/130).
Exit status: 0 ok, 1 runtime failure, 2 invalid configuration, 128+signal on a second signal.
`;

export async function main(argv: readonly string[]): Promise<number> {
  let sub = 'run';
  let rest = argv;
  if (argv.length > 0 && SUBCOMMANDS.has(argv[0])) {
    sub = argv[0];
    rest = argv.slice(1);
  } else if (argv[0] === '--help' || argv[0] === '-h') {
    sub = 'help';
  } else if (argv[0] === '--version') {
    sub = 'version';
  }
  switch (sub) {
    case 'version':
      process.stdout.write(`fleetprobe ${packageVersion()} (node ${process.version})\n`);
      return EXIT_OK;
    case 'help':
      process.stdout.write(`${USAGE}\nConfiguration keys (file key / environment variable / flag):\n${formatConfigHelp()}\n`);
      return EXIT_OK;
    case 'check-config':
      return checkConfig(rest);
    default:
      return run(rest, sub as ExporterMode);
  }
}

function printConfigError(err: ConfigError): void {
  process.stderr.write(`fleetprobe: invalid configuration:\n${err.message}\n`);
}

async function checkConfig(argv: readonly string[]): Promise<number> {
  try {
    const config = loadConfig({ argv });
    const set = await loadTargets(config);
    for (const r of set.rejected) {
      process.stderr.write(`${r.source}${r.name ? ` (${r.name})` : ''}: ${r.reason}\n`);
    }
    if (set.rejected.length > 0) {
      process.stderr.write(`fleetprobe: ${set.rejected.length} target(s) rejected in ${config.configFile}\n`);
      return EXIT_CONFIG;
    }
    process.stdout.write(`${config.configFile}: ok (${set.targets.length} targets, ${config.workers} workers)\n`);
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
  const logger = createLogger('info');
  const exporter = new Exporter({ argv, mode, logger });
  try {
    await exporter.start();
  } catch (err) {
    if (err instanceof ConfigError) {
      printConfigError(err);
      await exporter.stop().catch(() => {});
      return EXIT_CONFIG;
    }
    logger.fatal({ err }, 'fleetprobe failed to start');
    await exporter.stop().catch(() => {});
    return EXIT_FAILURE;
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
      void exporter.reload();
    });
  });
}
