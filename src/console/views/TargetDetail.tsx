/** One target: its figures, RTT percentiles and loss over the history (plus the open period, live), errors by reason, an on-demand test. */
import { useMemo } from 'preact/hooks';
import { RttLossCharts } from '../components/RttLossCharts';
import { OnDemandTest } from '../components/OnDemandTest';
import { LiveStatus } from '../components/Status';
import { useTarget } from '../feeds';
import { fmtInt, fmtLoss, fmtRtt } from '../format';
import { lossOf, seriesToChart } from '../series';

export function TargetDetail({ name }: { name: string }) {
  const { data: t, status } = useTarget(name);
  const open = t?.open ?? null;
  const x = t ? t.now / 1000 : 0;
  const rtt = useMemo(
    () =>
      seriesToChart(
        t?.history ?? null,
        [(s, i) => s.p50[i], (s, i) => s.p90[i], (s, i) => s.p99[i]],
        open ? { x, values: [open.p50, open.p90, open.p99] } : undefined,
      ),
    [t],
  );
  const loss = useMemo(
    () => seriesToChart(t?.history ?? null, [(s, i) => lossOf(s.answered[i], s.lost[i])], open ? { x, values: [lossOf(open.answered, open.lost)] } : undefined),
    [t],
  );
  if (status.error && !t) {
    return (
      <section class="view">
        <header class="view-head">
          <h2>{name}</h2>
          <LiveStatus status={status} />
        </header>
        <p class="bad">{status.error}</p>
      </section>
    );
  }
  return (
    <section class="view">
      <header class="view-head">
        <h2 data-testid="target-name">{name}</h2>
        <LiveStatus status={status} />
      </header>
      {t === undefined ? (
        <p class="note">Loading…</p>
      ) : (
        <>
          <div class="cards">
            <div class="card">
              <dl class="facts">
                <dt>kind</dt>
                <dd>{t.kind}</dd>
                <dt>address</dt>
                <dd class="mono">
                  {t.address}
                  {t.ip && t.ip !== t.address ? ` (${t.ip})` : ''}
                </dd>
                <dt>state</dt>
                <dd class={t.state === 'ok' ? 'good' : 'bad'}>
                  {t.state}
                  {t.error ? `: ${t.error}` : ''}
                </dd>
                <dt>labels</dt>
                <dd>
                  {Object.entries(t.labels).map(([k, v]) => (
                    <span key={k} class="chip">
                      {k}={v}
                    </span>
                  ))}
                </dd>
                <dt>worker</dt>
                <dd>{t.worker ?? '—'}</dd>
                <dt>source</dt>
                <dd>{t.source ?? '—'}</dd>
              </dl>
            </div>
            <div class="card big">
              <h3>Loss (last probes)</h3>
              <div class="bignum" data-testid="target-loss">
                {fmtLoss(t.loss_window_ratio)}
              </div>
              <div class="sub">last RTT {fmtRtt(t.last_rtt)}</div>
            </div>
            {t.totals && (
              <div class="card">
                <h3>Since start</h3>
                <dl class="facts" data-testid="totals">
                  <dt>sent</dt>
                  <dd>{fmtInt(t.totals.sent)}</dd>
                  <dt>received</dt>
                  <dd>{fmtInt(t.totals.received)}</dd>
                  <dt>timeouts</dt>
                  <dd>{fmtInt(t.totals.timeouts)}</dd>
                  <dt>late / duplicates</dt>
                  <dd>
                    {fmtInt(t.totals.late)} / {fmtInt(t.totals.duplicates)}
                  </dd>
                </dl>
              </div>
            )}
            <div class="card">
              <h3>Errors by reason</h3>
              {t.totals && Object.keys(t.totals.errors).length > 0 ? (
                <table class="plain" data-testid="errors">
                  <tbody>
                    {Object.entries(t.totals.errors)
                      .sort((a, b) => b[1] - a[1])
                      .map(([k, v]) => (
                        <tr key={k}>
                          <td>{k}</td>
                          <td class="num">{fmtInt(v)}</td>
                        </tr>
                      ))}
                  </tbody>
                </table>
              ) : (
                <p class="note" data-testid="errors">
                  none
                </p>
              )}
            </div>
          </div>
          {t.history === null ? (
            <p class="note">History is off (history.retention: 0s): no graphs.</p>
          ) : (
            <RttLossCharts rtt={rtt} loss={loss} rttTitle={`RTT (${t.history.resolution_seconds} s periods)`} lossTitle="Loss" testIdPrefix="target" />
          )}
          <OnDemandTest target={name} />
        </>
      )}
    </section>
  );
}
