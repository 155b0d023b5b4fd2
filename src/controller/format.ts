/** The controller's output: one row per test, or a peer x peer matrix. Pure. */
import type { AgentOutcome } from './client.js';

const ms = (s: number | undefined | null): string => (s === undefined || s === null ? '-' : (s * 1000).toFixed(3));

function throughput(bps: number | undefined): string {
  if (bps === undefined) return '-';
  const units = ['B/s', 'KiB/s', 'MiB/s', 'GiB/s'];
  let v = bps;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return (
    rows
      .map((r) =>
        r
          .map((cell, c) => cell.padEnd(widths[c]))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** One row per outcome: loss, RTT statistics (ms), jitter, throughput; an error in place of figures. */
export function formatRows(outcomes: readonly AgentOutcome[]): string {
  const mesh = outcomes.some((o) => o.from !== undefined);
  const head = [
    ...(mesh ? ['FROM', 'TO'] : []),
    'AGENT',
    'TARGET',
    'STATE',
    'SENT',
    'RECV',
    'LOSS%',
    'MIN_MS',
    'AVG_MS',
    'MAX_MS',
    'P99_MS',
    'JITTER_MS',
    'THROUGHPUT',
  ];
  const rows = [head];
  for (const o of outcomes) {
    const lead = [...(mesh ? [o.from ?? '', o.to ?? ''] : []), o.agent];
    const t = o.test;
    if (!t) {
      rows.push([...lead, '-', 'error', ...Array(9).fill('-')]);
      continue;
    }
    const r = t.result;
    rows.push([
      ...lead,
      t.target ?? t.address,
      t.state,
      String(r?.sent ?? '-'),
      String(r?.received ?? '-'),
      r ? (r.loss_ratio * 100).toFixed(1) : '-',
      ms(r?.rtt_seconds?.min),
      ms(r?.rtt_seconds?.avg),
      ms(r?.rtt_seconds?.max),
      ms(r?.rtt_seconds?.p99),
      ms(r?.jitter_seconds),
      throughput(r?.throughput_bytes_per_second),
    ]);
  }
  let out = table(rows);
  for (const o of outcomes) {
    const why = o.error ?? o.test?.error;
    if (why) out += `${o.from !== undefined ? `${o.from} -> ${o.to}` : o.agent}: ${why}\n`;
  }
  return out;
}

/** Mesh: rows are the testing peer, columns the tested one; a cell is "loss% / avg ms". */
export function formatMatrix(peers: readonly string[], outcomes: readonly AgentOutcome[]): string {
  const cell = (from: string, to: string): string => {
    if (from === to) return '.';
    const o = outcomes.find((x) => x.from === from && x.to === to);
    const r = o?.test?.result;
    if (!o || !r) return 'error';
    return `${(r.loss_ratio * 100).toFixed(1)}% / ${ms(r.rtt_seconds?.avg)}`;
  };
  const rows = [['FROM \\ TO', ...peers], ...peers.map((f) => [f, ...peers.map((t) => cell(f, t))])];
  return `loss% / avg RTT ms\n${table(rows)}`;
}
