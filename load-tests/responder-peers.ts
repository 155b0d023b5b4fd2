/**
 * Plain peers of a responder: what the other nodes of a mesh do to it, without a
 * second exporter in the way. Three loops on loopback, each sending one probe every
 * `intervalMs` with its own `timeoutMs` (a fleetprobe prober's defaults: 1 s):
 *  - tcp_echo: one persistent connection, a 16-byte tcp_ping_prometheus frame per
 *    probe, matched on its sequence number;
 *  - udp: one socket, an 8-byte sequence number per datagram;
 *  - http: GET /v1/ping on a new connection per probe (fleetprobe's http default).
 * Outcomes are tallied per PHASE (the phase current when the probe was SENT), so a
 * caller can compare "before", "storm" and "after".
 *
 * A timeout is declared only after the I/O already waiting has been read: when a
 * timer fires, the decision is deferred with setImmediate (which runs after the
 * poll phase), so a late tick of this process's own event loop is not counted
 * as the responder's loss. Bounded: stop() ends every loop; every probe has a timer.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseDuration } from '../src/values/duration.js';
import { ECHO_FRAME_BYTES, encodeEchoFrame, unixNanosNow } from '../src/protocol/echo-frame.js';

export const PEER_PROTOCOLS = ['tcp_echo', 'udp', 'http'] as const;
export type PeerProtocol = (typeof PEER_PROTOCOLS)[number];

export interface PeerTally {
  sent: number;
  answered: number;
  timeouts: number;
  /** Connection refused/reset, HTTP status other than 200... */
  errors: number;
  /** Slowest answer, ms. */
  maxRttMs: number;
}

export interface PeerTargets {
  host: string;
  tcpEchoPort?: number;
  udpPort?: number;
  httpPort?: number;
}

export interface PeerOptions {
  intervalMs: number;
  timeoutMs: number;
}

const emptyTally = (): PeerTally => ({ sent: 0, answered: 0, timeouts: 0, errors: 0, maxRttMs: 0 });

interface Outstanding {
  phase: string;
  sentAt: number;
  timer: NodeJS.Timeout;
}

export class ResponderPeers {
  private phase = 'start';
  private readonly tallies = new Map<string, Record<PeerProtocol, PeerTally>>();
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private seq = 0;
  private readonly tcpPending = new Map<bigint, Outstanding>();
  private readonly udpPending = new Map<number, Outstanding>();
  private tcp: Socket | null = null;
  private tcpBuf: Buffer = Buffer.alloc(0);
  private udp: UdpSocket | null = null;

  constructor(
    private readonly targets: PeerTargets,
    private readonly opts: PeerOptions,
  ) {
    if (!/^127\.\d+\.\d+\.\d+$/.test(targets.host)) throw new Error(`peers probe loopback only, not ${targets.host}`);
  }

  /** Connect and start the loops (resolves once the tcp connection and udp socket are ready). */
  async start(): Promise<void> {
    if (this.targets.tcpEchoPort !== undefined) await this.connectTcp();
    if (this.targets.udpPort !== undefined) await this.openUdp();
    const every = (fn: () => void): void => {
      this.timers.push(setInterval(fn, this.opts.intervalMs));
    };
    if (this.targets.tcpEchoPort !== undefined) every(() => this.probeTcp());
    if (this.targets.udpPort !== undefined) every(() => this.probeUdp());
    if (this.targets.httpPort !== undefined) every(() => this.probeHttp());
  }

  /** Probes sent from now on are tallied under `name`. */
  setPhase(name: string): void {
    this.phase = name;
  }

  /** Tallies of `phase` (zeros when nothing was sent in it). */
  tally(phase: string): Record<PeerProtocol, PeerTally> {
    return this.tallies.get(phase) ?? { tcp_echo: emptyTally(), udp: emptyTally(), http: emptyTally() };
  }

  /** Stop sending, wait until every outstanding probe has an outcome (at most timeoutMs), close. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    const deadline = Date.now() + this.opts.timeoutMs + 500;
    while ((this.tcpPending.size > 0 || this.udpPending.size > 0 || this.httpInFlight > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    this.tcp?.destroy();
    this.udp?.close();
  }

  private t(phase: string, proto: PeerProtocol): PeerTally {
    let p = this.tallies.get(phase);
    if (!p) this.tallies.set(phase, (p = { tcp_echo: emptyTally(), udp: emptyTally(), http: emptyTally() }));
    return p[proto];
  }

  private answered(proto: PeerProtocol, o: Outstanding): void {
    clearTimeout(o.timer);
    const t = this.t(o.phase, proto);
    t.answered++;
    t.maxRttMs = Math.max(t.maxRttMs, performance.now() - o.sentAt);
  }

  /** Timer for one probe: on expiry, give pending I/O one poll phase, then call `expire`. */
  private deadline(expire: () => void): NodeJS.Timeout {
    return setTimeout(() => setImmediate(expire), this.opts.timeoutMs);
  }

  private connectTcp(): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: this.targets.host, port: this.targets.tcpEchoPort!, noDelay: true }, () => {
        s.off('error', reject);
        resolve();
      });
      s.once('error', reject);
      s.on('data', (chunk: Buffer) => {
        this.tcpBuf = this.tcpBuf.length ? Buffer.concat([this.tcpBuf, chunk]) : chunk;
        let off = 0;
        for (; off + ECHO_FRAME_BYTES <= this.tcpBuf.length; off += ECHO_FRAME_BYTES) {
          const seq = this.tcpBuf.readBigUInt64BE(off);
          const o = this.tcpPending.get(seq);
          if (!o) continue; // late: already counted as a timeout
          this.tcpPending.delete(seq);
          this.answered('tcp_echo', o);
        }
        this.tcpBuf = this.tcpBuf.subarray(off);
      });
      s.on('close', () => {
        if (this.tcp === s) this.tcp = null;
      });
      s.on('error', () => {});
      this.tcp = s;
    });
  }

  private probeTcp(): void {
    if (this.stopped) return;
    const phase = this.phase;
    const t = this.t(phase, 'tcp_echo');
    t.sent++;
    const s = this.tcp;
    if (!s || s.destroyed) {
      t.errors++; // the connection broke: a prober would count connect errors
      return;
    }
    const seq = BigInt(++this.seq);
    const o: Outstanding = {
      phase,
      sentAt: performance.now(),
      timer: this.deadline(() => {
        if (this.tcpPending.delete(seq)) this.t(phase, 'tcp_echo').timeouts++;
      }),
    };
    this.tcpPending.set(seq, o);
    s.write(encodeEchoFrame(seq, unixNanosNow()));
  }

  private openUdp(): Promise<void> {
    return new Promise((resolve, reject) => {
      const u = createSocket('udp4');
      u.once('error', reject);
      u.on('message', (msg) => {
        if (msg.length < 8) return;
        const seq = Number(msg.readBigUInt64BE(0));
        const o = this.udpPending.get(seq);
        if (!o) return;
        this.udpPending.delete(seq);
        this.answered('udp', o);
      });
      u.bind({ address: '127.0.0.1', port: 0 }, () => {
        u.off('error', reject);
        u.on('error', () => {});
        this.udp = u;
        resolve();
      });
    });
  }

  private probeUdp(): void {
    if (this.stopped || !this.udp) return;
    const phase = this.phase;
    this.t(phase, 'udp').sent++;
    const seq = ++this.seq;
    const o: Outstanding = {
      phase,
      sentAt: performance.now(),
      timer: this.deadline(() => {
        if (this.udpPending.delete(seq)) this.t(phase, 'udp').timeouts++;
      }),
    };
    this.udpPending.set(seq, o);
    const payload = Buffer.alloc(32);
    payload.writeBigUInt64BE(BigInt(seq), 0);
    this.udp.send(payload, this.targets.udpPort, this.targets.host);
  }

  private httpInFlight = 0;

  private probeHttp(): void {
    if (this.stopped) return;
    const phase = this.phase;
    this.t(phase, 'http').sent++;
    this.httpInFlight++;
    let done = false;
    const finish = (outcome: 'answered' | 'timeout' | 'error', o?: Outstanding): void => {
      if (done) return;
      done = true;
      this.httpInFlight--;
      clearTimeout(o?.timer ?? timer.timer);
      if (outcome === 'answered') this.answered('http', o!);
      else if (outcome === 'timeout') this.t(phase, 'http').timeouts++;
      else this.t(phase, 'http').errors++;
    };
    const timer: Outstanding = {
      phase,
      sentAt: performance.now(),
      timer: this.deadline(() => {
        req.destroy();
        finish('timeout');
      }),
    };
    const req = request({ host: this.targets.host, port: this.targets.httpPort!, path: '/v1/ping', agent: false }, (res) => {
      res.resume();
      res.on('end', () => finish(res.statusCode === 200 ? 'answered' : 'error', timer));
      res.on('error', () => finish('error'));
    });
    req.on('error', () => finish('error'));
    req.end();
  }
}

/** A Markdown table of the tallies of `phases`. */
export function formatPeerTallies(peers: ResponderPeers, phases: readonly string[]): string {
  const lines = ['| phase | protocol | sent | answered | timeouts | errors | max RTT ms |', '| --- | --- | --- | --- | --- | --- | --- |'];
  for (const phase of phases) {
    const t = peers.tally(phase);
    for (const p of PEER_PROTOCOLS) {
      const x = t[p];
      if (x.sent === 0) continue;
      lines.push(`| ${phase} | ${p} | ${x.sent} | ${x.answered} | ${x.timeouts} | ${x.errors} | ${x.maxRttMs.toFixed(1)} |`);
    }
  }
  return lines.join('\n');
}

export const PEERS_USAGE = `usage: node dist/load-tests/responder-peers.js --host 127.0.0.1 [--tcp-echo PORT] [--udp PORT] [--http PORT]
       [--duration 5s] [--interval 50ms] [--timeout 1s]
Probes a responder for the duration (at most 10m), then prints the tallies as JSON.`;

export function parsePeersArgs(argv: readonly string[]): { targets: PeerTargets; opts: PeerOptions; durationMs: number } {
  const targets: PeerTargets = { host: '127.0.0.1' };
  const opts: PeerOptions = { intervalMs: 50, timeoutMs: 1000 };
  let durationMs = 5000;
  const port = (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`bad port ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i += 2) {
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${argv[i]} needs a value`);
    switch (argv[i]) {
      case '--host':
        targets.host = v;
        break;
      case '--tcp-echo':
        targets.tcpEchoPort = port(v);
        break;
      case '--udp':
        targets.udpPort = port(v);
        break;
      case '--http':
        targets.httpPort = port(v);
        break;
      case '--duration':
        durationMs = parseDuration(v);
        break;
      case '--interval':
        opts.intervalMs = parseDuration(v);
        break;
      case '--timeout':
        opts.timeoutMs = parseDuration(v);
        break;
      default:
        throw new Error(`unknown option ${argv[i]}`);
    }
  }
  if (!(durationMs > 0 && durationMs <= 600_000)) throw new Error('--duration must be > 0 and at most 10m');
  if (!(opts.intervalMs >= 1) || !(opts.timeoutMs >= 1)) throw new Error('--interval and --timeout must be at least 1ms');
  return { targets, opts, durationMs };
}

async function main(argv: readonly string[]): Promise<number> {
  let a;
  try {
    a = parsePeersArgs(argv);
  } catch (e) {
    process.stderr.write(`responder-peers: ${(e as Error).message}\n${PEERS_USAGE}\n`);
    return 2;
  }
  const peers = new ResponderPeers(a.targets, a.opts);
  await peers.start();
  peers.setPhase('run');
  process.stderr.write('probing\n');
  await new Promise((r) => setTimeout(r, a.durationMs));
  await peers.stop();
  process.stdout.write(`${JSON.stringify(peers.tally('run'))}\n`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (c) => process.exit(c),
    (e: unknown) => {
      process.stderr.write(`responder-peers: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
