/**
 * The web console's goals, measured against the real exporter with Debian's chromium
 * (playwright-core), on loopback:
 *
 *   - first load: from navigation to the overview showing the number of targets, and
 *     to the Targets table showing every row with its numbers (fresh browser context
 *     each time: nothing cached);
 *   - the Targets table's filter: from the input event to the table showing the
 *     filtered rows (two animation frames later), and the filtering itself
 *     (performance.measure 'fleetprobe:filter' in the page);
 *   - the exporter's CPU (whole process, all threads, /proc/PID/stat) with no console
 *     open, then with one page open on each view, then with none again; each view's
 *     figure is compared with the mean of the two idle windows.
 *
 *   npm run bench:console                                  # 10,000 ICMP targets, interval 1s, 30 s windows
 *   npm run bench:console -- --targets 100000 --interval 10s --window 30s
 *
 * Every target is in 127.0.0.0/8; every phase is bounded; children are killed on any
 * exit. Figures are printed, never asserted. The browser runs on the same machine and
 * competes for the same cores (as it would for an operator on the box).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { installChildCleanup, sleep, stopChild } from './child-processes.js';
import { exporterConfig, freePort, startExporter, writeJson } from './exporter-process.js';
import { consoleFleet, consoleTargetName } from './console-fleet.js';
import { cpuModel, cpuSeconds, loadAverage1m } from './proc-stats.js';
import { parseDuration } from '../src/values/duration.js';
import { launchChromium, openPage } from '../test/helpers/browser.js';

const log = (m: string): void => void process.stderr.write(`${m}\n`);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** The page's document, for the functions run in the browser (compiled without the DOM lib). */
declare const performance: { now(): number; getEntriesByType(t: string): { name: string }[]; getEntriesByName(n: string): { duration: number }[] };
declare const document: {
  querySelector(sel: string): ({ textContent: string | null; value: string; dispatchEvent(e: unknown): boolean } & object) | null;
};
declare const Event: new (type: string, init?: { bubbles?: boolean }) => unknown;
declare function requestAnimationFrame(cb: () => void): void;
declare const HTMLInputElement: { prototype: object };

async function cpuPercent(pid: number, windowMs: number): Promise<number> {
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  await sleep(windowMs);
  return ((cpuSeconds(pid) - c0) / ((performance.now() - t0) / 1000)) * 100;
}

/** Type `q` into the search box; ms from the input event to two frames after (the rows are painted). */
async function timedFilter(page: Page, q: string): Promise<number> {
  return page.evaluate(async (query) => {
    const input = document.querySelector('input[type=search]')!;
    // eslint-disable-next-line @typescript-eslint/unbound-method -- the native setter, called with call(input) below (what React/Preact inputs need)
    const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
    const t0 = performance.now();
    setter.call(input, query);
    input.dispatchEvent(new Event('input', { bubbles: true }));
    await new Promise<void>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r())));
    return performance.now() - t0;
  }, q);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      targets: { type: 'string', default: '10000' },
      interval: { type: 'string', default: '1s' },
      window: { type: 'string', default: '30s' },
      runs: { type: 'string', default: '5' },
      workers: { type: 'string' },
    },
  });
  const n = Number(values.targets);
  const windowMs = parseDuration(values.window);
  const runs = Number(values.runs);
  if (!Number.isInteger(n) || n < 10 || n > 200_000) throw new Error(`--targets must be 10..200000, got ${values.targets}`);
  if (!(windowMs >= 5000 && windowMs <= 600_000)) throw new Error('--window must be 5s..10m');
  installChildCleanup(log);
  const dir = mkdtempSync(join(tmpdir(), 'fp-console-bench-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const targetsFile = writeJson(dir, 'targets.json', consoleFleet(n));
  const port = await freePort();
  const cfg = exporterConfig({
    webPort: port,
    intervalMs: parseDuration(values.interval),
    timeoutMs: 1000,
    targetsFile,
    workers: values.workers ? Number(values.workers) : undefined,
  });
  const exp = await startExporter('exporter', 'run', writeJson(dir, 'config.json', cfg), port, 120_000);
  const url = exp.baseUrl;
  const fmt = n.toLocaleString('en-US');
  log(`exporter up with ${fmt} targets (interval ${values.interval}); warming up 10 s`);
  await sleep(10_000);

  const b = await launchChromium();
  try {
    // First loads, each in a fresh context (cold cache).
    const overviewMs: number[] = [];
    const targetsMs: number[] = [];
    const parts = { page: [] as number[], api: [] as number[] };
    for (let i = 0; i < runs; i++) {
      const w = await openPage(b.browser);
      let t0 = performance.now();
      await w.page.goto(`${url}/`);
      await w.page.waitForFunction((total) => document.querySelector('[data-testid=targets-total]')?.textContent === total, fmt, { timeout: 60_000 });
      overviewMs.push(performance.now() - t0);
      // Where the time went: the page and its script loaded and run (DOMContentLoaded), and the overview's API answer.
      const p = await w.page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0] as unknown as { domContentLoadedEventEnd: number };
        const api = performance.getEntriesByType('resource').find((e) => e.name.includes('api/v1/console/overview')) as unknown as
          { duration: number } | undefined;
        return { page: nav.domContentLoadedEventEnd, api: api?.duration ?? NaN };
      });
      parts.page.push(p.page);
      parts.api.push(p.api);
      await w.page.context().close();
      const w2 = await openPage(b.browser);
      t0 = performance.now();
      await w2.page.goto(`${url}/#/targets`);
      await w2.page.waitForFunction((c) => document.querySelector('[data-testid=targets-count]')?.textContent === c, `${fmt} of ${fmt} targets`, {
        timeout: 60_000,
      });
      await w2.page.waitForFunction(() => !document.querySelector('[data-testid=target-row] .num')?.textContent?.includes('…'), undefined, { timeout: 60_000 });
      targetsMs.push(performance.now() - t0);
      if (w.errors.length + w2.errors.length > 0) log(`page errors: ${[...w.errors, ...w2.errors].join('; ')}`);
      await w2.page.context().close();
    }

    // Filtering the table.
    const w = await openPage(b.browser);
    await w.page.goto(`${url}/#/targets`);
    await w.page.waitForFunction((c) => document.querySelector('[data-testid=targets-count]')?.textContent === c, `${fmt} of ${fmt} targets`, {
      timeout: 60_000,
    });
    const queries = [consoleTargetName(Math.floor(n / 2)), 'rack=r3', '127.0.1.', consoleTargetName(Math.floor(n / 3)).slice(0, 4), ''];
    const filterRows: string[] = [];
    for (const q of queries) {
      const ms: number[] = [];
      let rows = '';
      for (let i = 0; i < runs; i++) {
        ms.push(await timedFilter(w.page, q));
        rows = await w.page.evaluate(() => document.querySelector('[data-testid=targets-count]')?.textContent ?? '');
        await timedFilter(w.page, q === '' ? 'rack=r1' : ''); // back to another filter, so the next run changes something
      }
      filterRows.push(`    "${q}" → ${rows}: input to paint median ${median(ms).toFixed(1)} ms, max ${Math.max(...ms).toFixed(1)} ms`);
    }
    const measures = await w.page.evaluate(() => performance.getEntriesByName('fleetprobe:filter').map((e) => e.duration));
    await w.page.context().close();

    // The exporter's CPU: idle, each view open, idle again.
    const cpu: [string, number][] = [];
    log(`CPU windows of ${values.window}: idle, overview, targets, target, matrix, idle`);
    cpu.push(['no console', await cpuPercent(exp.child.pid, windowMs)]);
    for (const [view, hash] of [
      ['Overview', '#/'],
      ['Targets', '#/targets'],
      ['target detail', `#/target/${consoleTargetName(1)}`],
      ['Matrix (rack × rack)', '#/matrix?rows=prober&cols=rack'],
    ] as const) {
      const p = await openPage(b.browser);
      await p.page.goto(`${url}/${hash}`);
      await sleep(3000);
      cpu.push([view, await cpuPercent(exp.child.pid, windowMs)]);
      if (p.errors.length) log(`page errors on ${view}: ${p.errors.join('; ')}`);
      await p.page.context().close();
    }
    cpu.push(['no console (again)', await cpuPercent(exp.child.pid, windowMs)]);
    const idle = (cpu[0][1] + cpu[cpu.length - 1][1]) / 2;

    console.log(
      `console benchmark: ${fmt} ICMP targets on loopback, interval ${values.interval}; ${cpuModel()}, Node ${process.version}, load average ${loadAverage1m()}`,
    );
    console.log(
      `  first load, overview showing ${fmt} targets: median ${median(overviewMs).toFixed(0)} ms, max ${Math.max(...overviewMs).toFixed(0)} ms (${runs} cold loads;` +
        ` page and script loaded by ${median(parts.page).toFixed(0)} ms, the overview API answered in ${median(parts.api).toFixed(0)} ms, medians)`,
    );
    console.log(`  first load, Targets table with every row's numbers: median ${median(targetsMs).toFixed(0)} ms, max ${Math.max(...targetsMs).toFixed(0)} ms`);
    console.log(`  filter over ${fmt} rows (${runs} times each):`);
    for (const r of filterRows) console.log(r);
    console.log(
      `    filtering alone (performance.measure): median ${median(measures).toFixed(1)} ms, max ${Math.max(...measures).toFixed(1)} ms over ${measures.length}`,
    );
    console.log(`  exporter CPU (% of one core, ${values.window} windows):`);
    for (const [what, pct] of cpu)
      console.log(
        `    ${what}: ${pct.toFixed(1)}%${what.startsWith('no console') ? '' : ` (${pct - idle >= 0 ? '+' : ''}${(pct - idle).toFixed(1)} vs idle mean ${idle.toFixed(1)})`}`,
      );
  } finally {
    await b.close();
    await stopChild(exp.child);
  }
}

await main();
