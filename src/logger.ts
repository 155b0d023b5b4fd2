/**
 * Structured logs (pino, the logger Fastify uses) on stdout: JSON lines by default, or
 * logfmt (`log.format: logfmt`, as Prometheus exporters log).
 *
 * The format can change after the logger exists (the config that names it is read by
 * the exporter, and a reload may change it): pino's streamWrite hook turns each JSON
 * line into logfmt just before it is written, synchronously on the same stream, so
 * child loggers (Fastify's, the components') follow without being recreated and no
 * line is reordered or lost. (A pino transport would run in a worker thread and could
 * drop the last lines of a crash.)
 */
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import { jsonLineToLogfmt } from './logfmt.js';
import type { LogFormat } from './config/types.js';

const FORMAT = Symbol('fleetprobe.logFormat');

interface FormatState {
  format: LogFormat;
}

/** A logger on stdout (or `destination`, for tests). */
export function createLogger(level: LevelWithSilent = 'info', name = 'fleetprobe', format: LogFormat = 'json', destination?: DestinationStream): Logger {
  const state: FormatState = { format };
  const options = {
    name,
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Error objects logged as `err` get their stack and code, not `{}`.
    serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
    hooks: { streamWrite: (line: string) => (state.format === 'logfmt' ? jsonLineToLogfmt(line) : line) },
  };
  const logger = destination ? pino(options, destination) : pino(options);
  Object.defineProperty(logger, FORMAT, { value: state });
  return logger;
}

/**
 * Switch a logger made by createLogger (and every child of it) to `format`. A logger
 * from elsewhere (a test's) is left as it is.
 */
export function setLogFormat(logger: Logger, format: LogFormat): void {
  // Children are created with Object.create(parent): the state is found up the chain.
  const state = (logger as unknown as Record<symbol, FormatState | undefined>)[FORMAT];
  if (state) state.format = format;
}
