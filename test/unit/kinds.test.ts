/**
 * The probe kinds' declarations (src/kinds/): each kind's defaults are what its prober
 * used to apply on its own, values are normalised once (the prober parses nothing),
 * every option is checked by its kind wherever it is written (probe_defaults.<kind>,
 * inline targets, target files, mesh), and what is derived from the declarations (the
 * schema, `fleetprobe help`, the README's probe kinds table) cannot drift from them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_REASON_NAMES } from '../../src/protocol/events.js';
import {
  KINDS,
  MAIN_THREAD_REASONS,
  PROBE_KINDS,
  defaultOptionValues,
  defaultOptions,
  kindModule,
  kindOfOption,
  optionsOf,
  type KindOptions,
  type OptionDecl,
} from '../../src/kinds/index.js';
import { TCP_ECHO_BOUNDS } from '../../src/kinds/tcp-echo.js';
import { buildSchema, leaves } from '../../src/config/schema.js';
import { configSchemaDocs, loadConfig } from '../../src/config/index.js';
import { parseTargetEntry } from '../../src/targets/spec.js';

const timing = { timeoutMs: 1000 };
const declared = (kind: (typeof PROBE_KINDS)[number]): Array<[string, OptionDecl]> => Object.entries<OptionDecl>(kindModule(kind).options);

test('with nothing configured, every kind gets the defaults its prober used to apply itself', () => {
  assert.deepEqual(defaultOptions('icmp', timing), { kind: 'icmp' });
  assert.deepEqual(defaultOptions('tcp', timing), { kind: 'tcp', close: 'reset' });
  assert.deepEqual(defaultOptions('udp', timing), { kind: 'udp', sourcePorts: 1 });
  assert.deepEqual(defaultOptions('tcp_echo', timing), { kind: 'tcp_echo', reconnectMinBackoffMs: 100, reconnectMaxBackoffMs: 30_000, connectTimeoutMs: 3000 });
  assert.deepEqual(defaultOptions('http', timing), {
    kind: 'http',
    method: 'GET',
    expectStatus: [[200, 299]],
    keepAlive: false,
    maxBodyBytes: 1 << 20,
    caFile: null,
    insecureSkipVerify: false,
    serverName: null,
    headers: {},
  });
});

test('tcp_echo: an unset connect_timeout is the larger of the timeout and 3s, capped at its bound; a minimum backoff above the maximum is the maximum', () => {
  const values = defaultOptionValues('tcp_echo');
  const ct = (timeoutMs: number) => optionsOf(kindModule('tcp_echo').normalise(values, { timeoutMs }), 'tcp_echo').connectTimeoutMs;
  assert.equal(ct(1), 3000);
  assert.equal(ct(2999), 3000);
  assert.equal(ct(5000), 5000);
  assert.equal(ct(3_600_000), TCP_ECHO_BOUNDS.connectTimeout.max);
  const set = kindModule('tcp_echo').normalise(
    { ...values, connect_timeout: '250ms', reconnect_min_backoff: '5s', reconnect_max_backoff: '2s' },
    { timeoutMs: 100_000 },
  );
  assert.deepEqual(set, { kind: 'tcp_echo', reconnectMinBackoffMs: 2000, reconnectMaxBackoffMs: 2000, connectTimeoutMs: 250 });
});

test('http: method upper-cased, expect_status as ranges, headers copied, unset TLS names null', () => {
  const o = kindModule('http').normalise(
    { ...defaultOptionValues('http'), method: 'head', expect_status: [200, '3xx', '401-403'], headers: { 'X-A': 'b' } },
    timing,
  );
  assert.equal(o.method, 'HEAD');
  assert.deepEqual(o.expectStatus, [
    [200, 200],
    [300, 399],
    [401, 403],
  ]);
  assert.deepEqual(o.headers, { 'X-A': 'b' });
  assert.equal(o.caFile, null);
  assert.equal(o.serverName, null);
  assert.throws(() => kindModule('http').normalise({ ...defaultOptionValues('http'), expect_status: '7xx' }, timing), /expect_status/);
});

test('normalised options are plain data: they cross the thread boundary unchanged', () => {
  const d = loadConfig({ argv: [], env: {} }).probeDefaults;
  for (const kind of PROBE_KINDS) {
    const o: KindOptions = kindModule(kind).normalise(d.optionValues[kind], timing);
    assert.equal(o.kind, kind);
    assert.deepEqual(structuredClone(o), o, kind);
    assert.deepEqual(JSON.parse(JSON.stringify(o)), o, kind);
  }
});

test("a prober reads its own kind's options and refuses another kind's", () => {
  assert.equal(optionsOf(defaultOptions('udp', timing), 'udp').sourcePorts, 1);
  assert.throws(() => optionsOf(defaultOptions('udp', timing), 'tcp'), /tcp: target carries udp options/);
});

test("missing values take the kind's defaults; values of the wrong type or out of range are refused by the kind, from files and from the environment alike", () => {
  // What the workers' option readers used to check, now checked once by the kind.
  const check = (kind: (typeof PROBE_KINDS)[number], key: string, v: unknown) => (kindModule(kind).options as Record<string, OptionDecl>)[key].format.check(v);
  const coerce = (kind: (typeof PROBE_KINDS)[number], key: string, s: string) =>
    (kindModule(kind).options as Record<string, OptionDecl>)[key].format.coerce?.(s) ?? s;
  assert.equal(check('udp', 'source_ports', 3), null);
  for (const bad of [0, 65, 'x', '', '4', 1.5, null]) assert.notEqual(check('udp', 'source_ports', bad), null, JSON.stringify(bad));
  assert.equal(coerce('udp', 'source_ports', '4'), 4, 'the environment gives strings');
  assert.equal(check('http', 'keep_alive', false), null);
  for (const bad of [1, 'true', null]) assert.notEqual(check('http', 'keep_alive', bad), null, JSON.stringify(bad));
  assert.equal(coerce('http', 'keep_alive', 'true'), true);
  assert.equal(check('http', 'server_name', 'x.test'), null);
  for (const bad of [1, '', {}]) assert.notEqual(check('http', 'server_name', bad), null, JSON.stringify(bad));
  assert.equal(check('tcp', 'close', 'fin'), null);
  for (const bad of ['x', 'FIN', 1]) assert.match(check('tcp', 'close', bad) ?? '', /must be one of reset, fin/);
  assert.equal(check('tcp_echo', 'reconnect_max_backoff', '1h'), null);
  for (const bad of ['2h', '0ms', 5, 'soon']) assert.notEqual(check('tcp_echo', 'reconnect_max_backoff', bad), null, JSON.stringify(bad));
  const d = loadConfig({ argv: [], env: {} }).probeDefaults;
  const parsed = parseTargetEntry({ name: 'u', kind: 'udp', address: '127.0.0.1:7' }, 'test', d);
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.spec.options, { kind: 'udp', sourcePorts: 1 });
});

test('a target that sets no option shares one options object per kind and timeout; its own values override probe_defaults.<kind>', () => {
  const d = loadConfig({ argv: ['--probe-defaults.tcp-echo.reconnect-max-backoff', '10s'], env: {} }).probeDefaults;
  const spec = (e: Record<string, unknown>) => {
    const p = parseTargetEntry({ kind: 'tcp_echo', address: '127.0.0.1:4000', ...e }, 'test', d);
    assert.ok(p.ok, JSON.stringify(p));
    return p.spec;
  };
  const a = spec({ name: 'a' });
  const b = spec({ name: 'b' });
  assert.equal(a.options, b.options, 'one object, not one per target');
  assert.equal(optionsOf(a.options, 'tcp_echo').reconnectMaxBackoffMs, 10_000, 'from probe_defaults.tcp_echo');
  const slow = spec({ name: 'slow', timeout: '5s', interval: '1s' });
  assert.notEqual(slow.options, a.options);
  assert.equal(optionsOf(slow.options, 'tcp_echo').connectTimeoutMs, 5000, "derived from this target's timeout");
  const own = spec({ name: 'own', reconnect_max_backoff: '2s', connect_timeout: null });
  assert.deepEqual(own.options, { kind: 'tcp_echo', reconnectMinBackoffMs: 100, reconnectMaxBackoffMs: 2000, connectTimeoutMs: 3000 });
});

test('every option of a kind is accepted flat on a target of that kind and refused, naming its kind, on any other', () => {
  const d = loadConfig({ argv: [], env: {} }).probeDefaults;
  const entryOf = (kind: string) =>
    kind === 'http' ? { kind, url: 'http://127.0.0.1:4001/' } : { kind, address: kind === 'icmp' ? '127.0.0.1' : '127.0.0.1:4000' };
  for (const k of KINDS) {
    for (const [key, decl] of declared(k.kind)) {
      assert.equal(kindOfOption(key), k.kind);
      for (const other of PROBE_KINDS) {
        const p = parseTargetEntry({ name: 't', ...entryOf(other), [key]: decl.default ?? defaultOptionValues(k.kind)[key] }, 'test', d);
        if (other === k.kind) assert.ok(p.ok || p.problems.every((x) => x.field !== key), `${key} on ${other}: ${JSON.stringify(p)}`);
        else {
          assert.equal(p.ok, false, `${key} on ${other}`);
          if (!p.ok)
            assert.ok(
              p.problems.some((x) => x.field === key && x.message === `option "${key}" belongs to kind ${k.kind}, not ${other}`),
              JSON.stringify(p.problems),
            );
        }
      }
    }
  }
});

test("the schema's probe_defaults.<kind> sections are exactly the kinds' declared options, with their docs and defaults", () => {
  const fromSchema = new Map(leaves(buildSchema()).filter(([key]) => /^probe_defaults\.(icmp|tcp|tcp_echo|udp|http)\./.test(key)));
  const fromKinds = new Map<string, OptionDecl>();
  for (const k of KINDS) for (const [key, decl] of declared(k.kind)) fromKinds.set(`probe_defaults.${k.kind}.${key}`, decl);
  assert.deepEqual([...fromSchema.keys()].sort(), [...fromKinds.keys()].sort());
  const docs = new Map(configSchemaDocs().map((d) => [d.key, d]));
  for (const [key, decl] of fromKinds) {
    const leaf = fromSchema.get(key)!;
    assert.equal(leaf.doc, decl.doc, key);
    assert.deepEqual(leaf.default, decl.default, key);
    assert.equal(Boolean(leaf.nullable), Boolean(decl.nullable), key);
    assert.equal(leaf.env === undefined, Boolean(decl.noEnv), key);
    assert.equal(docs.get(key)?.range, decl.format.range, key);
  }
});

test("every error reason has an owner, and every kind's reasons and zero-initialised reasons are known reasons", () => {
  const known = new Set<string>(ERROR_REASON_NAMES);
  const owned = new Set<string>(MAIN_THREAD_REASONS);
  for (const k of KINDS) {
    for (const r of [...k.reasons, ...k.zeroReasons]) assert.ok(known.has(r), `${k.kind}: ${r}`);
    assert.equal(new Set(k.reasons).size, k.reasons.length, `${k.kind} lists a reason twice`);
    for (const r of k.reasons) owned.add(r);
  }
  assert.deepEqual([...owned].sort(), [...known].sort(), 'a reason no kind produces');
});

test("the README's probe kinds table lists exactly each kind's options", () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### Probe kinds'), readme.indexOf('### Responder'));
  for (const k of KINDS) {
    const row = section.split('\n').find((l) => l.startsWith(`| \`${k.kind}\` |`));
    assert.ok(row, `README has no row for ${k.kind}`);
    const cells = row.split(' | ');
    const options = cells[cells.length - 1].replace(/\|\s*$/, '').trim();
    const listed = options === '—' ? [] : [...options.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]);
    assert.deepEqual(listed, Object.keys(k.options), `README options of ${k.kind}`);
  }
});
