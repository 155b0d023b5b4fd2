/**
 * OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION=base2_exponential_bucket_histogram
 * end to end: the real CLI (`fleetprobe run`, real worker threads probing tcp targets
 * on loopback) exports to a real OTLP receiver on 127.0.0.1 that decodes with the
 * official opentelemetry-proto schema (test/helpers/otlp-receiver.ts), over each
 * protocol, cumulative and delta.
 *
 * Comparable moments: the targets reply for a while, then their listener closes, so
 * every later probe is refused and no RTT is observed any more: the RTT histograms
 * stop moving (two scrapes apart agree), and the export collected after that is
 * compared with /metrics exactly.
 *
 * The classic buckets are configured at the scale-3 boundaries 2^(j/8) (the default
 * native schema), so every exponential bucket of the export (at scale 3, or coarser
 * if a window had to coarsen) has both its bounds among the classic ones, and its
 * count must equal the difference of two cumulative `le` buckets of /metrics: an
 * index off by one in either direction moves counts into a neighbouring bucket and
 * fails. Besides: count and sum equal /metrics' _count and _sum, Σ buckets +
 * zero_count = count, and the median from the exponential buckets lies within the
 * classic bucket that holds the median.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { ExporterProcess, tempDir, waitFor, type Metrics } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';
import { OtlpReceiver, TEMPORALITY_CUMULATIVE, TEMPORALITY_DELTA, type NPoint, type NRequest } from '../helpers/otlp-receiver.js';

const TARGETS = ['t0', 't1', 't2', 't3'];
const RTT = 'fleetprobe.probe.rtt';
/** 2^(j/8) from 2^−20 s (≈ 1 µs) to 2^−3 s (125 ms): 137 classic bounds on the scale-3 boundaries. */
const BOUNDS = Array.from({ length: 17 * 8 + 1 }, (_, i) => 2 ** ((i - 20 * 8) / 8));

/** An exponential histogram as absolute OTLP bucket index → count at one scale. */
interface Exp {
  scale: number;
  zero: number;
  count: number;
  sum: number;
  buckets: Map<number, number>;
}

function expOf(p: NPoint): Exp {
  assert.ok(p.scale !== undefined && p.positive !== undefined && p.count !== undefined, 'an exponential histogram point');
  assert.deepEqual(p.negative?.counts ?? [], [], 'no negative buckets');
  const buckets = new Map<number, number>();
  p.positive.counts.forEach((c, j) => {
    if (c !== 0) buckets.set(p.positive!.offset + j, c);
  });
  return { scale: p.scale, zero: p.zeroCount ?? 0, count: p.count, sum: p.sum ?? 0, buckets };
}

/** Several deltas added up at the coarsest scale among them (OTLP: bucket k → floor(k / 2) per scale step). */
function addUp(deltas: readonly Exp[]): Exp {
  const scale = Math.min(...deltas.map((d) => d.scale));
  const out: Exp = { scale, zero: 0, count: 0, sum: 0, buckets: new Map() };
  for (const d of deltas) {
    out.zero += d.zero;
    out.count += d.count;
    out.sum += d.sum;
    for (const [k, c] of d.buckets) {
      const j = Math.floor(k / 2 ** (d.scale - scale));
      out.buckets.set(j, (out.buckets.get(j) ?? 0) + c);
    }
  }
  return out;
}

/** The classic RTT histogram of one target on /metrics: `le` → cumulative count, count, sum. */
function classicOf(m: Metrics, target: string): { le: Map<number, number>; count: number; sum: number } {
  const le = new Map<number, number>();
  for (const s of m.find('fleetprobe_probe_rtt_seconds_bucket', { target })) if (s.labels.le !== '+Inf') le.set(Number(s.labels.le), s.value);
  return { le, count: m.value('fleetprobe_probe_rtt_seconds_count', { target })!, sum: m.value('fleetprobe_probe_rtt_seconds_sum', { target })! };
}

/** The classic cumulative count at bound `b` (a bound equal to b within float noise), or undefined when b is not a bound. */
function cumulativeAt(le: Map<number, number>, b: number): number | undefined {
  for (const [bound, c] of le) if (Math.abs(bound - b) <= 1e-12 * b) return c;
  return undefined;
}

const RANKS = [0.1, 0.5, 0.9];

/** Every check of one target's exponential histogram against its classic one; returns the buckets compared. */
function checkTarget(target: string, e: Exp, classic: ReturnType<typeof classicOf>): number {
  const what = `${target}: ${JSON.stringify({ scale: e.scale, zero: e.zero, buckets: [...e.buckets] })}`;
  assert.ok(classic.count >= 10, `${target} has replies (${classic.count})`);
  assert.equal(e.count, classic.count, `${what}: count equals /metrics _count`);
  assert.ok(Math.abs(e.sum - classic.sum) <= 1e-9 * classic.sum, `${what}: sum ${e.sum} equals /metrics _sum ${classic.sum}`);
  let inBuckets = 0;
  for (const c of e.buckets.values()) inBuckets += c;
  assert.equal(inBuckets + e.zero, e.count, `${what}: Σ buckets + zero_count = count`);
  assert.ok(e.scale <= 3 && e.scale >= 0, `${what}: scale from the store's schema`);
  // Bucket by bucket against the classic buckets at the same boundaries.
  const base = 2 ** (2 ** -e.scale);
  let compared = 0;
  for (const [k, c] of e.buckets) {
    const lo = cumulativeAt(classic.le, base ** k);
    const hi = cumulativeAt(classic.le, base ** (k + 1));
    assert.ok(lo !== undefined && hi !== undefined, `${what}: bucket ${k} is within the configured classic bounds`);
    assert.equal(c, hi - lo, `${what}: OTLP bucket ${k} (${base ** k}, ${base ** (k + 1)}] holds ${c}, the classic buckets ${hi - lo}`);
    compared++;
  }
  // Quantiles: the exponential bucket holding the rank-th observation overlaps the classic one holding it.
  for (const q of RANKS) {
    const rank = Math.max(1, Math.ceil(q * e.count));
    let acc = e.zero;
    let expBucket: [number, number] | undefined;
    for (const k of [...e.buckets.keys()].sort((x, y) => x - y)) {
      acc += e.buckets.get(k)!;
      if (acc >= rank) {
        expBucket = [base ** k, base ** (k + 1)];
        break;
      }
    }
    const bounds = [...classic.le.keys()].sort((x, y) => x - y);
    const i = bounds.findIndex((b) => classic.le.get(b)! >= rank);
    const classicBucket = [i === 0 ? 0 : bounds[i - 1], bounds[i]];
    assert.ok(expBucket !== undefined && i >= 0, `${what}: rank ${rank} found in both`);
    // The interpolated quantile of each lies in its bucket: so they agree within the wider bucket's width.
    assert.ok(expBucket[0] < classicBucket[1] * (1 + 1e-12) && classicBucket[0] < expBucket[1] * (1 + 1e-12), `${what}: q${q} buckets overlap`);
  }
  return compared;
}

const VARIANTS = [
  { protocol: 'grpc', temporality: 'cumulative' },
  { protocol: 'http/protobuf', temporality: 'cumulative' },
  { protocol: 'http/json', temporality: 'cumulative' },
  { protocol: 'http/protobuf', temporality: 'delta' },
] as const;

for (const { protocol, temporality } of VARIANTS) {
  test(
    `${protocol}, ${temporality}: the exponential RTT histograms of the real CLI's export agree with /metrics, bucket by bucket`,
    { timeout: 120_000 },
    async (t) => {
      const receiver = new OtlpReceiver();
      const endpoint = protocol === 'grpc' ? await receiver.listenGrpc() : await receiver.listenHttp();
      t.after(() => receiver.close());
      // The targets' listener: accepts and lets the probe close.
      const listener = createServer((s) => s.on('error', () => {}).resume());
      await new Promise<void>((resolve) => listener.listen({ host: '127.0.0.1', port: 0 }, resolve));
      const targetPort = (listener.address() as { port: number }).port;
      t.after(() => new Promise<void>((resolve) => (listener.listening ? listener.close(() => resolve()) : resolve())));

      const dir = tempDir('fp-otlp-exp');
      t.after(() => dir.cleanup());
      const port = await freePort();
      const cfg = dir.file('c.yaml', {
        workers: 1,
        flush_interval: '200ms',
        log: { level: 'warn' },
        web: { listen_address: `127.0.0.1:${port}` },
        metrics: { rtt_buckets: BOUNDS },
        probe_defaults: { kind: 'tcp', interval: '100ms', timeout: '500ms' },
        targets: TARGETS.map((name) => ({ name, address: `127.0.0.1:${targetPort}` })),
      });
      const exp = new ExporterProcess(['run', '--config', cfg], `127.0.0.1:${port}`, {
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
          OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
          OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'base2_exponential_bucket_histogram',
          OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: temporality,
          OTEL_METRIC_EXPORT_INTERVAL: '300',
          OTEL_METRIC_EXPORT_TIMEOUT: '300',
        },
      });
      t.after(async () => {
        await exp.stop();
      });
      await exp.waitReady(30_000);

      // Replies for a while, then none: the listener closes and every probe is refused.
      await waitFor(
        '20 replies from every target',
        async () => {
          const m = await exp.scrape();
          return TARGETS.every((target) => (m.value('fleetprobe_probe_rtt_seconds_count', { target }) ?? 0) >= 20) || undefined;
        },
        30_000,
        200,
      );
      await new Promise<void>((resolve) => listener.close(() => resolve()));
      const frozen = await waitFor(
        'the RTT histograms to stop moving',
        async () => {
          const m1 = await exp.scrape();
          await new Promise((r) => setTimeout(r, 700));
          const m2 = await exp.scrape();
          const same = TARGETS.every(
            (target) => m1.value('fleetprobe_probe_rtt_seconds_count', { target }) === m2.value('fleetprobe_probe_rtt_seconds_count', { target }),
          );
          const refused = TARGETS.every((target) => (m2.value('fleetprobe_probe_errors_total', { target, reason: 'refused' }) ?? 0) > 0);
          return same && refused ? m2 : undefined;
        },
        20_000,
        100,
      );
      const frozenAt = BigInt(Date.now()) * 1_000_000n;
      const from = receiver.requests.length;
      const e: NRequest = await waitFor(
        'an export collected after the histograms froze',
        () => receiver.since(from).find((r) => r.decoded.metrics.some((m) => m.name === RTT && m.points.some((p) => p.time > frozenAt)))?.decoded,
        10_000,
        20,
      );
      const after = await exp.scrape();
      assert.deepEqual(receiver.decodeErrors, []);

      const rtt = e.metrics.find((m) => m.name === RTT)!;
      assert.equal(rtt.type, 'exponentialHistogram');
      assert.equal(rtt.unit, 's');
      assert.equal(rtt.temporality, temporality === 'delta' ? TEMPORALITY_DELTA : TEMPORALITY_CUMULATIVE);
      // The HTTP phases have no exponential counterpart; nothing else changes type.
      assert.ok(
        e.metrics.every((m) => m.name === RTT || m.type !== 'exponentialHistogram'),
        'only the RTT is exponential',
      );

      let compared = 0;
      for (const target of TARGETS) {
        const classic = classicOf(frozen, target);
        assert.deepEqual(classicOf(after, target), classic, `${target}: still frozen after the export`);
        let hist: Exp;
        if (temporality === 'cumulative') {
          const ps = rtt.points.filter((p) => p.attrs.target === target);
          assert.equal(ps.length, 1);
          hist = expOf(ps[0]);
        } else {
          // Every delta since the start (one request per export for this small fleet), added up.
          const upTo = receiver.requests.findIndex((r) => r.decoded === e);
          const deltas = receiver.requests
            .slice(0, upTo + 1)
            .flatMap((r) => r.decoded.metrics.filter((m) => m.name === RTT).flatMap((m) => m.points.filter((p) => p.attrs.target === target)));
          assert.ok(deltas.length >= 3, `${target}: ${deltas.length} delta points`);
          for (let i = 1; i < deltas.length; i++) assert.equal(deltas[i].start, deltas[i - 1].time, `${target}: delta intervals tile`);
          hist = addUp(deltas.map(expOf));
        }
        compared += checkTarget(target, hist, classic);
      }
      assert.ok(compared >= TARGETS.length * 2, `${compared} exponential buckets compared with classic ones`);
      t.diagnostic(`${compared} exponential buckets compared, ${receiver.requests.length} requests`);
    },
  );
}
