/**
 * Matrix: rows are groups of probers (the mesh node, or a label of the nodes such as
 * rack), columns groups of targets (a label of theirs); each cell is coloured by loss
 * or RTT p99 over the window, with the numbers on hover. Computed by the server (in
 * mesh mode from every peer's own row), so the browser gets a few cells, not rows per
 * target.
 */
import { useMemo } from 'preact/hooks';
import { LiveStatus } from '../components/Status';
import { lossColor, rttColor } from '../colors';
import { useMatrix } from '../feeds';
import { fmtInt, fmtLoss, fmtRtt } from '../format';
import { navigate } from '../router';
import type { MatrixCell } from '../types';

type Metric = 'loss' | 'p99';

function cellTitle(row: string, col: string, c: MatrixCell | null): string {
  if (c === null) return `${row} → ${col}: no probes`;
  return `${row} → ${col}\nloss ${fmtLoss(c.loss)} (${fmtInt(c.lost)} lost of ${fmtInt(c.answered + c.lost)})\nRTT p50 ${fmtRtt(c.p50)} · p99 ${fmtRtt(c.p99)}\n${fmtInt(c.targets)} targets`;
}

export function Matrix({ params }: { params: URLSearchParams }) {
  const rows = params.get('rows') ?? 'prober';
  const cols = params.get('cols') ?? 'target';
  const metric: Metric = params.get('metric') === 'p99' ? 'p99' : 'loss';
  // No window asked: the server's default (5 minutes, or the whole history when shorter).
  const asked = params.get('window');
  const query = new URLSearchParams({ rows, cols, ...(asked ? { window: asked } : {}) }).toString();
  const { data: m, status } = useMatrix(query);
  const window = asked ?? m?.window ?? '';

  const set = (k: string, v: string) => {
    const p = new URLSearchParams({ rows, cols, metric, ...(window ? { window } : {}) });
    p.set(k, v);
    navigate(`#/matrix?${p.toString()}`);
  };
  const range = useMemo(() => {
    let min = Infinity;
    let max = 0;
    for (const r of m?.cells ?? []) for (const c of r) if (c?.p99) ((min = Math.min(min, c.p99)), (max = Math.max(max, c.p99)));
    return { min, max };
  }, [m]);
  const select = (label: string, value: string, options: string[], key: string) => (
    <label>
      {label}{' '}
      <select value={value} data-testid={`matrix-${key}`} onChange={(e) => set(key, (e.currentTarget as HTMLSelectElement).value)}>
        {(options.includes(value) ? options : [value, ...options]).map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </label>
  );
  const failed = m?.nodes.filter((n) => !n.ok) ?? [];

  return (
    <section class="view">
      <header class="view-head">
        <h2>Matrix</h2>
        {select('rows', rows, m?.labels.rows ?? ['prober'], 'rows')}
        {select('columns', cols, m?.labels.cols ?? ['target'], 'cols')}
        {select('colour', metric, ['loss', 'p99'], 'metric')}
        {select('window', window, m?.windows ?? [], 'window')}
        <LiveStatus status={status} />
      </header>
      {m === undefined ? (
        <p class="note">{status.error ?? 'Loading…'}</p>
      ) : (
        <>
          <p class="note">
            {m.mesh ? `Mesh: ${m.nodes.length} nodes (${m.nodes.length - failed.length} answered). ` : 'This node only (not a mesh). '}
            Rows by <b>{m.rowLabel}</b>, columns by <b>{m.colLabel}</b>, window {m.window}. Hover a cell for its numbers.
          </p>
          {failed.length > 0 && (
            <ul class="bad" data-testid="matrix-failed">
              {failed.map((n) => (
                <li key={n.node}>
                  {n.node}: {n.error}
                </li>
              ))}
            </ul>
          )}
          <div class="matrix-wrap">
            <table class="matrix" data-testid="matrix">
              <thead>
                <tr>
                  <th class="corner">
                    {m.rowLabel} \ {m.colLabel}
                  </th>
                  {m.cols.map((c) => (
                    <th key={c} class="colhead" title={c}>
                      <span>{c || '(none)'}</span>
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {m.rows.map((r, ri) => (
                  <tr key={r.key}>
                    <th
                      class="rowhead"
                      title={`nodes: ${r.nodes.join(', ')}${r.missing.length ? `; no answer from ${r.missing.map((x) => x.node).join(', ')}` : ''}`}
                    >
                      {r.key || '(none)'}
                      {r.missing.length > 0 ? ' ⚠' : ''}
                    </th>
                    {m.cols.map((c, ci) => {
                      const cell = m.cells[ri][ci];
                      const bg = metric === 'loss' ? lossColor(cell?.loss ?? null) : rttColor(cell?.p99 ?? null, range.min, range.max);
                      return (
                        <td
                          key={c}
                          class="cell"
                          data-testid="matrix-cell"
                          data-row={r.key}
                          data-col={c}
                          data-loss={cell?.loss ?? ''}
                          data-p99={cell?.p99 ?? ''}
                          title={cellTitle(r.key, c, cell)}
                          style={{ background: bg }}
                        >
                          {cell === null ? '' : metric === 'loss' ? fmtLoss(cell.loss) : fmtRtt(cell.p99)}
                        </td>
                      );
                    })}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p class="legend">
            {metric === 'loss' ? (
              <>
                <span class="sw" style={{ background: lossColor(0) }} /> 0%
                <span class="sw" style={{ background: lossColor(0.005) }} /> 0.5%
                <span class="sw" style={{ background: lossColor(0.03) }} /> 3%
                <span class="sw" style={{ background: lossColor(0.2) }} /> ≥ 20%
              </>
            ) : (
              <>
                <span class="sw" style={{ background: rttColor(range.min, range.min, range.max) }} /> {fmtRtt(range.min)}
                <span class="sw" style={{ background: rttColor(range.max, range.min, range.max) }} /> {fmtRtt(range.max)}
              </>
            )}
            <span class="sw" style={{ background: lossColor(null) }} /> no probes
          </p>
        </>
      )}
    </section>
  );
}
