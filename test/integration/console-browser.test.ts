/**
 * The web console in a real browser: Debian's chromium driven by playwright-core,
 * against the real exporter (a child process) probing real targets.
 *
 *  1. 10,000 ICMP targets on loopback: every view loads with no console error and no
 *     uncaught exception; the overview shows 10,000 targets; the search box narrows
 *     the 10,000 rows to the one typed (and to a rack with rack=r3); a target's graph
 *     updates live (its open period moves every second, and closed periods are
 *     added); the on-demand test button is disabled while the server has no tests
 *     API.
 *  2. In a network namespace this test creates, with an nft rule dropping half of the
 *     echo requests toward group b's addresses: the exporter and chromium both run
 *     inside it, and the matrix (rows: the prober, columns: group) shows that loss in
 *     group b's cell (within 5 sigma of 50%) and none in groups a and c.
 *  3. A mesh of three nodes in that namespace (same web port, 127.0.0.1/2/3), with
 *     half of the echo requests toward node-c dropped: node-a's matrix holds every
 *     node's row, fetched through the peers' APIs, and shows the loss into node-c
 *     from node-a and from node-b only.
 *
 * Screenshots of each view go to test-artifacts/console/<run>/ (printed). Needs root
 * (raw ICMP sockets, namespaces), ip, nft and /usr/bin/chromium.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ExporterProcess, NEEDS_ROOT, tempDir, waitFor } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';
import { createNetns, netnsUnavailable, type Netns } from '../helpers/netns.js';
import { artifactsDir, chromiumUnavailable, launchChromium, openPage, type LaunchedBrowser, type WatchedPage } from '../helpers/browser.js';
import { consoleFleet, consoleTargetName } from '../../load-tests/console-fleet.js';

/** The page's document, as far as the functions run in the browser use it (the test compiles without the DOM lib). */
declare const document: {
  querySelector(sel: string): { textContent: string | null; getAttribute(name: string): string | null; getBoundingClientRect(): { bottom: number } } | null;
  querySelectorAll(sel: string): { length: number };
};

const SKIP = NEEDS_ROOT || chromiumUnavailable();
const SKIP_NS = SKIP || netnsUnavailable(['ip', 'nft']);
const FLEET = 10_000;
const SHOTS = artifactsDir(`run-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);

const dirs: { cleanup(): void }[] = [];
const exporters: ExporterProcess[] = [];
const browsers: LaunchedBrowser[] = [];
const namespaces: Netns[] = [];
after(async () => {
  for (const b of browsers) await b.close();
  for (const e of exporters) await e.stop();
  for (const n of namespaces) n.destroy();
  for (const d of dirs) d.cleanup();
});
before(() => {
  if (!SKIP) console.log(`# console screenshots: ${SHOTS}`);
});

/** The page down to the bottom of the view (no empty space below it), at most the viewport. */
async function shot(page: Page, name: string): Promise<void> {
  const bottom = await page.evaluate(() => document.querySelector('main > section')?.getBoundingClientRect().bottom ?? 900);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), clip: { x: 0, y: 0, width: 1400, height: Math.min(900, Math.ceil(bottom) + 16) } });
}

function noErrors(w: WatchedPage, where: string): void {
  assert.deepEqual(w.errors, [], `console errors ${where}`);
}

const attr = (page: Page, sel: string, name: string) => page.locator(sel).first().getAttribute(name);

test("10,000 targets: the views load without errors, search narrows to one row, a target's graph updates live", { skip: SKIP, timeout: 240_000 }, async () => {
  const dir = tempDir('fp-console-browser');
  dirs.push(dir);
  const targets = dir.file('targets.json', consoleFleet(FLEET));
  const port = await freePort();
  const cfg = dir.file('c.yaml', {
    workers: 2,
    log: { level: 'warn' },
    target_files: [targets],
    probe_defaults: { interval: '1s', timeout: '1s' },
    history: { retention: '5m', resolution: '2s' },
  });
  const exp = new ExporterProcess(['run', '--config', cfg, '--web.listen-address', `127.0.0.1:${port}`], `127.0.0.1:${port}`);
  exporters.push(exp);
  await exp.waitReady(60_000);
  const b = await launchChromium();
  browsers.push(b);
  const w = await openPage(b.browser);
  const { page } = w;

  // Overview: the configured number of targets.
  await page.goto(`${exp.url}/`);
  await page.getByRole('link', { name: 'Overview' }).waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid=targets-total]')?.textContent === '10,000', undefined, { timeout: 30_000 });
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=fleet-rtt-chart]')?.getAttribute('data-points')) >= 2, undefined, {
    timeout: 30_000,
  });
  assert.match((await page.locator('[data-testid=by-state]').textContent()) ?? '', /ok\s*10,000/);
  noErrors(w, 'on the overview');

  // Targets: 10,000 rows, only the visible ones in the DOM; the search box narrows them.
  await page.getByRole('link', { name: 'Targets' }).click();
  await page.waitForFunction(() => document.querySelector('[data-testid=targets-count]')?.textContent === '10,000 of 10,000 targets', undefined, {
    timeout: 30_000,
  });
  const rendered = await page.locator('[data-testid=target-row]').count();
  assert.ok(rendered > 10 && rendered < 200, `only visible rows are rendered (${rendered})`);
  await page.waitForFunction(() => !document.querySelector('[data-testid=target-row] .num')?.textContent?.includes('…'), undefined, { timeout: 15_000 });
  await shot(page, 'targets');
  const name = consoleTargetName(4242);
  const search = page.locator('input[type=search]');
  await search.fill(name);
  await page.waitForFunction(() => document.querySelector('[data-testid=targets-count]')?.textContent === '1 of 10,000 targets');
  assert.deepEqual(await page.locator('[data-testid=target-row] .name').allTextContents(), [name]);
  await search.fill('rack=r3');
  await page.waitForFunction(() => document.querySelector('[data-testid=targets-count]')?.textContent === '1,000 of 10,000 targets');
  await search.fill(`rack=r3 ${name.slice(0, 4)}`); // h042…: 100 names, 10 of them in rack r3
  await page.waitForFunction(() => document.querySelector('[data-testid=targets-count]')?.textContent === '10 of 10,000 targets');
  await search.fill('127.0.1.2'); // an address
  await page.waitForFunction(() => /^\d+ of 10,000 targets$/.test(document.querySelector('[data-testid=targets-count]')?.textContent ?? ''));
  const byAddress = await page.locator('[data-testid=target-row] .mono').allTextContents();
  assert.ok(byAddress.length >= 1 && byAddress.every((a) => a.includes('127.0.1.2')), byAddress.join(','));
  const filterMs = await page.evaluate(() => performance.getEntriesByName('fleetprobe:filter').map((e) => e.duration));
  console.log(`# filter over 10,000 rows: ${filterMs.map((d) => d.toFixed(1)).join(', ')} ms (measured, not asserted)`);
  // Sorting by loss (descending) keeps every row.
  await search.fill('');
  await page.locator('button[data-sort=loss]').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=targets-count]')?.textContent === '10,000 of 10,000 targets');
  noErrors(w, 'on the targets table');

  // Target detail: the graph moves while we watch (the open period every second; closed periods are added).
  await search.fill(name);
  await page.waitForFunction(() => document.querySelector('[data-testid=targets-count]')?.textContent === '1 of 10,000 targets');
  await page.locator('[data-testid=target-row]').first().click();
  await page.waitForFunction((n) => document.querySelector('[data-testid=target-name]')?.textContent === n, name);
  const chart = '[data-testid=target-rtt-chart]';
  await page.waitForFunction((sel) => Number(document.querySelector(sel)?.getAttribute('data-points')) >= 2, chart, { timeout: 20_000 });
  const points0 = Number(await attr(page, chart, 'data-points'));
  const last0 = Number(await attr(page, chart, 'data-last-x'));
  await page.waitForFunction(
    ([sel, p, x]) =>
      Number(document.querySelector(sel)?.getAttribute('data-points')) > p && Number(document.querySelector(sel)?.getAttribute('data-last-x')) > x,
    [chart, points0, last0] as const,
    { timeout: 15_000 },
  );
  assert.match((await page.locator('[data-testid=totals]').textContent()) ?? '', /sent\s*\d/);
  // The on-demand test button runs a test through POST /api/v1/tests (the exporter is on
  // loopback with no token, so a change is allowed) and shows its result.
  const run = page.locator('[data-testid=run-test]');
  await page.waitForFunction(() => document.querySelector('[data-testid=run-test]')?.getAttribute('disabled') === null, undefined, { timeout: 15_000 });
  await run.click();
  await page.waitForFunction(() => /state\s*done/.test(document.querySelector('[data-testid=test-result]')?.textContent ?? ''), undefined, { timeout: 60_000 });
  const result = (await page.locator('[data-testid=test-result]').textContent()) ?? '';
  assert.match(result, /sent \/ received\s*10 \/ 10 \(loss 0/, result);
  assert.match(result, /RTT p50 \/ p90 \/ p99/);
  await shot(page, 'target');
  noErrors(w, 'on the target detail');

  // The matrix of this (single) node by rack.
  await page.goto(`${exp.url}/#/matrix?rows=prober&cols=rack`);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=matrix-cell]').length === 10, undefined, { timeout: 20_000 });
  const losses = await page.locator('[data-testid=matrix-cell]').evaluateAll((els) => els.map((e) => e.getAttribute('data-loss')));
  assert.deepEqual(losses, new Array(10).fill('0'), 'no loss on loopback');
  noErrors(w, 'on the matrix');
  // Back to the overview, with more history behind it, for its screenshot.
  await page.getByRole('link', { name: 'Overview' }).click();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=fleet-rtt-chart]')?.getAttribute('data-points')) >= 10, undefined, {
    timeout: 30_000,
  });
  await shot(page, 'overview');
  noErrors(w, 'on the overview, again');
});

/** Three groups of loopback addresses in the namespace; the input hook drops half of group b's echo requests. */
const GROUPS = { a: '127.0.1', b: '127.0.2', c: '127.0.3' } as const;
const PER_GROUP = 8;
const DROP_RULESET = `
table inet fpconsole {
  chain in {
    type filter hook input priority 0; policy accept;
    ip daddr ${GROUPS.b}.0/24 icmp type echo-request numgen random mod 2 == 0 drop
    ip daddr 127.0.0.3 icmp type echo-request numgen random mod 2 == 0 drop
  }
}
`;

test(
  "in a namespace with nft dropping half toward group b, the matrix shows that loss in b's cell and none elsewhere; a mesh shows every node's row",
  { skip: SKIP_NS, timeout: 240_000 },
  async () => {
    const ns = createNetns(`fpcons${process.pid}`);
    namespaces.push(ns);
    ns.nft(DROP_RULESET);
    const dir = tempDir('fp-console-netns');
    dirs.push(dir);
    const targets = Object.entries(GROUPS).flatMap(([g, net]) =>
      Array.from({ length: PER_GROUP }, (_, i) => ({ name: `${g}${i}`, address: `${net}.${i + 1}`, labels: { group: g } })),
    );
    const cfg = dir.file('groups.yaml', {
      workers: 1,
      log: { level: 'warn' },
      probe_defaults: { interval: '50ms', timeout: '200ms' },
      history: { retention: '5m', resolution: '1s' },
      targets,
    });
    const exp = new ExporterProcess(['run', '--config', cfg, '--web.listen-address', '127.0.0.1:9798'], '127.0.0.1:9798', { netns: ns.name });
    exporters.push(exp);
    await exp.waitReady(30_000);
    const b = await launchChromium({ netns: ns.name });
    browsers.push(b);
    const w = await openPage(b.browser);
    const { page } = w;
    await page.goto(`${exp.url}/#/matrix?rows=prober&cols=group&window=5m`);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=matrix-cell]').length === 3, undefined, { timeout: 20_000 });
    // ~1,600 probes into group b: 5 sigma of a binomial share of 0.5 is 6.3 percentage points.
    const probes = async () => {
      const r = await exp.request('/api/v1/console/matrix?rows=prober&cols=group&window=5m');
      const m = JSON.parse(r.text()) as { cells: { answered: number; lost: number }[][] };
      return m.cells[0][1].answered + m.cells[0][1].lost;
    };
    await waitFor('1,600 probes into group b', async () => (await probes()) >= 1600, 60_000, 500);
    await page.waitForTimeout(2500); // one more poll of the page
    const cells = await page
      .locator('[data-testid=matrix-cell]')
      .evaluateAll((els) => els.map((e) => ({ col: e.getAttribute('data-col'), loss: Number(e.getAttribute('data-loss')), title: e.getAttribute('title') })));
    assert.deepEqual(
      cells.map((c) => c.col),
      ['a', 'b', 'c'],
    );
    const n = await probes();
    const sigma5 = 5 * Math.sqrt(0.25 / n);
    assert.equal(cells[0].loss, 0, 'group a: no loss');
    assert.equal(cells[2].loss, 0, 'group c: no loss');
    assert.ok(Math.abs(cells[1].loss - 0.5) < sigma5, `group b loss ${cells[1].loss} within ${sigma5.toFixed(3)} of 0.5`);
    assert.match(cells[1].title ?? '', /loss \d+(\.\d)?% \(\d[\d,]* lost of \d[\d,]*\)/, 'the numbers on hover');
    await page.locator('[data-testid=matrix-cell][data-col=b]').hover();
    await shot(page, 'matrix');
    await page.goto(`${exp.url}/#/matrix?rows=prober&cols=group&window=5m&metric=p99`);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=matrix-cell]').length === 3);
    noErrors(w, 'on the matrix');
    // Leave the page before its exporter goes (a page polling a stopped server logs refused connections).
    await page.goto('about:blank');
    await exp.stop();

    // A mesh of three nodes on the namespace's loopback, every one serving its API on the same port.
    const peers = dir.file('peers.json', [
      { name: 'node-a', address: '127.0.0.1', labels: { rack: 'r1' } },
      { name: 'node-b', address: '127.0.0.2', labels: { rack: 'r1' } },
      { name: 'node-c', address: '127.0.0.3', labels: { rack: 'r2' } },
    ]);
    const meshCfg = dir.file('mesh.yaml', {
      workers: 1,
      log: { level: 'warn' },
      probe_defaults: { interval: '50ms', timeout: '200ms' },
      history: { retention: '5m', resolution: '1s' },
      mesh: { peers_file: peers, kinds: ['icmp'] },
    });
    const nodes = ['a', 'b', 'c'].map((x, i) => {
      const host = `127.0.0.${i + 1}`;
      const e = new ExporterProcess(['run', '--config', meshCfg, '--mesh.name', `node-${x}`, '--web.listen-address', `${host}:9798`], `${host}:9798`, {
        netns: ns.name,
      });
      exporters.push(e);
      return e;
    });
    await Promise.all(nodes.map((e) => e.waitReady(30_000)));
    await waitFor(
      'node-a and node-b to send 800 probes to node-c',
      async () => {
        const m = JSON.parse((await nodes[0].request('/api/v1/console/matrix?rows=prober&cols=peer&window=5m')).text()) as {
          rows: { key: string }[];
          cols: string[];
          cells: ({ answered: number; lost: number } | null)[][];
        };
        const c = m.cols.indexOf('node-c');
        return m.rows.length === 3 && [0, 1].every((r) => (m.cells[r][c]?.answered ?? 0) + (m.cells[r][c]?.lost ?? 0) >= 800);
      },
      60_000,
      500,
    );
    await page.goto(`${nodes[0].url}/#/matrix?rows=prober&cols=peer&window=5m`);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=matrix-cell]').length === 9, undefined, { timeout: 20_000 });
    await page.waitForTimeout(2500);
    const mesh = await page
      .locator('[data-testid=matrix-cell]')
      .evaluateAll((els) => els.map((e) => [e.getAttribute('data-row'), e.getAttribute('data-col'), e.getAttribute('data-loss')]));
    const lossOf = (row: string, col: string) => mesh.find(([r, c]) => r === row && c === col)?.[2];
    assert.equal(lossOf('node-a', 'node-a'), '', 'a node does not probe itself');
    for (const [from, to] of [
      ['node-a', 'node-b'],
      ['node-b', 'node-a'],
      ['node-c', 'node-a'],
      ['node-c', 'node-b'],
    ])
      assert.equal(lossOf(from, to), '0', `${from} → ${to}`);
    for (const from of ['node-a', 'node-b']) {
      const l = Number(lossOf(from, 'node-c'));
      assert.ok(Math.abs(l - 0.5) < 5 * Math.sqrt(0.25 / 800), `${from} → node-c loss ${l}`);
    }
    assert.match((await page.locator('.note').first().textContent()) ?? '', /Mesh: 3 nodes \(3 answered\)/);
    await shot(page, 'matrix-mesh');
    // By rack: node-a and node-b (r1) add up.
    await page.goto(`${nodes[0].url}/#/matrix?rows=rack&cols=rack&window=5m`);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=matrix-cell]').length === 4, undefined, { timeout: 20_000 });
    noErrors(w, 'on the mesh matrix');
  },
);
