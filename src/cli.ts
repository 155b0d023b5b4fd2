/**
 * Entry point: `fleetprobe [run] [flags]`, `fleetprobe responder [flags]`,
 * `fleetprobe check-config --config FILE`, `fleetprobe version`, `fleetprobe help`.
 *
 * Exit codes: 0 ok, 1 runtime failure (e.g. port in use), 2 invalid configuration
 * (every bad key is printed before anything starts).
 */
import { ConfigError, formatConfigHelp, loadConfig } from './config/index.js';
import { loadTargets } from './targets/index.js';
import { createLogger } from './logger.js';
import { Exporter, packageVersion, type ExporterMode } from './exporter.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_CONFIG = 2;

const SUBCOMMANDS = new Set(['run', 'responder', 'check-config', 'version', 'help']);


const USAGE = `usage: fleetprobe [run] [--config FILE] [flags]     probe targets and serve /metrics
       fleetprobe responder [--config FILE] [flags] only answer other probers (tcp_echo, udp, http)
       fleetprobe check-config --config FILE        validate configuration and target files, then exit
       fleetprobe version | help

Without --config (or FLEETPROBE_CONFIG) the embedded default configuration is used:
it probes loopback addresses and its own responder.
Signals: SIGHUP reloads configuration and targets (as POST /-/reload does); SIGTERM/SIGINT stop gracefully.
Exit status: 0 ok, 1 runtime failure, 2 invalid configuration.
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
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      // A second signal, or a stop that hangs, ends the process anyway.
      setTimeout(() => resolve(EXIT_FAILURE), 10_000).unref();
      exporter.stop().then(
        () => resolve(EXIT_OK),
        (err: unknown) => {
          logger.error({ err }, 'error during shutdown');
          resolve(EXIT_FAILURE);
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
