/** The freshness of a view's data: updated when, or why not and when the next try is. */
import { useEffect, useState } from 'preact/hooks';
import type { PollStatus } from '../poll';

export function LiveStatus({ status }: { status: PollStatus }) {
  const [, tick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(t);
  }, []);
  if (status.error) {
    return (
      <span class="live bad" data-testid="live-status" title={status.error}>
        {status.okAt === null ? 'no data yet' : 'stale'}: {status.error}
        {status.retryInMs !== null ? `; retrying in ${Math.round(status.retryInMs / 1000)} s` : ''}
      </span>
    );
  }
  if (status.okAt === null)
    return (
      <span class="live" data-testid="live-status">
        loading…
      </span>
    );
  const age = (performance.now() - status.okAt) / 1000;
  return (
    <span class="live ok" data-testid="live-status">
      live · updated {age < 1.5 ? 'now' : `${Math.round(age)} s ago`}
    </span>
  );
}
