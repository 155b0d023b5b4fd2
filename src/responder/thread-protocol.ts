/**
 * Messages between the main thread (thread-supervisor.ts) and the responder thread
 * (thread.ts), and the pieces both sides share: the thread's start data, errors as
 * plain data (a structured clone keeps neither the class nor `code`), and a logger
 * that forwards records to the main thread's pino.
 */
import type { MessagePort } from 'node:worker_threads';
import type { ListenAddress, ResponderOptions } from './limits.js';
import type { ListenerName, ResponderAddresses } from './listeners.js';
import type { LogFn, ResponderLogger } from './logger.js';

export interface ResponderThreadData {
  options: ResponderOptions;
  /** The counters (RESPONDER_STATS_LENGTH Float64 slots), owned by the main thread. */
  stats: SharedArrayBuffer;
  /** Forward debug records (per-datagram send errors...) only when the main logger wants them. */
  debug: boolean;
}

export type LogLevel = 'info' | 'warn' | 'error' | 'debug';

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

export type ToResponderThread = { type: 'snapshot'; id: number } | { type: 'close'; graceMs: number };

export type FromResponderThread =
  | { type: 'listening'; addresses: ResponderAddresses }
  | { type: 'listen_failed'; listener: ListenerName; at: ListenAddress; code: string; cause: string }
  | { type: 'snapshot'; id: number; values: Float64Array }
  | { type: 'log'; level: LogLevel; fields: Record<string, unknown>; msg: string | undefined }
  | { type: 'closed' };

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return { name: err.name, message: err.message, stack: err.stack, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { name: 'Error', message: String(err) };
}

export function deserializeError(e: SerializedError): Error {
  const err = new Error(e.message) as Error & { code?: string };
  err.name = e.name;
  if (e.stack) err.stack = e.stack;
  if (e.code) err.code = e.code;
  return err;
}

/** Log fields with Error values turned into plain data. */
function cloneableFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = v instanceof Error ? { __error: serializeError(v) } : v;
  return out;
}

/** The inverse of cloneableFields, on the main thread (pino's err serializer wants an Error). */
export function restoreLogFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    const e = (v as { __error?: SerializedError } | null)?.__error;
    out[k] = e ? deserializeError(e) : v;
  }
  return out;
}

/** A ResponderLogger for the responder thread: each record becomes one message to the main thread. */
export function portLogger(port: MessagePort, debug: boolean): ResponderLogger {
  const fn =
    (level: LogLevel): LogFn =>
    (objOrMsg, msg) => {
      const fields = typeof objOrMsg === 'object' && objOrMsg !== null ? cloneableFields(objOrMsg as Record<string, unknown>) : {};
      const text = typeof objOrMsg === 'string' ? objOrMsg : msg;
      port.postMessage({ type: 'log', level, fields, msg: text } satisfies FromResponderThread);
    };
  return { info: fn('info'), warn: fn('warn'), error: fn('error'), debug: debug ? fn('debug') : () => {} };
}
