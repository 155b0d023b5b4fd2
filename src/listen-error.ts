/**
 * A listener that cannot bind, told the way an operator can act on it: one line naming
 * the address, the setting, what went wrong and the fix, e.g.
 *
 *   cannot listen on 127.0.0.1:9798 (web.listen_address): address already in use;
 *   another process has it — choose another port with --web.listen-address
 *
 * Pure. The error may come from net/dgram directly (with code, syscall, port) or
 * through a thread boundary that kept only the message ("listen EADDRINUSE: address
 * already in use 127.0.0.1:4000", "bind EADDRINUSE 0.0.0.0:4000"), so both are read.
 */

/** A configured listener: its config key, its value, and whether it is UDP. */
export interface ListenerSetting {
  key: string;
  address: string;
  udp?: boolean;
}

export class ListenError extends Error {
  override name = 'ListenError';
  constructor(
    /** The config key of the listener that failed ("web.listen_address"). */
    readonly key: string,
    readonly address: string,
    /** errno code ("EADDRINUSE"), or "" when unknown. */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The flag of a config key: web.listen_address -> --web.listen-address. */
export function flagOf(key: string): string {
  return `--${key.replace(/_/g, '-')}`;
}

interface Cause {
  what: string;
  fix: string;
}

function cause(code: string, flag: string, detail: string): Cause {
  switch (code) {
    case 'EADDRINUSE':
      return { what: 'address already in use', fix: `another process has it — choose another port with ${flag}` };
    case 'EACCES':
      return { what: 'permission denied', fix: `ports below 1024 need root or CAP_NET_BIND_SERVICE — choose a port above 1023 with ${flag}` };
    case 'EADDRNOTAVAIL':
      return {
        what: 'address not available',
        fix: `no interface of this host has that address — choose one of its addresses, or ":PORT" for all, with ${flag}`,
      };
    case 'EAFNOSUPPORT':
      return { what: 'address family not supported', fix: `IPv6 may be off on this host — choose an IPv4 address with ${flag}` };
    default:
      return { what: detail, fix: `check ${flag}` };
  }
}

interface Parsed {
  code: string;
  syscall: string;
  port: number | null;
}

/** code, syscall and port from the error's fields, else from its message (which may be wrapped: "KEY: cannot listen on ...: listen EADDRINUSE: ... 127.0.0.1:4000"). */
function parse(err: unknown): Parsed {
  const e = (err ?? {}) as { code?: unknown; syscall?: unknown; port?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  const m = /\b(listen|bind)\s+(E[A-Z]+)\b.*?:(\d+)\s*$/.exec(message);
  const code = typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code) ? e.code : (m?.[2] ?? /\b(E[A-Z]{3,})\b/.exec(message)?.[1] ?? '');
  const syscall = typeof e.syscall === 'string' ? e.syscall : (m?.[1] ?? '');
  const port = typeof e.port === 'number' ? e.port : m ? Number(m[3]) : null;
  return { code, syscall, port };
}

/** The ListenError for `err` raised while `setting` was being bound. */
export function listenError(err: unknown, setting: ListenerSetting): ListenError {
  const { code } = parse(err);
  const detail = err instanceof Error ? err.message : String(err);
  const c = cause(code, flagOf(setting.key), detail);
  return new ListenError(setting.key, setting.address, code, `cannot listen on ${setting.address} (${setting.key}): ${c.what}; ${c.fix}`);
}

/**
 * Which of several listeners started together failed (the responder binds all of its
 * own): the one on the error's port and protocol (a UDP socket fails in bind, a TCP
 * one in listen); with no such clue, the first UDP one for a bind error, else the first.
 */
export function failedListener(err: unknown, settings: readonly ListenerSetting[]): ListenerSetting {
  // An error that names its setting ("responder.http: cannot listen on ...") says it outright.
  const m = (err as { message?: unknown } | null)?.message;
  const message = typeof m === 'string' ? m : '';
  const named = settings.find((s) => message.startsWith(`${s.key}:`));
  if (named) return named;
  const { syscall, port } = parse(err);
  const udp = syscall === 'bind' ? true : syscall === 'listen' ? false : undefined;
  const portOf = (s: ListenerSetting): number => Number(/:(\d+)$/.exec(s.address)?.[1] ?? NaN);
  const byProtocol = settings.filter((s) => udp === undefined || Boolean(s.udp) === udp);
  return byProtocol.find((s) => port !== null && portOf(s) === port) ?? byProtocol[0] ?? settings[0];
}

/** The error is a socket's failure to bind (an errno code), not a bug or a bad option. */
export function isListenFailure(err: unknown): boolean {
  const e = (err ?? {}) as { code?: unknown; message?: unknown };
  if (typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) return true;
  return typeof e.message === 'string' && /\b(listen|bind)\s+E[A-Z]+\b/.test(e.message);
}
