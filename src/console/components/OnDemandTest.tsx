/**
 * "Run a test" for one target, against the on-demand tests API (issue 8):
 *   POST /api/v1/tests {"target": NAME, "count": N}  → 202 {"id"}
 *   GET  /api/v1/tests/ID                              → {"state", "result": {sent, received, loss_ratio, rtt_seconds{…}, errors}}
 * The server says whether it has the route (GET /api/v1/console/capabilities), so a
 * console served by a build without it disables the button and says why; a 404 from
 * POST /api/v1/tests disables it too. A 401 asks for the
 * API token (kept for this browser tab only).
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, getJson, postJson, setApiToken } from '../api';
import { fmtLoss, fmtRtt } from '../format';
import type { OnDemandTest as Test } from '../types';

type Availability = 'checking' | 'available' | 'missing' | 'unknown';
/** Probes per test, at the target's own interval (10 s at the default 1 s). */
const COUNT = 10;
const POLL_MS = 500;
const MAX_WAIT_MS = 120_000;

export function OnDemandTest({ target }: { target: string }) {
  const [avail, setAvail] = useState<Availability>('checking');
  const [test, setTest] = useState<Test | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [needsToken, setNeedsToken] = useState(false);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let alive = true;
    void getJson<{ tests: boolean }>('api/v1/console/capabilities').then(
      (c) => alive && setAvail(c.tests ? 'available' : 'missing'),
      () => alive && setAvail('unknown'),
    );
    return () => {
      alive = false;
    };
  }, []);

  async function run(): Promise<void> {
    setBusy(true);
    setError(null);
    setTest(null);
    try {
      const started = await postJson<{ id: string }>('api/v1/tests', { target, count: COUNT, tags: { source: 'console' } });
      const deadline = performance.now() + MAX_WAIT_MS;
      for (;;) {
        const t = await getJson<Test>(`api/v1/tests/${encodeURIComponent(started.id)}`);
        setTest(t);
        if (t.state !== 'running' || performance.now() > deadline) break;
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) setNeedsToken(true);
      if (e instanceof ApiError && e.status === 404) setAvail('missing');
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  }

  const disabled = avail !== 'available' || busy;
  const why =
    avail === 'missing'
      ? 'On-demand tests are not available on this fleetprobe (it has no POST /api/v1/tests).'
      : avail === 'checking'
        ? 'Checking whether on-demand tests are available…'
        : avail === 'unknown'
          ? 'Cannot tell whether on-demand tests are available (no answer).'
          : `Send ${COUNT} probes to ${target} now, next to its scheduled ones.`;
  const r = test?.result;
  return (
    <div class="card ondemand">
      <h3>On-demand test</h3>
      <button type="button" data-testid="run-test" disabled={disabled} title={why} onClick={() => void run()}>
        {busy ? 'Running…' : `Run a test (${COUNT} probes)`}
      </button>
      {avail === 'missing' && <span class="note"> {why}</span>}
      {needsToken && (
        <form
          class="token"
          onSubmit={(e) => {
            e.preventDefault();
            const v = (e.currentTarget.elements.namedItem('token') as HTMLInputElement).value.trim();
            setApiToken(v || null);
            setNeedsToken(false);
          }}
        >
          <label>
            API token <input name="token" type="password" autocomplete="off" />
          </label>
          <button type="submit">Use</button>
        </form>
      )}
      {error && <p class="bad">{error}</p>}
      {test && (
        <dl class="facts" data-testid="test-result">
          <dt>state</dt>
          <dd>
            {test.state}
            {test.error ? `: ${test.error}` : ''}
          </dd>
          {r && (
            <>
              <dt>sent / received</dt>
              <dd>
                {r.sent} / {r.received} (loss {fmtLoss(r.loss_ratio)})
              </dd>
              <dt>RTT min / avg / max</dt>
              <dd>
                {fmtRtt(r.rtt_seconds.min)} / {fmtRtt(r.rtt_seconds.avg)} / {fmtRtt(r.rtt_seconds.max)}
              </dd>
              <dt>RTT p50 / p90 / p99</dt>
              <dd>
                {fmtRtt(r.rtt_seconds.p50)} / {fmtRtt(r.rtt_seconds.p90)} / {fmtRtt(r.rtt_seconds.p99)}
              </dd>
              <dt>stddev</dt>
              <dd>{fmtRtt(r.rtt_seconds.stddev)}</dd>
              {Object.keys(r.errors ?? {}).length > 0 && (
                <>
                  <dt>errors</dt>
                  <dd>
                    {Object.entries(r.errors)
                      .map(([k, v]) => `${k}: ${v}`)
                      .join(', ')}
                  </dd>
                </>
              )}
            </>
          )}
        </dl>
      )}
    </div>
  );
}
