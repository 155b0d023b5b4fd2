/**
 * The on-demand tests API as the Node stand-ins of the k6 scripts call it: start a test,
 * read it until it ends (bounded), with the API token when one is given.
 */
import { readFileSync } from 'node:fs';

/** What GET /api/v1/tests/ID answers (the fields the stand-ins read). */
export interface OnDemandTestView {
  id: string;
  state: 'running' | 'done' | 'failed' | 'cancelled';
  result?: {
    sent: number;
    received: number;
    loss_ratio: number;
    rtt_seconds: { min: number | null; avg: number | null; max: number | null; p50: number | null; p90: number | null; p99: number | null };
  };
}

export class OnDemandClient {
  private readonly headers: Record<string, string>;

  constructor(
    private readonly baseUrl: string,
    token: string | undefined,
  ) {
    this.headers = { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };
  }

  /** POST /api/v1/tests: the response's status and, on 202, the test's id. */
  async start(body: Record<string, unknown>): Promise<{ status: number; id: string | null; text: string }> {
    const res = await fetch(`${this.baseUrl}/api/v1/tests`, {
      method: 'POST',
      headers: this.headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    const id = res.status === 202 ? String((JSON.parse(text) as { id: string }).id) : null;
    return { status: res.status, id, text };
  }

  async get(id: string): Promise<{ status: number; test: OnDemandTestView | null }> {
    const res = await fetch(`${this.baseUrl}/api/v1/tests/${encodeURIComponent(id)}`, { headers: this.headers, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    return { status: res.status, test: res.status === 200 ? (JSON.parse(text) as OnDemandTestView) : null };
  }

  /** Reads the test every pollMs until it is no longer running or maxWaitMs passed. */
  async waitEnded(id: string, maxWaitMs: number, pollMs = 250): Promise<OnDemandTestView | null> {
    const deadline = performance.now() + maxWaitMs;
    for (;;) {
      const { test } = await this.get(id);
      if ((test && test.state !== 'running') || performance.now() > deadline) return test;
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }
}

/** The token for the API: --token-file, else FLEETPROBE_API_TOKEN, else none. */
export function apiToken(tokenFile: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (tokenFile) return readFileSync(tokenFile, 'utf8').trim();
  return env.FLEETPROBE_API_TOKEN || undefined;
}

/** True for a loopback address as an on-demand test takes it: 127.x.y.z or ::1, with an optional :port. */
export function isLoopbackAddress(address: string): boolean {
  return /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1)(:\d+)?$/.test(address);
}
