/**
 * Mesh mode end to end: three fleetprobe processes on one machine, node-a/b/c on
 * 127.0.0.1/2/3, all started from the SAME config and peers file
 * (config/mesh-peers.example.json), each with its responder on its own address and
 * the same ports (a node probes its peers on its own responder ports: meshPorts in
 * src/targets/mesh.ts). Each node must probe exactly the two others with every kind
 * (targets "<peer>/<kind>"), never itself, get every answer once all are up, and its
 * responder must count the probes the others sent it.
 *
 * Self detection without mesh.name compares peer addresses with this host's
 * interface addresses; on one machine only 127.0.0.1 is one, so node-a (127.0.0.1)
 * recognises itself and node-b/node-c could not (hence --mesh.name in the mesh).
 *
 * Needs root / CAP_NET_RAW (icmp is one of the mesh kinds).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ExporterProcess, isRoot, REPO_ROOT, tempDir, waitFor, type Metrics } from '../helpers/exporter-process.js';
import { portFreeOnAll } from '../helpers/mesh-ports.js';
import { describeTargets, snapshot, totalsDelta, type ProbeTotals } from '../helpers/mesh-totals.js';

const PEERS_FILE = join(REPO_ROOT, 'config', 'mesh-peers.example.json');
const NODES = [
  { name: 'node-a', host: '127.0.0.1', rack: 'r1' },
  { name: 'node-b', host: '127.0.0.2', rack: 'r1' },
  { name: 'node-c', host: '127.0.0.3', rack: 'r2' },
] as const;
const KINDS = ['icmp', 'tcp_echo', 'udp', 'http'] as const;
const WARM = 2; // answers per target before the measured window
const MEASURED = 8; // answers per target inside it
const SKIP_NOT_ROOT = isRoot ? false : 'needs root / CAP_NET_RAW: mesh kinds include icmp (raw sockets)';

type Node = (typeof NODES)[number];

const targetsOf = (self: string): string[] => NODES.filter((n) => n.name !== self).flatMap((n) => KINDS.map((k) => `${n.name}/${k}`));

/** The config every node shares; per-node differences are flags only. */
function sharedConfig(dir: ReturnType<typeof tempDir>): string {
  return dir.file('mesh.yaml', {
    workers: 1, // three processes on a small machine
    flush_interval: '100ms',
    probe_defaults: { interval: '200ms', timeout: '1s', tcp_echo: { reconnect_max_backoff: '300ms' } },
    responder: { allow_cidrs: ['127.0.0.0/8'] },
    mesh: { peers_file: PEERS_FILE, kinds: [...KINDS] },
  });
}

function nodeArgs(cfg: string, node: Node, webPort: number, echoPort: number, httpPort: number, named: boolean): string[] {
  return [
    'run',
    '--config',
    cfg,
    ...(named ? ['--mesh.name', node.name] : []),
    '--web.listen-address',
    `${node.host}:${webPort}`,
    '--responder.tcp-echo',
    `${node.host}:${echoPort}`,
    '--responder.udp-echo',
    `${node.host}:${echoPort}`,
    '--responder.http',
    `${node.host}:${httpPort}`,
  ];
}

interface ApiTarget {
  name: string;
  kind: string;
  address: string;
  state: string;
  error?: string;
}

async function meshView(proc: ExporterProcess): Promise<{ self: string | null; targets: ApiTarget[] }> {
  const status = JSON.parse((await proc.request('/api/v1/status')).text()) as { targets: { mesh_self: string | null } };
  const api = JSON.parse((await proc.request('/api/v1/targets')).text()) as { targets: ApiTarget[] };
  return { self: status.targets.mesh_self, targets: api.targets };
}

test(
  'three mesh nodes from one peers file probe exactly each other with every kind, lose nothing, and answer each other',
  { skip: SKIP_NOT_ROOT, timeout: 60_000 },
  async (t) => {
    const dir = tempDir('fp-mesh');
    const cfg = sharedConfig(dir);
    const hosts = NODES.map((n) => n.host);
    const echoPort = await portFreeOnAll(hosts, { udp: true });
    const httpPort = await portFreeOnAll(hosts, { avoid: [echoPort] });
    const procs: ExporterProcess[] = [];
    t.after(async () => {
      await Promise.all(procs.map((p) => p.stop(3000)));
      dir.cleanup();
    });
    for (const node of NODES) {
      const webPort = await portFreeOnAll([node.host], { avoid: [echoPort, httpPort] });
      procs.push(new ExporterProcess(nodeArgs(cfg, node, webPort, echoPort, httpPort, true), `${node.host}:${webPort}`));
    }
    await Promise.all(procs.map((p) => p.waitReady(25_000)));

    // Who probes what: the two other peers x every kind, self by configured name.
    for (const [i, node] of NODES.entries()) {
      const view = await meshView(procs[i]);
      assert.equal(view.self, node.name, `${node.name} recognises itself by mesh.name`);
      assert.deepEqual(view.targets.map((x) => x.name).sort(), targetsOf(node.name).sort(), `${node.name} probes exactly the other peers x kinds`);
      assert.deepEqual(
        view.targets.filter((x) => x.state !== 'ok').map((x) => `${x.name}: ${x.state} ${x.error}`),
        [],
        `${node.name}: every target accepted`,
      );
      for (const x of view.targets) {
        const peer = NODES.find((n) => x.name.startsWith(`${n.name}/`))!;
        assert.equal(x.kind, x.name.split('/')[1], `${x.name}: kind from the name`);
        const want = x.kind === 'icmp' ? peer.host : x.kind === 'http' ? `${peer.host}:${httpPort}` : `${peer.host}:${echoPort}`;
        assert.equal(x.address, want, `${node.name} probes ${x.name} at the peer's address on the shared responder port`);
      }
    }

    const scrapeAll = () => Promise.all(procs.map((p) => p.scrape()));
    const describeAll = (ms: Metrics[]) => NODES.map((n, i) => `== ${n.name}\n${describeTargets(ms[i], targetsOf(n.name))}`).join('\n');
    const receivedAtLeast = (ms: Metrics[], base: Array<Map<string, ProbeTotals>> | null, want: number) =>
      NODES.every((n, i) =>
        targetsOf(n.name).every(
          (name) => (ms[i].value('fleetprobe_probe_received_total', { target: name }) ?? 0) - (base?.[i].get(name)?.received ?? 0) >= want,
        ),
      );
    const explain = async (err: Error): Promise<never> => {
      throw new Error(`${err.message}\n${describeAll(await scrapeAll())}`);
    };

    // Warm-up: the nodes came up one after another, so early probes may have met a
    // peer that was not listening yet. Once all answer, the measured window starts.
    await waitFor(
      `${WARM} answers on every target of every node, tcp_echo connected`,
      async () => {
        const ms = await scrapeAll();
        const connected = NODES.every((n, i) =>
          targetsOf(n.name)
            .filter((x) => x.endsWith('/tcp_echo'))
            .every((x) => ms[i].value('fleetprobe_connected', { target: x }) === 1),
        );
        return connected && receivedAtLeast(ms, null, WARM) && ms;
      },
      20_000,
      250,
    ).catch(explain);
    // Probes sent before a peer was listening (a UDP datagram to an unbound port gets no
    // answer) are still in flight for up to the 1 s timeout: let them settle first, or
    // their timeouts would land in the measured window.
    await new Promise((r) => setTimeout(r, 1_300));
    const base = await scrapeAll();
    const before = NODES.map((n, i) => snapshot(base[i], targetsOf(n.name)));
    const responderBefore = base.map((m) => ({
      frames: m.value('fleetprobe_responder_frames_total') ?? 0,
      datagrams: m.value('fleetprobe_responder_datagrams_total') ?? 0,
      http: m.value('fleetprobe_responder_http_requests_total') ?? 0,
    }));

    const end = await waitFor(
      `${MEASURED} more answers on every target of every node`,
      async () => {
        const ms = await scrapeAll();
        return receivedAtLeast(ms, before, MEASURED) && ms;
      },
      20_000,
      250,
    ).catch(explain);
    // Responders scraped after the probers: every answer a prober counted was sent (and
    // counted) by the peer's responder before, so responder totals >= prober totals.
    const responders = await scrapeAll();

    for (const [i, node] of NODES.entries()) {
      const m = end[i];
      assert.deepEqual(
        [...m.labelValues('fleetprobe_probe_sent_total', 'target')].sort(),
        targetsOf(node.name).sort(),
        `${node.name}: series only for the other peers`,
      );
      for (const name of targetsOf(node.name)) {
        const d = totalsDelta(before[i].get(name)!, snapshot(m, [name]).get(name)!);
        const why = `${node.name} -> ${name}\n${describeTargets(m, targetsOf(node.name))}`;
        assert.ok(d.received >= MEASURED, `${why}: answers in the window`);
        assert.equal(d.timeouts, 0, `${why}: no timeouts after warm-up`);
        assert.equal(d.errors, 0, `${why}: no errors after warm-up`);
        assert.ok(d.sent - d.received <= 1, `${why}: sent ${d.sent} vs received ${d.received} (one may be in flight)`);
        const peer = NODES.find((n) => name.startsWith(`${n.name}/`))!;
        const sample = m.find('fleetprobe_probe_received_total', { target: name })[0];
        assert.equal(sample.labels.rack, peer.rack, `${name}: the peer's labels from the peers file`);
      }
    }

    for (const [i, node] of NODES.entries()) {
      const others = NODES.map((_, j) => j).filter((j) => j !== i);
      const gotFrom = (kind: string) =>
        others.reduce((a, j) => a + (end[j].value('fleetprobe_probe_received_total', { target: `${node.name}/${kind}` }) ?? 0), 0);
      const r = responders[i];
      const frames = r.value('fleetprobe_responder_frames_total') ?? 0;
      const datagrams = r.value('fleetprobe_responder_datagrams_total') ?? 0;
      const http = r.value('fleetprobe_responder_http_requests_total') ?? 0;
      assert.ok(frames >= gotFrom('tcp_echo'), `${node.name}: responder echoed ${frames} frames, peers got ${gotFrom('tcp_echo')}`);
      assert.ok(datagrams >= gotFrom('udp'), `${node.name}: responder echoed ${datagrams} datagrams, peers got ${gotFrom('udp')}`);
      assert.ok(http >= gotFrom('http'), `${node.name}: responder answered ${http} pings, peers got ${gotFrom('http')}`);
      const b = responderBefore[i];
      assert.ok(frames - b.frames >= 2 * MEASURED, `${node.name}: frames grew by ${frames - b.frames} (two peers probing)`);
      assert.ok(datagrams - b.datagrams >= 2 * MEASURED, `${node.name}: datagrams grew by ${datagrams - b.datagrams}`);
      assert.ok(http - b.http >= 2 * MEASURED, `${node.name}: http pings grew by ${http - b.http}`);
      // One persistent tcp_echo connection per probing peer.
      assert.equal(r.value('fleetprobe_responder_connections'), 2, `${node.name}: open echo connections (one per peer)`);
    }
  },
);

test(
  'without mesh.name, the node at 127.0.0.1 recognises itself by interface address and skips itself',
  { skip: SKIP_NOT_ROOT, timeout: 30_000 },
  async (t) => {
    const dir = tempDir('fp-mesh-addr');
    const cfg = sharedConfig(dir);
    const node = NODES[0];
    const echoPort = await portFreeOnAll([node.host], { udp: true });
    const httpPort = await portFreeOnAll([node.host], { avoid: [echoPort] });
    const webPort = await portFreeOnAll([node.host], { avoid: [echoPort, httpPort] });
    const proc = new ExporterProcess(nodeArgs(cfg, node, webPort, echoPort, httpPort, false), `${node.host}:${webPort}`);
    t.after(async () => {
      await proc.stop(3000);
      dir.cleanup();
    });
    await proc.waitReady(20_000);

    const view = await meshView(proc);
    assert.equal(view.self, 'node-a', 'self found by address (127.0.0.1 is an interface address)');
    const names = view.targets.map((x) => x.name).sort();
    assert.deepEqual(names, targetsOf('node-a').sort(), 'the other two peers x every kind');
    assert.deepEqual(
      names.filter((n) => n.startsWith('node-a/')),
      [],
      'never itself',
    );

    // The peers are really probed: the kernel answers icmp for all of 127.0.0.0/8 (no
    // responders run on .2/.3 here, so only icmp is expected to answer).
    const icmp = ['node-b/icmp', 'node-c/icmp'];
    const m = await waitFor(
      'icmp answers from node-b and node-c',
      async () => {
        const x = await proc.scrape();
        return icmp.every((n) => (x.value('fleetprobe_probe_received_total', { target: n }) ?? 0) >= 2) && x;
      },
      15_000,
      250,
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${describeTargets(await proc.scrape(), icmp)}`);
    });
    assert.deepEqual([...m.labelValues('fleetprobe_probe_sent_total', 'target')].sort(), targetsOf('node-a').sort(), 'series only for the other peers');
  },
);
