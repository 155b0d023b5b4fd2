// Memory of every thread of a running fleetprobe, for measuring (README "Memory at scale"):
// preloaded with `node --import`, every 5 s each thread (main and workers: --import
// applies to worker threads too) appends its heap figures to $MEMPROBE_DIR/memlog.jsonl;
// touching $MEMPROBE_DIR/snap-<threadId> writes that thread's heap snapshot there.
import v8 from 'node:v8';
import { appendFileSync, existsSync, unlinkSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
const dir = process.env.MEMPROBE_DIR;
if (dir) {
  const t = setInterval(() => {
    const h = v8.getHeapStatistics();
    const m = process.memoryUsage();
    const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, Math.round(s.space_used_size / 1e5) / 10]));
    const rec = {
      t: Date.now(),
      threadId,
      used: Math.round(h.used_heap_size / 1e5) / 10,
      total: Math.round(h.total_heap_size / 1e5) / 10,
      external: Math.round(h.external_memory / 1e5) / 10,
      ab: Math.round(m.arrayBuffers / 1e5) / 10,
      rss: Math.round(m.rss / 1e5) / 10,
      spaces,
    };
    appendFileSync(`${dir}/memlog.jsonl`, JSON.stringify(rec) + '\n');
    const f = `${dir}/snap-${threadId}`;
    if (existsSync(f)) {
      unlinkSync(f);
      v8.writeHeapSnapshot(`${dir}/heap-${threadId}.heapsnapshot`);
    }
  }, 5000);
  t.unref();
}
