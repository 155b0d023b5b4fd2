/** Structured logs (pino, the logger Fastify uses): JSON lines on stderr-free stdout. */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export function createLogger(level: LevelWithSilent = 'info', name = 'fleetprobe'): Logger {
  return pino({
    name,
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Error objects logged as `err` get their stack and code, not `{}`.
    serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
  });
}
