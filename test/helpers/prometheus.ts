/**
 * A real Prometheus server for end-to-end scrape tests: started on a free loopback
 * port with its own TSDB in a temporary directory, scraping only the loopback
 * targets it is given, and killed (directory removed) by stop().
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort } from './free-port.js';
import { ExporterProcess, httpRequest, tempDir, waitFor } from './exporter-process.js';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';

/** Skip message when no Prometheus binary is installed, else false. */
export function prometheusUnavailable(): string | false {
  if (!existsSync(PROMETHEUS_BIN)) return `needs ${PROMETHEUS_BIN} (Debian package prometheus)`;
  return spawnSync(PROMETHEUS_BIN, ['--version'], { stdio: 'ignore', timeout: 5000 }).status === 0 ? false : `${PROMETHEUS_BIN} --version failed`;
}

export interface PromVectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PrometheusServer {
  readonly url: string;
  /** Instant query; resolves with the vector result (throws on a non-success answer). */
  query(promql: string): Promise<PromVectorSample[]>;
  /** The server's log so far (stderr), for assertion messages. */
  log(): string;
  stop(): Promise<void>;
}

export interface StartPrometheusOptions {
  job: string;
  /** host:port of each scrape target; loopback only. */
  targets: string[];
  scrapeInterval?: string;
  /**
   * Scrape configs as written in prometheus.yml (relabelling, params, metrics_path),
   * beside the static job (give `targets: []` for none). The caller keeps every address
   * in them on loopback.
   */
  scrapeConfigs?: unknown[];
  /**
   * More jobs, each a Prometheus scrape_config without job_name and static_configs
   * (scheme, tls_config, basic_auth...), scraping its own loopback targets.
   */
  jobs?: Array<{ job: string; targets: string[]; scrape: Record<string, unknown> }>;
  /**
   * Run Prometheus inside this network namespace (scraping targets on its loopback);
   * queries then go through a process inside it too. Give `port` with it: the free
   * ports of this namespace say nothing about another.
   */
  netns?: string;
  port?: number;
  /** Feature flags (`--enable-feature=`), e.g. native-histograms (then it asks for the protobuf exposition). */
  features?: string[];
}

export async function startPrometheus(opts: StartPrometheusOptions): Promise<PrometheusServer> {
  for (const t of [...opts.targets, ...(opts.jobs ?? []).flatMap((j) => j.targets)]) {
    if (!/^(127\.\d+\.\d+\.\d+|\[::1\]):\d+$/.test(t)) throw new Error(`refusing to scrape a non-loopback target: ${t}`);
  }
  const dir = tempDir('fp-prom');
  const interval = opts.scrapeInterval ?? '1s';
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    scrape_configs: [
      ...(opts.scrapeConfigs ?? []),
      ...(opts.targets.length > 0 ? [{ job_name: opts.job, static_configs: [{ targets: opts.targets }] }] : []),
      ...(opts.jobs ?? []).map((j) => ({ job_name: j.job, ...j.scrape, static_configs: [{ targets: j.targets }] })),
    ],
  };
  const configFile = dir.file('prometheus.yml', config);
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const args = [
    `--config.file=${configFile}`,
    `--web.listen-address=127.0.0.1:${port}`,
    `--storage.tsdb.path=${dir.path}/data`,
    '--storage.tsdb.retention.time=1h',
    '--log.level=warn',
    ...(opts.features === undefined || opts.features.length === 0 ? [] : [`--enable-feature=${opts.features.join(',')}`]),
  ];
  // `ip netns exec` setns()es and execs: the child's pid is Prometheus' own, so signals reach it.
  const [cmd, argv] = opts.netns === undefined ? [PROMETHEUS_BIN, args] : ['ip', ['netns', 'exec', opts.netns, PROMETHEUS_BIN, ...args]];
  const child: ChildProcess = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  const get = async (path: string, timeoutMs: number): Promise<{ status: number; text: string }> => {
    if (opts.netns === undefined) {
      const res = await fetch(url + path, { signal: AbortSignal.timeout(timeoutMs) });
      return { status: res.status, text: await res.text() };
    }
    const res = await httpRequest(url + path, { netns: opts.netns, timeoutMs });
    return { status: res.status, text: res.text() };
  };
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
  let exited = false;
  const done = new Promise<void>((resolve) => child.once('close', () => ((exited = true), resolve())));
  child.once('error', (err) => (log += `spawn error: ${err.message}\n`));

  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(t);
    }
    dir.cleanup();
  };

  const query = async (promql: string): Promise<PromVectorSample[]> => {
    const res = await get(`/api/v1/query?query=${encodeURIComponent(promql)}`, 5000);
    const body = JSON.parse(res.text) as { status: string; data?: { resultType: string; result: PromVectorSample[] }; error?: string };
    if (body.status !== 'success' || !body.data) throw new Error(`query ${promql}: ${body.error ?? res.status}`);
    if (body.data.resultType !== 'vector') throw new Error(`query ${promql}: expected a vector, got ${body.data.resultType}`);
    return body.data.result;
  };

  try {
    await waitFor(
      `Prometheus on ${url} to become ready`,
      async () => {
        if (exited) throw new Error(`prometheus exited early:\n${log}`);
        const r = await get('/-/ready', 1000).catch(() => ({ status: 0 }));
        return r.status === 200;
      },
      20_000,
      200,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, query, log: () => log, stop };
}

/**
 * The real exporter (CLI child process on `listen`) scraped every second by a real
 * Prometheus under `job`; both stopped, and `dir` cleaned, when the test ends.
 */
export async function exporterScrapedByPrometheus(
  t: { after(fn: () => Promise<void> | void): void },
  opts: { config: string; listen: string; job: string; dir: { cleanup(): void } },
): Promise<{ exp: ExporterProcess; prom: PrometheusServer }> {
  const exp = new ExporterProcess(['run', '--config', opts.config], opts.listen);
  let prom: PrometheusServer | undefined;
  t.after(async () => {
    await prom?.stop();
    await exp.stop(2000);
    opts.dir.cleanup();
  });
  await exp.waitReady(15_000);
  prom = await startPrometheus({ job: opts.job, targets: [opts.listen], scrapeInterval: '1s' });
  return { exp, prom };
}
