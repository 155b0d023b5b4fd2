/**
 * metrics.series_labels A/B on one real exporter: N icmp targets on loopback
 * (127.x addresses only), one process switched between `full` and `compact` by
 * SIGHUP, rounds of full then compact. Per mode and round it prints, with curl as the
 * client: the bytes and the median time of `scrapes` scrapes in text, text + gzip and
 * protobuf, and the exporter's CPU per scrape (utime + stime of the whole process over
 * the scrapes, less its idle probing rate measured just before). Figures are printed,
 * never asserted; everything is bounded (rounds × scrapes) and the exporter is stopped.
 *
 *   node dist/load-tests/series-labels-ab.js [--targets 10000] [--rounds 3] [--scrapes 9]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installChildCleanup, sleep, stopChild } from './child-processes.js';
import { freePort, startExporter, writeJson } from './exporter-process.js';
import { curlTimed } from './http-client.js';
import { loopbackAddress } from './loopback-fleet.js';
import { cpuSeconds, loadAverage1m } from './proc-stats.js';
import { percentile } from './quantiles.js';
import { SERIES_LABELS, type SeriesLabels } from '../src/aggregate/label-arena.js';

const PROTOBUF_ACCEPT = 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;q=0.3';
const FORMATS: Record<string, string[]> = {
  text: [],
  gzip: ['-H', 'Accept-Encoding: gzip'],
  protobuf: ['-H', `Accept: ${PROTOBUF_ACCEPT}`],
};

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i < 0 ? dflt : Number(process.argv[i + 1]);
  if (!(Number.isInteger(v) && v > 0)) throw new Error(`--${name} must be a positive integer`);
  return v;
}

async function main(): Promise<void> {
  const targets = arg('targets', 10_000);
  const rounds = arg('rounds', 3);
  const scrapes = arg('scrapes', 9);
  const dir = mkdtempSync(join(tmpdir(), 'fp-series-labels-ab-'));
  installChildCleanup((m) => console.error(m));
  const port = await freePort();
  const config = (mode: SeriesLabels): string =>
    writeJson(dir, 'config.json', {
      log: { level: 'warn' },
      web: { listen_address: `127.0.0.1:${port}` },
      metrics: { series_labels: mode },
      probe_defaults: { interval: '1s', timeout: '1s' },
      // Names and labels of a plausible fleet: the label bytes are what the modes differ in.
      targets: Array.from({ length: targets }, (_, i) => ({
        name: `host-${i}.dc${i % 7}.example.internal`,
        address: loopbackAddress(i),
        labels: { region: `eu-${i % 3}`, rack: `r${i % 40}` },
      })),
    });
  const exp = await startExporter('exporter', 'run', config('full'), port, 60_000);
  const pid = exp.child.proc.pid!;
  const url = `${exp.baseUrl}/metrics`;
  try {
    await sleep(8000); // every target probed a few times: histograms filled
    console.log(`${targets} icmp targets, ${rounds} rounds of full then compact, ${scrapes} scrapes each (curl); load average ${loadAverage1m().toFixed(1)}`);
    for (let round = 1; round <= rounds; round++) {
      for (const mode of SERIES_LABELS) {
        config(mode);
        exp.child.proc.kill('SIGHUP');
        await sleep(3000);
        const parts: string[] = [];
        for (const [format, extra] of Object.entries(FORMATS)) {
          const c0 = cpuSeconds(pid);
          const t0 = performance.now();
          await sleep(3000);
          const idle = (cpuSeconds(pid) - c0) / ((performance.now() - t0) / 1000);
          const c1 = cpuSeconds(pid);
          const t1 = performance.now();
          const results = [];
          for (let i = 0; i < scrapes; i++) results.push(await curlTimed(url, extra));
          const cpu = (cpuSeconds(pid) - c1 - idle * ((performance.now() - t1) / 1000)) / scrapes;
          const ms = percentile(
            results.map((r) => r.seconds * 1000),
            0.5,
          );
          parts.push(`${format} ${(results.at(-1)!.bytes / 1e6).toFixed(2)} MB, median ${ms.toFixed(0)} ms, CPU ${(cpu * 1000).toFixed(0)} ms/scrape`);
        }
        console.log(`round ${round} ${mode.padEnd(7)}: ${parts.join('; ')}`);
      }
    }
    console.log(`load average at the end ${loadAverage1m().toFixed(1)}`);
  } finally {
    await stopChild(exp.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
