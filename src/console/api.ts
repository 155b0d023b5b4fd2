/**
 * Requests to this fleetprobe's API. Paths are relative (no leading slash), so the
 * console works at / and behind a proxy under a prefix. Every request has a timeout;
 * a token, once the user gave one (an API answered 401), goes with every request.
 */

const TOKEN_KEY = 'fleetprobe.api-token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function apiToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setApiToken(token: string | null): void {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* private mode: the token lives for this request only */
  }
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const t = apiToken();
  return t ? { ...extra, authorization: `Bearer ${t}` } : extra;
}

async function request(path: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<Response> {
  const timeout = AbortSignal.timeout(init.timeoutMs ?? 10_000);
  const signal = init.signal ? anySignal([init.signal, timeout]) : timeout;
  let res: Response;
  try {
    res = await fetch(path, { ...init, signal, headers: headers(init.headers as Record<string, string>), cache: 'no-store' });
  } catch (e) {
    const err = e as Error;
    if (err.name === 'TimeoutError') throw new ApiError(0, `no answer within ${Math.round((init.timeoutMs ?? 10_000) / 1000)} s`);
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, `cannot reach fleetprobe (${err.message})`);
  }
  if (!res.ok && res.status !== 304) {
    let message = `HTTP ${res.status}`;
    try {
      const body = (await res.json()) as { message?: string; error?: string };
      message = body.message ?? body.error ?? message;
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, message);
  }
  return res;
}

function anySignal(signals: AbortSignal[]): AbortSignal {
  const c = new AbortController();
  for (const s of signals) {
    if (s.aborted) {
      c.abort(s.reason);
      break;
    }
    s.addEventListener('abort', () => c.abort(s.reason), { once: true });
  }
  return c.signal;
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await request(path, { signal, headers: { accept: 'application/json' } });
  return (await res.json()) as T;
}

export async function getBinary(path: string, signal?: AbortSignal): Promise<ArrayBuffer> {
  const res = await request(path, { signal });
  return res.arrayBuffer();
}

export async function postJson<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  const res = await request(path, {
    method: 'POST',
    signal,
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', accept: 'application/json' },
  });
  return (await res.json()) as T;
}
