/**
 * Debian's chromium driven by playwright-core, for the web console's tests and
 * benchmark. Headless, with the switches that keep it off the network (no background
 * networking, component updates, sync or QUIC), and a fresh profile per launch
 * (playwright's launch() makes a new temporary user-data-dir and removes it on close).
 *
 * Inside a network namespace: chromium is started through a small wrapper that runs
 * it under `ip netns exec NS` (which execs, keeping the pipe playwright talks on), so
 * the browser reaches an exporter on that namespace's loopback and nothing else.
 *
 * Every page records console errors and uncaught exceptions, for "loads with no
 * errors" assertions.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT } from './exporter-process.js';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export interface LaunchedBrowser {
  browser: Browser;
  close(): Promise<void>;
}

export async function launchChromium(opts: { netns?: string } = {}): Promise<LaunchedBrowser> {
  let wrapperDir: string | null = null;
  let executablePath = CHROMIUM_PATH;
  if (opts.netns) {
    wrapperDir = mkdtempSync(join(tmpdir(), 'fp-chromium-netns-'));
    executablePath = join(wrapperDir, 'chromium');
    writeFileSync(executablePath, `#!/bin/sh\nexec ip netns exec ${opts.netns} ${CHROMIUM_PATH} "$@"\n`);
    chmodSync(executablePath, 0o755);
  }
  const browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
  return {
    browser,
    async close() {
      await browser.close().catch(() => undefined);
      if (wrapperDir) rmSync(wrapperDir, { recursive: true, force: true });
    },
  };
}

export interface WatchedPage {
  page: Page;
  /** Console messages of type error, and uncaught exceptions. */
  errors: string[];
}

export async function openPage(browser: Browser, viewport = { width: 1400, height: 900 }): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return { page, errors };
}

/** Where this test run keeps its screenshots: test-artifacts/console/<run> under the repository (git-ignored). */
export function artifactsDir(name: string): string {
  const dir = join(REPO_ROOT, 'test-artifacts', 'console', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Why browser tests cannot run here, or false. */
export function chromiumUnavailable(): string | false {
  return existsSync(CHROMIUM_PATH) ? false : `needs ${CHROMIUM_PATH} (Debian package chromium; .ci/run installs it)`;
}
