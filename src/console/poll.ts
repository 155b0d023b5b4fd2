/**
 * Polling that never piles up: the next request is scheduled only after the previous
 * one has finished (or timed out), so a busy exporter gets at most one request per
 * view at a time. Failures back off (doubling up to maxIntervalMs) and recover at the
 * first success; polling pauses while the page is hidden and resumes at once when it
 * shows again.
 */

export interface PollOptions {
  intervalMs: number;
  maxIntervalMs?: number;
}

export interface PollStatus {
  /** Time of the last success (performance.now()), or null. */
  okAt: number | null;
  error: string | null;
  /** Delay before the next attempt after a failure (ms). */
  retryInMs: number | null;
}

export function poll<T>(
  fetcher: (signal: AbortSignal) => Promise<T>,
  onData: (value: T) => void,
  onStatus: (s: PollStatus) => void,
  opts: PollOptions,
): () => void {
  const max = opts.maxIntervalMs ?? 15_000;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running = false;
  let delay = opts.intervalMs;
  let okAt: number | null = null;
  const controller = new AbortController();

  const schedule = (ms: number): void => {
    if (stopped) return;
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(run, ms);
  };

  async function run(): Promise<void> {
    timer = null;
    if (stopped || running) return;
    if (document.hidden) return; // visibilitychange resumes
    running = true;
    const started = performance.now();
    try {
      const v = await fetcher(controller.signal);
      if (stopped) return;
      okAt = performance.now();
      delay = opts.intervalMs;
      onData(v);
      onStatus({ okAt, error: null, retryInMs: null });
    } catch (e) {
      if (stopped) return;
      delay = Math.min(max, Math.max(opts.intervalMs, delay * 2));
      onStatus({ okAt, error: (e as Error).message, retryInMs: delay });
    } finally {
      running = false;
    }
    // Keep the period, counting the time the request took.
    schedule(Math.max(0, delay - (delay === opts.intervalMs ? performance.now() - started : 0)));
  }

  const onVisible = (): void => {
    if (!document.hidden && timer === null && !running) void run();
  };
  document.addEventListener('visibilitychange', onVisible);
  void run();
  return () => {
    stopped = true;
    controller.abort();
    if (timer !== null) clearTimeout(timer);
    document.removeEventListener('visibilitychange', onVisible);
  };
}
