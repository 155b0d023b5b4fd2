/**
 * One agent's answer to one test: POST {agent}/api/v1/tests?wait=1 (the agent answers
 * when the test has ended). Failures of the request itself (refused, 401, 400, a
 * timeout) become an outcome with the error, never an exception: one bad agent must
 * not hide the others' results.
 */
import type { PlannedTest } from './plan.js';

/** Longest wait for one agent's answer: above tests.max_duration's default (10m). */
export const AGENT_TIMEOUT_MS = 15 * 60_000;

export interface AgentOutcome {
  agent: string;
  from?: string;
  to?: string;
  /** The test as the agent shows it (GET /api/v1/tests/ID), when it answered with one. */
  test: TestViewLike | null;
  /** Why there is no test: the HTTP status and message, or the request error. */
  error: string | null;
}

/** The fields of an agent's test view the controller reads. */
export interface TestViewLike {
  id: string;
  state: string;
  kind: string;
  target: string | null;
  address: string;
  error?: string;
  result: null | {
    sent: number;
    received: number;
    loss_ratio: number;
    rtt_seconds: null | { min: number; avg: number; max: number; stddev: number; p50: number; p90: number; p99: number };
    jitter_seconds?: number;
    throughput_bytes_per_second?: number;
  };
}

export async function runOnAgent(t: PlannedTest, token: string | null, timeoutMs = AGENT_TIMEOUT_MS): Promise<AgentOutcome> {
  const base = { agent: t.agent, ...(t.from !== undefined ? { from: t.from, to: t.to } : {}) };
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  try {
    const res = await fetch(`${t.agent}/api/v1/tests?wait=1`, {
      method: 'POST',
      headers,
      body: JSON.stringify(t.body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {
      /* not JSON: shown as text */
    }
    if (res.status !== 200) {
      const msg = (body as { message?: string } | null)?.message ?? text.slice(0, 300);
      return { ...base, test: null, error: `HTTP ${res.status}: ${msg}` };
    }
    return { ...base, test: body as TestViewLike, error: null };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    return { ...base, test: null, error: e.cause?.code ?? e.cause?.message ?? e.message };
  }
}
