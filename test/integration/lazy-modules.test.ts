/**
 * The OpenTelemetry SDK and exporters and grpc-js are imported only when they are asked
 * for (OTEL_* variables, grpc.listen_address): an exporter that is only scraped does not
 * carry their resident memory (about 25 and 15 MB). The real CLI runs with a module
 * resolve hook (node:module register) that writes every resolved URL to a file; the
 * second run, with both asked for, is the control that the hook sees them at all.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { ExporterProcess, NEEDS_ROOT, tempDir } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';

const dir = tempDir('fleetprobe-lazy-modules');
after(() => dir.cleanup());

// Hooks run on the loader thread: they append to the file the parent names in the environment.
const hooks = dir.file(
  'hooks.mjs',
  `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (r.url.includes('/node_modules/')) appendFileSync(process.env.LAZY_MODULES_TEST_LOG, r.url + '\\n');
  return r;
}
`,
);
const register = dir.file('register.mjs', `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);

const OTEL_SDK = '/node_modules/@opentelemetry/sdk-metrics/';
const GRPC = '/node_modules/@grpc/grpc-js/';

async function loadedModules(name: string, extraArgs: string[], env: Record<string, string>): Promise<string> {
  const webPort = await freePort();
  const listen = `127.0.0.1:${webPort}`;
  const cfg = dir.file(`${name}.yaml`, {
    web: { listen_address: listen },
    probe_defaults: { interval: '200ms', timeout: '1s' },
    targets: [{ name: 'lo', address: '127.0.0.1' }],
  });
  const log = join(dir.path, `${name}.log`);
  const exp = new ExporterProcess(['run', '--config', cfg, ...extraArgs], listen, {
    runner: [process.execPath, '--import', pathToFileURL(register).href],
    env: { LAZY_MODULES_TEST_LOG: log, ...env },
  });
  try {
    await exp.waitReady(20_000);
    const m = await exp.scrape();
    assert.ok(m.value('fleetprobe_probe_sent_total', { target: 'lo' }) !== undefined, 'the exporter serves its targets');
  } finally {
    await exp.stop();
  }
  assert.ok(existsSync(log), 'the resolve hook ran');
  return readFileSync(log, 'utf8');
}

test('an exporter without OTLP and gRPC loads neither the OpenTelemetry SDK nor grpc-js', { skip: NEEDS_ROOT }, async () => {
  const loaded = await loadedModules('plain', [], {});
  assert.ok(loaded.includes('/node_modules/fastify/'), 'the hook records the modules that are loaded');
  assert.ok(!loaded.includes(OTEL_SDK), 'no OpenTelemetry SDK without OTEL_* variables');
  assert.ok(!loaded.includes(GRPC), 'no grpc-js without grpc.listen_address');
});

test('asking for OTLP and gRPC loads them (the control of the test above)', { skip: NEEDS_ROOT }, async () => {
  const grpcPort = await freePort();
  const collectorPort = await freePort(); // nothing listens: the first export is minutes away anyway
  const loaded = await loadedModules('both', ['--grpc.listen-address', `127.0.0.1:${grpcPort}`], {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collectorPort}`,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
  });
  assert.ok(loaded.includes(OTEL_SDK), 'the OpenTelemetry SDK is loaded when OTLP export is on');
  assert.ok(loaded.includes(GRPC), 'grpc-js is loaded when gRPC is on');
});
