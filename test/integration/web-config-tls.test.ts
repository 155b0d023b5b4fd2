/**
 * --web.config.file end to end, through the real CLI, with a PKI made by openssl at
 * test time (test/fixtures/tls-pki.ts) and real clients only: curl, Debian's
 * prometheus, grpc-js, node:tls.
 *
 *  - exporter A: TLS (min_version TLS13), basic_auth_users, headers, an API token,
 *    gRPC. curl: 200 with the password, 401 + WWW-Authenticate: Basic without it or
 *    with a wrong one, on /metrics, the API and the console; /healthz open; the token
 *    as Bearer; mutations need the token; TLS 1.2 refused. Prometheus scrapes it over
 *    TLS with basic_auth (up 1) and with a wrong password (up 0). gRPC over TLS.
 *    The certificate replaced on disk is served without a restart; SIGHUP re-reads the
 *    web configuration file (new users apply; a bad file is refused and the old one kept).
 *  - exporter B: RequireAndVerifyClientCert: curl and Prometheus without a client
 *    certificate or with one from another CA are refused, with the right one served;
 *    gRPC likewise.
 *  - check-config names every bad key of a bad web configuration file and exits 2.
 *
 * Traffic: loopback only.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcrypt';
import { credentials, status as Status } from '@grpc/grpc-js';
import { stringify as toYaml } from 'yaml';
import { ExporterProcess, parseMetrics, runCli, tempDir, waitFor } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';
import { prometheusUnavailable, startPrometheus, type PrometheusServer } from '../helpers/prometheus.js';
import { Subscription, bearer, telemetryClient } from '../helpers/grpc-client.js';
import { TestPki, type Pem } from '../fixtures/tls-pki.js';

const TOKEN = 'web-config-test-token';
const PASSWORD = 'correct horse';

interface CurlResult {
  /** curl's exit code: 0, or why no HTTP answer came (35 TLS handshake, 56 receive failure...). */
  exit: number;
  status: number;
  headers: Record<string, string>;
  body: string;
  stderr: string;
}

/** One request with curl (-i: headers then body); never throws for an HTTP or TLS failure. */
function curl(url: string, args: string[] = []): Promise<CurlResult> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '-i', '--max-time', '5', ...args, url], { encoding: 'utf8', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const exit = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      if (err && exit === -1) return reject(new Error(err.message));
      const split = stdout.indexOf('\r\n\r\n');
      const head = split < 0 ? stdout : stdout.slice(0, split);
      const lines = head.split('\r\n');
      const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const c = l.indexOf(':');
        if (c > 0) headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
      }
      resolve({ exit, status, headers, body: split < 0 ? '' : stdout.slice(split + 4), stderr });
    });
  });
}

/** The certificate a TLS server presents (its SHA-256 fingerprint), verified against `ca`. */
function servedFingerprint(port: number, ca: string, client?: Pem): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca, ALPNProtocols: ['h2', 'http/1.1'], ...(client ? { cert: client.cert, key: client.key } : {}) }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.end();
      resolve(fp);
    });
    s.setTimeout(3000, () => s.destroy(new Error('timeout')));
    s.once('error', reject);
  });
}

function fingerprintOf(pem: string): Promise<string> {
  return import('node:crypto').then(({ X509Certificate }) => new X509Certificate(pem).fingerprint256);
}

const dir = tempDir('fp-webcfg');
const pki = new TestPki('fp-webcfg-pki');
let peer: Server;
let ca: Pem;
let server: Pem;
let clientCa: Pem;
let client: Pem;
let stranger: Pem;
let A: { exp: ExporterProcess; url: string; port: number; grpc: string; webFile: string };
let B: { exp: ExporterProcess; url: string; port: number; grpc: string };
let hash: string;

async function startExporter(name: string, web: Record<string, unknown>, extra: Record<string, unknown> = {}, grpc = true) {
  const port = await freePort();
  const grpcPort = await freePort();
  const webFile = dir.file(`${name}-web.yml`, toYaml(web));
  const cfg = dir.file(`${name}.yaml`, {
    workers: 1,
    flush_interval: '100ms',
    web: { listen_address: `127.0.0.1:${port}` },
    ...(grpc ? { grpc: { listen_address: `127.0.0.1:${grpcPort}` } } : {}),
    api: { token: TOKEN },
    probe_defaults: { kind: 'tcp', interval: '200ms', timeout: '100ms' },
    targets: [{ name: 't', address: `127.0.0.1:${(peer.address() as { port: number }).port}` }],
    ...extra,
  });
  // --web.config.file: exporter-toolkit's flag, spelled as Prometheus exporters spell it.
  const exp = new ExporterProcess(['run', '--config', cfg, '--web.config.file', webFile], `127.0.0.1:${port}`);
  return { exp, url: `https://127.0.0.1:${port}`, port, grpc: `127.0.0.1:${grpcPort}`, webFile };
}

async function waitTlsReady(e: { exp: ExporterProcess; url: string }, args: string[]): Promise<void> {
  await waitFor(
    `${e.url}/readyz over TLS`,
    async () => {
      if (e.exp.exit) throw new Error(`exited ${JSON.stringify(e.exp.exit)}\n${e.exp.tail()}`);
      return (await curl(`${e.url}/readyz`, args)).status === 200;
    },
    20_000,
    200,
  );
}

before(async () => {
  ca = pki.ca('server-ca');
  server = pki.issue(ca, '127.0.0.1', ['IP:127.0.0.1', 'DNS:localhost'], 'server', 'server');
  clientCa = pki.ca('client-ca');
  client = pki.issue(clientCa, 'prometheus', ['DNS:prometheus'], 'client', 'client');
  stranger = pki.issue(pki.ca('other-ca'), 'prometheus', ['DNS:prometheus'], 'client', 'stranger');
  // htpasswd writes $2y$; the native library's $2b$ is the same algorithm.
  hash = `$2y$${(await bcrypt.hash(PASSWORD, 6)).slice(4)}`;
  peer = createServer((s) => s.on('error', () => undefined).end());
  await new Promise<void>((r) => peer.listen({ host: '127.0.0.1', port: 0 }, r));

  A = await startExporter(
    'a',
    {
      tls_server_config: { cert_file: server.certFile, key_file: server.keyFile, min_version: 'TLS13' },
      basic_auth_users: { prom: hash },
      http_server_config: { headers: { 'X-Frame-Options': 'deny', 'Strict-Transport-Security': 'max-age=63072000' } },
    },
    // SIGHUP is what this exporter's test uses to re-read the web config, not the watch.
    { file_watch: { enabled: false } },
  );
  B = await startExporter('b', {
    tls_server_config: {
      cert_file: server.certFile,
      key_file: server.keyFile,
      client_auth_type: 'RequireAndVerifyClientCert',
      client_ca_file: clientCa.certFile,
    },
  });
  await waitTlsReady(A, ['--cacert', ca.certFile]);
  await waitTlsReady(B, ['--cacert', ca.certFile, '--cert', client.certFile, '--key', client.keyFile]);
});

after(async () => {
  await A?.exp.stop(3000);
  await B?.exp.stop(3000);
  peer?.close();
  pki.cleanup();
  dir.cleanup();
});

const withCa = () => ['--cacert', ca.certFile];
const asProm = (password = PASSWORD) => [...withCa(), '-u', `prom:${password}`];

test('curl over TLS: basic auth guards /metrics, the API and the console; 401 asks for Basic; headers on every answer', { timeout: 30_000 }, async () => {
  const ok = await curl(`${A.url}/metrics`, asProm());
  assert.equal(ok.exit, 0, ok.stderr);
  assert.equal(ok.status, 200, ok.body);
  assert.match(ok.body, /^fleetprobe_probe_sent_total\{/m);
  assert.equal(ok.headers['x-frame-options'], 'deny');
  assert.equal(ok.headers['strict-transport-security'], 'max-age=63072000');

  for (const path of ['/metrics', '/api/v1/status', '/api/v1/targets', '/', '/api/v1/stream', '/no/such/path']) {
    const none = await curl(`${A.url}${path}`, withCa());
    assert.equal(none.status, 401, `${path} without credentials: ${none.status} ${none.body}`);
    assert.equal(none.headers['www-authenticate'], 'Basic', path);
    assert.equal(none.headers['x-frame-options'], 'deny', 'headers on refusals too');
    const wrong = await curl(`${A.url}${path}`, asProm('wrong'));
    assert.equal(wrong.status, 401, `${path} with a wrong password`);
    const other = await curl(`${A.url}${path}`, [...withCa(), '-u', `mallory:${PASSWORD}`]);
    assert.equal(other.status, 401, `${path} as an unknown user`);
  }
  for (const path of ['/api/v1/status', '/']) assert.equal((await curl(`${A.url}${path}`, asProm())).status, 200, path);
  // Liveness and readiness stay open (kubelet and load balancers may send no credentials).
  assert.equal((await curl(`${A.url}/healthz`, withCa())).status, 200);
  assert.equal((await curl(`${A.url}/readyz`, withCa())).status, 200);
  // The API token stands in for a password (a request carries one Authorization header).
  assert.equal((await curl(`${A.url}/metrics`, [...withCa(), '-H', `Authorization: Bearer ${TOKEN}`])).status, 200);
  assert.equal((await curl(`${A.url}/metrics`, [...withCa(), '-H', 'Authorization: Bearer not-the-token'])).status, 401);

  const m = parseMetrics((await curl(`${A.url}/metrics`, asProm())).body);
  assert.ok((m.value('fleetprobe_web_auth_failures_total', { reason: 'missing' }) ?? 0) >= 6);
  assert.ok((m.value('fleetprobe_web_auth_failures_total', { reason: 'bad_credentials' }) ?? 0) >= 12);
  // Successes are cached: far fewer bcrypt runs than requests.
  const runs = m.value('fleetprobe_web_auth_bcrypt_verifications_total', {}) ?? -1;
  assert.ok(runs >= 13 && runs <= 16, `bcrypt verifications: ${runs}`);
});

test('mutations need the API token on top of basic auth', { timeout: 20_000 }, async () => {
  const basicOnly = await curl(`${A.url}/-/reload`, [...asProm(), '-X', 'POST']);
  assert.equal(basicOnly.status, 401, basicOnly.body);
  assert.match(basicOnly.body, /missing_token/);
  const del = await curl(`${A.url}/api/v1/targets/t`, [...asProm(), '-X', 'DELETE']);
  assert.equal(del.status, 401);
  const token = await curl(`${A.url}/-/reload`, [...withCa(), '-X', 'POST', '-H', `Authorization: Bearer ${TOKEN}`]);
  assert.equal(token.status, 200, token.body);
});

test('TLS: min_version TLS13 refuses a TLS 1.2 client; plain HTTP gets no answer from the TLS port', { timeout: 20_000 }, async () => {
  const old = await curl(`${A.url}/healthz`, [...withCa(), '--tls-max', '1.2']);
  assert.notEqual(old.exit, 0, 'a TLS 1.2 handshake must fail');
  assert.equal(old.status, 0);
  const v13 = await curl(`${A.url}/healthz`, [...withCa(), '--tlsv1.3']);
  assert.equal(v13.status, 200, v13.stderr);
  const plain = await curl(`http://127.0.0.1:${A.port}/metrics`, ['-u', `prom:${PASSWORD}`]);
  assert.notEqual(plain.status, 200);
  const unknownCa = await curl(`${A.url}/healthz`);
  assert.notEqual(unknownCa.exit, 0, 'the server certificate is not trusted without its CA');
});

test('client certificates: RequireAndVerifyClientCert refuses none and a foreign one, serves the right one', { timeout: 20_000 }, async () => {
  const none = await curl(`${B.url}/metrics`, withCa());
  assert.notEqual(none.exit, 0, `no client certificate: ${none.status}`);
  assert.equal(none.status, 0);
  const foreign = await curl(`${B.url}/metrics`, [...withCa(), '--cert', stranger.certFile, '--key', stranger.keyFile]);
  assert.notEqual(foreign.exit, 0, `a certificate of another CA: ${foreign.status}`);
  assert.equal(foreign.status, 0);
  const good = await curl(`${B.url}/metrics`, [...withCa(), '--cert', client.certFile, '--key', client.keyFile]);
  assert.equal(good.status, 200, good.stderr);
  const m = parseMetrics(good.body);
  assert.ok((m.value('fleetprobe_tls_refused_connections_total', { listener: 'web', reason: 'handshake' }) ?? 0) >= 2);
});

test(
  'RequireAnyClientCert with client_allowed_sans: any certificate, verified or not, carrying an allowed SAN; checked right after the handshake',
  { timeout: 30_000 },
  async (t) => {
    const grafana = pki.issue(clientCa, 'grafana', ['DNS:grafana'], 'client', 'grafana');
    const C = await startExporter(
      'c',
      {
        tls_server_config: {
          cert_file: server.certFile,
          key_file: server.keyFile,
          client_auth_type: 'RequireAnyClientCert',
          client_allowed_sans: ['prometheus'],
        },
      },
      {},
      false,
    );
    t.after(() => C.exp.stop(3000));
    const asStranger = [...withCa(), '--cert', stranger.certFile, '--key', stranger.keyFile];
    await waitTlsReady(C, asStranger);
    // Node has no option for "required, not verified": the server lets the handshake finish and closes the connection before reading a request.
    const none = await curl(`${C.url}/metrics`, withCa());
    assert.notEqual(none.exit, 0, `no certificate: ${none.status}`);
    assert.equal(none.status, 0);
    const wrongSan = await curl(`${C.url}/metrics`, [...withCa(), '--cert', grafana.certFile, '--key', grafana.keyFile]);
    assert.equal(wrongSan.status, 0, 'a verified certificate without an allowed SAN is refused');
    const ok = await curl(`${C.url}/metrics`, asStranger);
    assert.equal(ok.status, 200, `an unverified certificate with an allowed SAN: ${ok.stderr}`);
    const m = parseMetrics(ok.body);
    assert.ok((m.value('fleetprobe_tls_refused_connections_total', { listener: 'web', reason: 'client_cert_missing' }) ?? 0) >= 1);
    assert.ok((m.value('fleetprobe_tls_refused_connections_total', { listener: 'web', reason: 'client_san_not_allowed' }) ?? 0) >= 1);

    // With a gRPC listener this type is refused: grpc-js cannot show a call an unverified certificate.
    const cfg = dir.file('c-grpc.yaml', { grpc: { listen_address: '127.0.0.1:0' }, targets: [{ name: 'x', address: '127.0.0.1:9', kind: 'tcp' }] });
    const r = await runCli(['check-config', '--config', cfg, '--web.config.file', C.webFile]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /web\.config_file tls_server_config\.client_auth_type.*cannot be enforced on the gRPC listener/);
  },
);

test(
  'a real Prometheus scrapes over TLS with basic_auth and with a client certificate; wrong credentials are down',
  { skip: prometheusUnavailable(), timeout: 60_000 },
  async (t) => {
    const passwordFile = dir.file('prom-password', PASSWORD);
    const prom: PrometheusServer = await startPrometheus({
      job: 'unused',
      targets: [],
      jobs: [
        {
          job: 'tls-basic',
          targets: [`127.0.0.1:${A.port}`],
          scrape: { scheme: 'https', tls_config: { ca_file: ca.certFile }, basic_auth: { username: 'prom', password_file: passwordFile } },
        },
        {
          job: 'tls-wrong',
          targets: [`127.0.0.1:${A.port}`],
          scrape: { scheme: 'https', tls_config: { ca_file: ca.certFile }, basic_auth: { username: 'prom', password: 'nope' } },
        },
        {
          job: 'mtls',
          targets: [`127.0.0.1:${B.port}`],
          scrape: { scheme: 'https', tls_config: { ca_file: ca.certFile, cert_file: client.certFile, key_file: client.keyFile } },
        },
        { job: 'mtls-nocert', targets: [`127.0.0.1:${B.port}`], scrape: { scheme: 'https', tls_config: { ca_file: ca.certFile } } },
      ],
    });
    t.after(() => prom.stop());
    const up = async (job: string): Promise<string | undefined> => (await prom.query(`up{job="${job}"}`))[0]?.value[1];
    await waitFor(
      'every job scraped at least once',
      async () => (await Promise.all(['tls-basic', 'tls-wrong', 'mtls', 'mtls-nocert'].map(up))).every((v) => v !== undefined),
      20_000,
      250,
    );
    await waitFor('the good jobs up', async () => (await up('tls-basic')) === '1' && (await up('mtls')) === '1', 20_000, 250);
    assert.equal(await up('tls-wrong'), '0', prom.log());
    assert.equal(await up('mtls-nocert'), '0');
    // The samples are the exporter's, read through TLS.
    const sent = await prom.query('fleetprobe_probe_sent_total{job="tls-basic",target="t"}');
    assert.equal(sent.length, 1, prom.log());
    const sentB = await prom.query('fleetprobe_probe_sent_total{job="mtls",target="t"}');
    assert.equal(sentB.length, 1);
  },
);

test(
  'gRPC over TLS from the same file: a TLS client (with its client certificate for B) is served, a plaintext one or one without a certificate is not',
  { timeout: 30_000 },
  async () => {
    const caPem = Buffer.from(ca.cert);
    const once = async (address: string, creds: Parameters<typeof telemetryClient>[1]) => {
      const c = telemetryClient(address, creds);
      try {
        const s = Subscription.open(c, bearer(TOKEN), { subscribe: { mode: 'ONCE' } });
        const st = await s.ended(8000);
        return { code: st.code, details: st.details, targets: s.of('state').map((r) => r.target as string) };
      } finally {
        c.close();
      }
    };
    const a = await once(A.grpc, credentials.createSsl(caPem));
    assert.equal(a.code, Status.OK, a.details);
    assert.deepEqual(a.targets, ['t']);
    const plain = await once(A.grpc, credentials.createInsecure());
    assert.equal(plain.code, Status.UNAVAILABLE, plain.details);

    const b = await once(B.grpc, credentials.createSsl(caPem, Buffer.from(client.key), Buffer.from(client.cert)));
    assert.equal(b.code, Status.OK, b.details);
    const noCert = await once(B.grpc, credentials.createSsl(caPem));
    assert.equal(noCert.code, Status.UNAVAILABLE, noCert.details);
    const foreign = await once(B.grpc, credentials.createSsl(caPem, Buffer.from(stranger.key), Buffer.from(stranger.cert)));
    assert.equal(foreign.code, Status.UNAVAILABLE, foreign.details);
  },
);

test('a certificate replaced on disk is served to new connections without a restart (web and gRPC)', { timeout: 40_000 }, async () => {
  const before = await servedFingerprint(A.port, ca.cert);
  assert.equal(before, await fingerprintOf(server.cert));
  // A rotation as cert-manager or certbot does it: new files renamed over the old ones.
  const next = pki.issue(ca, '127.0.0.1', ['IP:127.0.0.1'], 'server', 'server-next');
  renameSync(next.keyFile, server.keyFile);
  renameSync(next.certFile, server.certFile);
  const want = await fingerprintOf(next.cert);
  await waitFor(
    'the new certificate on the web port of A and B',
    async () => (await servedFingerprint(A.port, ca.cert)) === want && (await servedFingerprint(B.port, ca.cert, client)) === want,
    15_000,
    250,
  );
  const m = parseMetrics((await curl(`${A.url}/metrics`, asProm())).body);
  assert.ok((m.value('fleetprobe_web_tls_certificate_reloads_total', { result: 'success' }) ?? 0) >= 1);
  // Still a working server: basic auth over the new certificate.
  assert.equal((await curl(`${A.url}/metrics`, asProm())).status, 200);
  // gRPC serves the new certificate too (its handshake verifies it against the same CA).
  const [grpcHost, grpcPort] = A.grpc.split(':');
  assert.equal(grpcHost, '127.0.0.1');
  await waitFor('the new certificate on the gRPC port', async () => (await servedFingerprint(Number(grpcPort), ca.cert)) === want, 10_000, 250);
});

test('SIGHUP re-reads the web configuration file: new users apply; a bad file is refused and the old one kept', { timeout: 40_000 }, async () => {
  const aliceHash = await bcrypt.hash('alice-pw', 4);
  const web = (users: Record<string, string>, extra: Record<string, unknown> = {}) =>
    toYaml({ tls_server_config: { cert_file: server.certFile, key_file: server.keyFile, min_version: 'TLS13' }, basic_auth_users: users, ...extra });
  dir.file('a-web.yml', web({ alice: aliceHash }));
  A.exp.signal('SIGHUP');
  await waitFor('alice let in', async () => (await curl(`${A.url}/metrics`, [...withCa(), '-u', 'alice:alice-pw'])).status === 200, 15_000, 200);
  assert.equal((await curl(`${A.url}/metrics`, asProm())).status, 401, 'prom is gone');

  dir.file('a-web.yml', web({ alice: 'plain-text' }, { http_server_config: { headers: { 'X-Frame-Options': 'allow' } } }));
  A.exp.signal('SIGHUP');
  await waitFor(
    'the reload refused',
    async () => {
      const s = await curl(`${A.url}/api/v1/status`, [...withCa(), '-u', 'alice:alice-pw']);
      return (
        s.status === 200 &&
        /web\.config_file basic_auth_users\.alice/.test(s.body) &&
        /web\.config_file http_server_config\.headers\.X-Frame-Options/.test(s.body)
      );
    },
    15_000,
    200,
  );
  assert.equal((await curl(`${A.url}/metrics`, [...withCa(), '-u', 'alice:alice-pw'])).status, 200, 'the running configuration is kept');
});

test('a changed web configuration file applies without a signal (file_watch, as exporter-toolkit re-reads it)', { timeout: 40_000 }, async () => {
  const asClient = [...withCa(), '--cert', client.certFile, '--key', client.keyFile];
  assert.equal((await curl(`${B.url}/metrics`, asClient)).status, 200, 'B asks for no password yet');
  dir.file(
    'b-web.yml',
    toYaml({
      tls_server_config: {
        cert_file: server.certFile,
        key_file: server.keyFile,
        client_auth_type: 'RequireAndVerifyClientCert',
        client_ca_file: clientCa.certFile,
      },
      basic_auth_users: { prom: hash },
    }),
  );
  await waitFor('B to ask for a password', async () => (await curl(`${B.url}/metrics`, asClient)).status === 401, 20_000, 250);
  assert.equal((await curl(`${B.url}/metrics`, [...asClient, '-u', `prom:${PASSWORD}`])).status, 200);
});

test('check-config names every bad key of the web configuration file in one pass and exits 2', { timeout: 30_000 }, async () => {
  const bad = dir.file(
    'bad-web.yml',
    toYaml({
      tls_server_config: { cert_file: join(dir.path, 'missing.pem'), key_file: server.keyFile, min_version: 'TLS11', client_auth_type: 'Sometimes' },
      basic_auth_users: { u: 'secret' },
      http_server_config: { headers: { 'X-Powered-By': 'me' } },
      tls_config: {},
    }),
  );
  const cfg = dir.file('check.yaml', { targets: [{ name: 'x', address: '127.0.0.1:9', kind: 'tcp' }] });
  const r = await runCli(['check-config', '--config', cfg, '--web.config.file', bad]);
  assert.equal(r.code, 2, r.stderr);
  for (const key of [
    'web.config_file tls_server_config.cert_file',
    'web.config_file tls_server_config.min_version',
    'web.config_file tls_server_config.client_auth_type',
    'web.config_file basic_auth_users.u',
    'web.config_file http_server_config.headers.X-Powered-By',
    'web.config_file tls_config',
  ])
    assert.ok(r.stderr.includes(key), `${key} not named in:\n${r.stderr}`);
  assert.ok(!r.stderr.includes('secret'), 'a password or hash is never echoed');

  const good = dir.file('good-web.yml', toYaml({ tls_server_config: { cert_file: server.certFile, key_file: server.keyFile }, basic_auth_users: { u: hash } }));
  const ok = await runCli(['check-config', '--config', cfg, '--web.config.file', good]);
  assert.equal(ok.code, 0, ok.stderr);
  // A key of another certificate.
  const mismatch = dir.file('mismatch-web.yml', toYaml({ tls_server_config: { cert_file: server.certFile, key_file: client.keyFile } }));
  const mm = await runCli(['check-config', '--config', cfg, '--web.config.file', mismatch]);
  assert.equal(mm.code, 2);
  assert.match(mm.stderr, /web\.config_file tls_server_config\.key_file.*does not match the certificate/);
});
