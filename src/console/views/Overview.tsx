/** Overview: targets by state, kind and health; fleet loss and RTT now and over the history; worst targets; workers; reloads. */
import { useMemo } from 'preact/hooks';
import { RttLossCharts } from '../components/RttLossCharts';
import { LiveStatus } from '../components/Status';
import { useOverview } from '../feeds';
import { fmtAge, fmtBytes, fmtInt, fmtLoss, fmtRtt, fmtTime } from '../format';
import { lossOf, seriesToChart } from '../series';
import type { Overview as O } from '../types';

function Counts({ title, counts, testId }: { title: string; counts: Record<string, number>; testId: string }) {
  return (
    <div class="card">
      <h3>{title}</h3>
      <dl class="counts" data-testid={testId}>
        {Object.entries(counts).map(([k, v]) => (
          <div key={k} class={`count c-${k}`}>
            <dt>{k.replace('_', ' ')}</dt>
            <dd>{fmtInt(v)}</dd>
          </div>
        ))}
      </dl>
    </div>
  );
}

function FleetCharts({ o }: { o: O }) {
  const h = o.fleet.history;
  const rtt = useMemo(() => seriesToChart(h, [(s, i) => s.p50[i], (s, i) => s.p90[i], (s, i) => s.p99[i]]), [h]);
  const loss = useMemo(() => seriesToChart(h, [(s, i) => lossOf(s.answered[i], s.lost[i])]), [h]);
  if (h === null) return <p class="note">History is off (history.retention: 0s): no graphs.</p>;
  return <RttLossCharts rtt={rtt} loss={loss} rttTitle="Fleet RTT" lossTitle="Fleet loss" testIdPrefix="fleet" />;
}

export function Overview() {
  const { data: o, status } = useOverview();
  return (
    <section class="view">
      <header class="view-head">
        <h2>Overview</h2>
        <LiveStatus status={status} />
      </header>
      {o === undefined ? (
        <p class="note">Loading…</p>
      ) : (
        <>
          <div class="cards">
            <div class="card big">
              <h3>Targets</h3>
              <div class="bignum" data-testid="targets-total">
                {fmtInt(o.targets.total)}
              </div>
              <div class="sub">
                {o.ready ? 'ready' : 'not ready yet'} · {o.node.mesh ? `mesh node ${o.node.name}` : o.node.name}
              </div>
            </div>
            <div class="card big">
              <h3>Fleet now{o.fleet.now.window_seconds ? ` (last ${o.fleet.now.window_seconds} s)` : ' (since start)'}</h3>
              <div class="bignum" data-testid="fleet-loss">
                {fmtLoss(o.fleet.now.loss)}
              </div>
              <div class="sub">
                loss · RTT p50 {fmtRtt(o.fleet.now.p50)} · p99 {fmtRtt(o.fleet.now.p99)} · {fmtInt(o.fleet.now.answered + o.fleet.now.lost)} probes
              </div>
            </div>
            <Counts title="By state" counts={o.targets.by_state} testId="by-state" />
            <Counts title="By kind" counts={o.targets.by_kind} testId="by-kind" />
            <Counts title="Health (loss window)" counts={o.targets.by_health} testId="by-health" />
          </div>
          <FleetCharts o={o} />
          <div class="two">
            <div class="card">
              <h3>Worst targets</h3>
              <table class="plain" data-testid="worst">
                <thead>
                  <tr>
                    <th>target</th>
                    <th>kind</th>
                    <th>loss</th>
                    <th>last RTT</th>
                    <th>p99 (5 min)</th>
                  </tr>
                </thead>
                <tbody>
                  {o.worst.map((w) => (
                    <tr key={w.name}>
                      <td>
                        <a href={`#/target/${encodeURIComponent(w.name)}`}>{w.name}</a>
                      </td>
                      <td>{w.kind}</td>
                      <td class={w.loss ? 'bad' : ''}>{fmtLoss(w.loss)}</td>
                      <td>{fmtRtt(w.last_rtt)}</td>
                      <td>{fmtRtt(w.p99)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <div class="card">
              <h3>Workers</h3>
              <table class="plain" data-testid="workers">
                <thead>
                  <tr>
                    <th>#</th>
                    <th>state</th>
                    <th>targets</th>
                    <th>restarts</th>
                    <th>batch age</th>
                    <th>sched. lag max</th>
                    <th>loop lag max / mean</th>
                  </tr>
                </thead>
                <tbody>
                  {o.workers.map((w) => (
                    <tr key={w.worker}>
                      <td>{w.worker}</td>
                      <td class={w.running ? 'good' : 'bad'}>{w.running ? 'running' : 'down'}</td>
                      <td>{fmtInt(w.targets)}</td>
                      <td class={w.restarts ? 'bad' : ''}>{w.restarts}</td>
                      <td>{fmtAge(w.lastBatchAgeSeconds)}</td>
                      <td>{fmtRtt(w.schedulingLagMaxSeconds)}</td>
                      <td>
                        {fmtRtt(w.eventLoopLagMaxSeconds)} / {fmtRtt(w.eventLoopLagMeanSeconds)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <h3>Configuration</h3>
              <dl class="facts" data-testid="reload">
                <dt>last (re)load</dt>
                <dd class={o.last_reload?.status === 'reloaded' ? 'good' : 'bad'}>
                  {o.last_reload ? `${o.last_reload.status} at ${fmtTime(o.last_reload.at)}` : '—'}
                </dd>
                {o.last_reload?.problems.map((p) => (
                  <dd key={p.key} class="bad">
                    {p.key}: {p.message}
                  </dd>
                ))}
                <dt>config</dt>
                <dd>{o.config}</dd>
                <dt>version</dt>
                <dd>
                  {o.version} · up since {fmtTime(o.started)}
                </dd>
                {o.history && (
                  <>
                    <dt>history</dt>
                    <dd>
                      {o.history.points} × {o.history.resolution_seconds} s · {fmtBytes(o.history.bytes)} ({o.history.bytes_per_target} B per target)
                    </dd>
                  </>
                )}
              </dl>
            </div>
          </div>
        </>
      )}
    </section>
  );
}
