/**
 * Worker failure vocabulary and the pure rules of replacing a failed shard: reasons
 * and states (bounded label values of fleetprobe_worker_failures_total and
 * fleetprobe_workers), the restart backoff and the default stall timeout. Pure, so
 * config validation and the metrics derive from the same declarations as the
 * supervisor, and the rules are tested without threads.
 */

/** Why a shard had to be replaced; the `reason` label of fleetprobe_worker_failures_total. */
export const WORKER_FAILURE_REASONS = ['crashed', 'out_of_memory', 'stalled', 'exited'] as const;
export type WorkerFailureReason = (typeof WORKER_FAILURE_REASONS)[number];

/**
 * Where a shard is in its life; the `state` label of fleetprobe_workers (with
 * `configured`). starting: launched, no batch yet. running: delivering batches.
 * stalled / crashed: ended (stalled: by the watchdog; crashed: a crash, out of memory
 * or an exit) and waiting for its restart.
 */
export const WORKER_STATES = ['starting', 'running', 'stalled', 'crashed'] as const;
export type WorkerState = (typeof WORKER_STATES)[number];

export const DEFAULT_RESTART_MIN_MS = 100;
export const DEFAULT_RESTART_MAX_MS = 10_000;
/** A restarted shard that runs this long without failing is healthy again: its backoff resets. */
export const DEFAULT_HEALTHY_AFTER_MS = 30_000;
/** Default heap limit of a worker thread (resourceLimits.maxOldGenerationSizeMb). */
export const DEFAULT_HEAP_LIMIT_MB = 1024;
/**
 * Young generation of a worker thread (resourceLimits.maxYoungGenerationSizeMb): 4 MB
 * semi-spaces. V8's default lets them grow to 16 MB each, and a shard's short-lived
 * garbage (batches, reply source strings) filled them: 58 MB of heap per worker at
 * 100,000 icmp targets, 33 MB with this, at the same CPU (74.7% vs 75.7% of a core for
 * the whole process, back to back; README "Memory at scale").
 */
export const WORKER_YOUNG_GENERATION_MB = 12;

/**
 * The stall timeout when none is configured: a shard proves it is alive once per
 * flush, and GC pauses, a large scrape or reload on the main thread must never look
 * like a stall, so ten flushes and at least 5 s.
 */
export function defaultStallTimeoutMs(flushIntervalMs: number): number {
  return Math.max(5000, 10 * flushIntervalMs);
}

/** Restart delay after the n-th consecutive failure (n ≥ 1): min × 2^(n−1), capped at max. */
export function restartDelayMs(consecutiveFailures: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** Math.min(30, Math.max(0, consecutiveFailures - 1)));
}

/** What the end of a shard task means: `err` is the task's rejection (null: it returned). */
export function classifyExit(err: unknown, stalled: boolean): WorkerFailureReason {
  if (stalled) return 'stalled';
  if (err === null) return 'exited';
  if (typeof err === 'object' && err !== null && 'code' in err && err.code === 'ERR_WORKER_OUT_OF_MEMORY') return 'out_of_memory';
  return 'crashed';
}
