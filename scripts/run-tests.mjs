#!/usr/bin/env node
// npm test's runner (after `npm run build`): every dist/test/**/*.test.js with Node's
// test runner, in two phases.
//
//  1. test/unit: pure logic, CPU-bound and quick; two files at a time.
//  2. test/integration, in two lanes that run side by side, each one file at a time:
//     - the "waiting" lane: the files listed in WAITING below. Each spends most of its
//       time waiting on purpose (a soak that watches RSS for minutes, loss windows
//       filling in a namespace, Prometheus scraping and evaluating, stall timeouts)
//       while using little CPU, so on a 2-core machine it costs the other lane little;
//     - the main lane: every other file, as before.
//     Run one after the other, the waiting lane alone took about 6 of the suite's 13.7
//     minutes on a 2-core machine; side by side the integration phase takes about as
//     long as the longer lane.
//
// The main lane prints as it goes; the waiting lane's report is kept and printed after
// it, so the two never interleave. Each lane ends with the runner's own totals
// ("ℹ pass N" / "# pass N"); .ci/run adds them up. Exits 1 if any phase failed.
//
// FLEETPROBE_TEST_LANES=1 runs the integration files in one lane (one file at a time,
// the order of the listing), e.g. to tell a failure caused by the overlap from others.
// Arguments: file paths or substrings to run only the matching test files.

import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist', 'test');
const t0 = performance.now();
const seconds = () => ((performance.now() - t0) / 1000).toFixed(0);

/**
 * Integration files that mostly wait (basenames, longest first so the lane starts with
 * its long pole). A file belongs here when it is long and light: its time is timers,
 * scrape and evaluation intervals or loss windows, not CPU. CPU-heavy files (the
 * browser, the abuse and scale tests) stay in the main lane, which they would
 * otherwise slow. Every name must exist (a renamed file fails the run, not silently
 * moves lanes).
 */
const WAITING = [
  'otlp-blackhole.test.js', // 150 s soak: RSS of two exporters whose collector never answers
  'group-rollups-netns.test.js', // loss windows filling inside namespaces
  'stream-slow-client.test.js', // clients that stop reading, until their stall timeouts
  'otlp-matches-metrics.test.js', // export intervals
  'otlp-exponential.test.js', // export intervals, then RTT histograms settling
  'netns-loss.test.js', // loss windows with nft-injected loss
  'prometheus-native-histograms.test.js', // Prometheus scrape and rate windows
  'web-config-tls.test.js',
  'exporter-reload.test.js',
  'exporter-file-watch.test.js', // file-watch debounce and fallback polling
  'otel-export.test.js',
  'prometheus-scrape.test.js',
  'prometheus-rules.test.js',
  'exporter-shutdown.test.js',
  'mesh.test.js',
];

function testFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...testFiles(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

/** Run node --test on `files`; resolves with its exit status and, if captured, its output. */
function runNodeTest(files, { concurrency, capture }) {
  if (files.length === 0) return Promise.resolve({ status: 0, output: '', endedAt: seconds() });
  const args = ['--test', `--test-concurrency=${concurrency}`, '--test-force-exit', ...files.map((f) => path.relative(root, f))];
  const child = spawn(process.execPath, args, { cwd: root, stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
  const chunks = [];
  if (capture) {
    child.stdout.on('data', (c) => chunks.push(c));
    child.stderr.on('data', (c) => chunks.push(c));
  }
  return new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ status: code ?? (signal ? 1 : 0), output: Buffer.concat(chunks).toString('utf8'), endedAt: seconds() }));
  });
}

const filters = process.argv.slice(2);
const selected = (f) => filters.length === 0 || filters.some((s) => f.includes(s));
const all = testFiles(dist);
const unit = all.filter((f) => f.includes(`${path.sep}unit${path.sep}`) && selected(f));
const integration = all.filter((f) => !f.includes(`${path.sep}unit${path.sep}`) && selected(f));

const missing = WAITING.filter((name) => !all.some((f) => path.basename(f) === name));
if (missing.length > 0) {
  console.error(`scripts/run-tests.mjs: WAITING names files that do not exist: ${missing.join(', ')}`);
  process.exit(1);
}

let failed = false;

console.log(`# phase 1: ${unit.length} unit test files`);
failed = (await runNodeTest(unit, { concurrency: 2, capture: false })).status !== 0 || failed;

const oneLane = process.env.FLEETPROBE_TEST_LANES === '1';
const waiting = oneLane ? [] : WAITING.map((name) => integration.find((f) => path.basename(f) === name)).filter((f) => f !== undefined);
const main = integration.filter((f) => !waiting.includes(f));
console.log(`# phase 2 at ${seconds()} s: ${main.length} integration test files in the main lane, ${waiting.length} in the waiting lane alongside`);
const waitingRun = runNodeTest(waiting, { concurrency: 1, capture: true });
const mainStatus = (await runNodeTest(main, { concurrency: 1, capture: false })).status;
console.log(`# main lane done at ${seconds()} s${mainStatus === 0 ? '' : ', and FAILED'}`);
const w = await waitingRun;
if (waiting.length > 0) {
  console.log(`# the waiting lane (${waiting.map((f) => path.basename(f)).join(', ')}), done at ${w.endedAt} s${w.status === 0 ? '' : ', and FAILED'}:`);
  process.stdout.write(w.output);
}
failed = failed || mainStatus !== 0 || w.status !== 0;
console.log(`# all done in ${seconds()} s${failed ? ', with failures' : ''}`);
process.exit(failed ? 1 : 0);
