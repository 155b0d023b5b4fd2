/** The part of a pino logger the responder uses; any pino-like logger fits. */
export type LogFn = (objOrMsg: unknown, msg?: string) => void;

export interface ResponderLogger {
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  debug: LogFn;
  /** pino's: lets the responder thread skip building debug records nobody wants. */
  isLevelEnabled?(level: string): boolean;
}
