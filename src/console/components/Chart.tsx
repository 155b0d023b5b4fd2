/**
 * A time-series chart: a thin wrapper around uPlot (fast with many points, small, no
 * dependencies; its canvas drawing is the chart code we do not write). x in seconds.
 * The container carries data-points / data-last-x so tests can see it update.
 */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  stroke: string;
  fill?: string;
  /** Scale id (default "y"). */
  scale?: string;
  dash?: number[];
}

export interface ChartProps {
  title: string;
  series: ChartSeries[];
  /** [x seconds, ...one array per series]; null breaks the line (a gap), undefined is skipped. */
  data: (number | null | undefined)[][];
  format: (v: number) => string;
  /** A second y axis on the right for series with scale "y2". */
  format2?: (v: number) => string;
  height?: number;
  testId?: string;
  /** y from 0 to at least this (e.g. 0.01 for a loss chart that is flat at 0%); default auto. */
  yFromZeroTo?: number;
}

export function Chart(p: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = box.current!;
    const axisValues = (fmt: (v: number) => string) => (_u: uPlot, vals: number[]) => vals.map((v) => (v === null ? '' : fmt(v)));
    const opts: uPlot.Options = {
      title: p.title,
      width: Math.max(200, el.clientWidth),
      height: p.height ?? 220,
      scales: {
        x: { time: true },
        ...(p.yFromZeroTo !== undefined
          ? { y: { range: (_u: uPlot, _min: number, max: number): uPlot.Range.MinMax => [0, Math.max(p.yFromZeroTo!, (max || 0) * 1.1)] } }
          : {}),
      },
      series: [
        {},
        ...p.series.map((s) => ({
          label: s.label,
          stroke: s.stroke,
          fill: s.fill,
          width: 1.5,
          scale: s.scale ?? 'y',
          dash: s.dash,
          spanGaps: false,
          value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? '—' : (s.scale === 'y2' && p.format2 ? p.format2 : p.format)(v)),
        })),
      ],
      axes: [
        {},
        { values: axisValues(p.format), size: 70 },
        ...(p.format2 ? [{ side: 1 as const, scale: 'y2', grid: { show: false }, values: axisValues(p.format2), size: 60 }] : []),
      ],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    };
    plot.current = new uPlot(opts, p.data as uPlot.AlignedData, el);
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, el.clientWidth), height: p.height ?? 220 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // The series layout is fixed for a chart's life (only title and series count rebuild it);
    // data changes go through setData below.
  }, [p.title, p.series.length]);

  useEffect(() => {
    plot.current?.setData(p.data as uPlot.AlignedData);
  }, [p.data]);

  const xs = p.data[0] ?? [];
  return <div class="chart" ref={box} data-testid={p.testId} data-points={String(xs.length)} data-last-x={String(xs[xs.length - 1] ?? '')} />;
}
