/**
 * A table that renders only the rows in view (plus a few either side), so 100,000
 * rows scroll as smoothly as 100: fixed row height, one scroll container, rows
 * positioned inside a spacer as tall as all rows together.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

export interface VirtualTableProps {
  rows: Uint32Array;
  rowHeight: number;
  header: ComponentChildren;
  renderRow: (row: number, position: number) => ComponentChildren;
  overscan?: number;
}

export function VirtualTable(p: VirtualTableProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  useEffect(() => {
    const el = scroller.current!;
    const ro = new ResizeObserver(() => setViewport(el.clientHeight));
    ro.observe(el);
    setViewport(el.clientHeight);
    return () => ro.disconnect();
  }, []);
  // A shorter list than the scroll position (after filtering): back to the top.
  useEffect(() => {
    const el = scroller.current!;
    if (el.scrollTop > p.rows.length * p.rowHeight) {
      el.scrollTop = 0;
      setScrollTop(0);
    }
  }, [p.rows, p.rowHeight]);
  const over = p.overscan ?? 8;
  const first = Math.max(0, Math.floor(scrollTop / p.rowHeight) - over);
  const last = Math.min(p.rows.length, Math.ceil((scrollTop + viewport) / p.rowHeight) + over);
  const items = [];
  for (let k = first; k < last; k++) items.push(p.renderRow(p.rows[k], k));
  return (
    <div class="vtable">
      <div class="vhead">{p.header}</div>
      <div class="vscroll" ref={scroller} onScroll={(e) => setScrollTop((e.currentTarget as HTMLDivElement).scrollTop)}>
        <div class="vspacer" style={{ height: `${p.rows.length * p.rowHeight}px` }}>
          <div class="vrows" style={{ transform: `translateY(${first * p.rowHeight}px)` }}>
            {items}
          </div>
        </div>
      </div>
    </div>
  );
}
