/**
 * Targets: every target in a table that renders only the visible rows, a search box
 * (name, address or label=value) and sortable columns. The list is loaded once per
 * change of the target set; the numbers (loss, last RTT, p99) are refreshed every 1.5 s
 * as binary columns. Filtering and sorting run here, on the columns.
 */
import { useMemo, useState } from 'preact/hooks';
import { LiveStatus } from '../components/Status';
import { VirtualTable } from '../components/VirtualTable';
import { useTargets } from '../feeds';
import { filterRows, labelText, sortRows, type SortKey } from '../filter';
import { fmtInt, fmtLoss, fmtRtt } from '../format';
import { navigate } from '../router';

const COLUMNS: { key: SortKey; label: string; live?: boolean }[] = [
  { key: 'name', label: 'Name' },
  { key: 'kind', label: 'Kind' },
  { key: 'address', label: 'Address' },
  { key: 'labels', label: 'Labels' },
  { key: 'state', label: 'State' },
  { key: 'loss', label: 'Loss', live: true },
  { key: 'last', label: 'Last RTT', live: true },
  { key: 'p99', label: 'p99 (5 min)', live: true },
];
const ROW_HEIGHT = 26;

export function Targets({ initialQuery }: { initialQuery: string }) {
  const { list, live, status } = useTargets();
  const [query, setQuery] = useState(initialQuery);
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: 'name', desc: false });
  const isLiveSort = COLUMNS.find((c) => c.key === sort.key)?.live === true;

  // Sorting by a number re-sorts when the numbers change; by a name only when the list does.
  const order = useMemo(() => (list ? sortRows(list, live, sort.key, sort.desc) : new Uint32Array(0)), [list, sort, isLiveSort ? live : undefined]);
  const rows = useMemo(() => {
    if (!list) return new Uint32Array(0);
    performance.mark('fleetprobe:filter:start');
    const r = filterRows(list, order, query);
    performance.measure('fleetprobe:filter', 'fleetprobe:filter:start');
    return r;
  }, [list, order, query]);

  const header = (
    <div class="trow thead" role="row">
      {COLUMNS.map((c) => (
        <button
          key={c.key}
          type="button"
          class={`th ${sort.key === c.key ? 'sorted' : ''}`}
          data-sort={c.key}
          aria-sort={sort.key === c.key ? (sort.desc ? 'descending' : 'ascending') : 'none'}
          onClick={() => setSort((s) => ({ key: c.key, desc: s.key === c.key ? !s.desc : c.live === true }))}
        >
          {c.label}
          {sort.key === c.key ? (sort.desc ? ' ▼' : ' ▲') : ''}
        </button>
      ))}
    </div>
  );

  const renderRow = (i: number) => {
    const l = list!;
    const state = l.states[l.state[i]];
    const ok = live !== undefined && live.count === l.count;
    const loss = ok ? live.loss[i] : NaN;
    return (
      <a
        key={i}
        class={`trow state-${state}${loss > 0 ? ' lossy' : ''}`}
        role="row"
        data-testid="target-row"
        href={`#/target/${encodeURIComponent(l.names[i])}`}
        title={l.errors[i] ?? ''}
      >
        <span class="td name">{l.names[i]}</span>
        <span class="td">{l.kinds[l.kind[i]]}</span>
        <span class="td mono">{l.addresses[i]}</span>
        <span class="td labels">{labelText(l, i)}</span>
        <span class="td">{state}</span>
        <span class="td num">{ok ? fmtLoss(loss) : '…'}</span>
        <span class="td num">{ok ? fmtRtt(live.last[i]) : '…'}</span>
        <span class="td num">{ok ? fmtRtt(live.p99[i]) : '…'}</span>
      </a>
    );
  };

  return (
    <section class="view fill">
      <header class="view-head">
        <h2>Targets</h2>
        <input
          type="search"
          class="search"
          placeholder="name, address or label=value"
          aria-label="Filter targets"
          value={query}
          onInput={(e) => {
            const q = (e.currentTarget as HTMLInputElement).value;
            setQuery(q);
            navigate(q ? `#/targets?q=${encodeURIComponent(q)}` : '#/targets', true);
          }}
        />
        <span class="count" data-testid="targets-count">
          {list ? `${fmtInt(rows.length)} of ${fmtInt(list.count)} targets` : 'loading…'}
        </span>
        <LiveStatus status={status} />
      </header>
      <VirtualTable rows={rows} rowHeight={ROW_HEIGHT} header={header} renderRow={renderRow} />
    </section>
  );
}
