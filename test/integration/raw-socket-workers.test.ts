// raw-socket (as patched by patches/raw-socket+1.8.1.patch) in worker threads,
// on real raw ICMP sockets over loopback only.
//
// What is checked, and why it matters to fleetprobe's data plane:
// - several worker threads each open their own ICMP socket (the unpatched addon
//   is not context-aware: "Module did not self-register"; and its poll handle
//   sat on the main loop, so a worker never got its packets);
// - a BPF filter on the echo identifier gives each worker only its own replies
//   (every raw ICMP socket gets a copy of every ICMP packet on the host);
// - terminating workers or destroying a piscina pool with sockets open and
//   receiving does not crash the process (run in child processes, so a segfault
//   is a failed exit status here, not a dead test runner);
// - ICMP_FILTER / ICMP6_FILTER work through setOption(), and the offsets BPF
//   sees per family are what src/types/raw-socket.d.ts documents.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { test, type TestContext } from 'node:test';
import { AddressFamily, Protocol, SocketLevel, SocketOption, createSocket, type Socket } from 'raw-socket';
import {
  ICMP6_ECHO_REPLY,
  ICMP_ECHO_REPLY,
  LOOPBACK,
  SKF_NET_OFF,
  byteEqualsFilter,
  dropAllFilter,
  echoRequest,
  parseEchoReply,
  type Family,
} from '../fixtures/raw-socket-icmp.js';
import type { EchoWorkerData, WorkerReport } from '../fixtures/raw-socket-worker.js';

const workerUrl = new URL('../fixtures/raw-socket-worker.js', import.meta.url);
const terminateMain = fileURLToPath(new URL('../fixtures/raw-socket-terminate-main.js', import.meta.url));
const poolMain = fileURLToPath(new URL('../fixtures/raw-socket-pool-main.js', import.meta.url));

function rawSocketsAllowed(): string | null {
  try {
    createSocket({ protocol: Protocol.ICMP }).close();
    return null;
  } catch (error) {
    return `needs root / CAP_NET_RAW: cannot open a raw ICMP socket (${(error as Error).message})`;
  }
}

function ipv6LoopbackMissing(): string | null {
  const hasLoopback6 = Object.values(networkInterfaces()).some((addresses) =>
    addresses?.some((address) => address.family === 'IPv6' && address.address === '::1'),
  );
  return hasLoopback6 ? null : 'IPv6 loopback (::1) is not configured on this host';
}

/** Skips the test (with the reason) when raw sockets or the family are unavailable. */
function skipUnless(t: TestContext, family: Family = 4): boolean {
  const reason = rawSocketsAllowed() ?? (family === 6 ? ipv6LoopbackMissing() : null);
  if (reason !== null) t.skip(reason);
  return reason === null;
}

/** Opens a raw ICMP socket that is closed when test `t` ends, even if it fails midway. */
function openIcmp(t: TestContext, family: Family): Socket {
  const socket = createSocket({
    protocol: family === 4 ? Protocol.ICMP : Protocol.ICMPv6,
    addressFamily: family === 4 ? AddressFamily.IPv4 : AddressFamily.IPv6,
  });
  t.after(() => void socket.close());
  return socket;
}

/** Pings loopback `count` times from `socket` and returns copies of what it received. */
async function pingAndCollect(socket: Socket, family: Family, identifier: number, count = 3): Promise<Buffer[]> {
  const received: Buffer[] = [];
  socket.on('message', (datagram) => received.push(Buffer.from(datagram)));
  for (let sequence = 1; sequence <= count; sequence++) {
    await new Promise<void>((resolve, reject) =>
      socket.send(echoRequest(family, identifier, sequence), 0, 16, LOOPBACK[family], (error) => (error ? reject(error) : resolve())),
    );
  }
  await new Promise((resolve) => setTimeout(resolve, 150));
  socket.close();
  return received;
}

interface EchoRun {
  identifier: number;
  result: Extract<WorkerReport, { type: 'result' }>;
  exitCode: number;
}

/** Starts `workers` echo workers together and returns each one's report. */
async function runEchoWorkers(family: Family, workers: number, filter: boolean, count: number): Promise<EchoRun[]> {
  const started = Array.from({ length: workers }, (_, index) => {
    const identifier = 0x5100 + index * 17 + (family === 6 ? 0x800 : 0) + (filter ? 0x400 : 0);
    const workerData: EchoWorkerData = { mode: 'echo', family, identifier, filter, count, intervalMs: 5 };
    const worker = new Worker(workerUrl, { workerData });
    let result: EchoRun['result'] | undefined;
    const ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (message: WorkerReport) => {
        if (message.type === 'ready') resolve();
        if (message.type === 'result') result = message;
      });
      worker.once('error', reject);
    });
    const exited = new Promise<number>((resolve, reject) => {
      worker.once('exit', resolve);
      worker.once('error', reject);
    });
    return { worker, identifier, ready, exited, result: () => result };
  });
  try {
    // All sockets open before anyone sends, so every worker sees everyone's traffic.
    await Promise.all(started.map((entry) => entry.ready));
    for (const entry of started) entry.worker.postMessage('go');
    const runs: EchoRun[] = [];
    for (const entry of started) {
      const exitCode = await entry.exited;
      const result = entry.result();
      assert.ok(result, `worker ${entry.identifier} exited (code ${exitCode}) without a result`);
      runs.push({ identifier: entry.identifier, result, exitCode });
    }
    return runs;
  } finally {
    // On failure, do not leave workers (and their sockets) keeping the runner alive.
    await Promise.all(started.map((entry) => entry.worker.terminate()));
  }
}

interface ChildOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runChild(script: string, args: string[], timeoutMs: number): Promise<ChildOutcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

for (const family of [4, 6] as const) {
  test(
    `IPv${family}: 4 worker threads each receive all their own echo replies from ${LOOPBACK[family]} and, with a BPF identifier filter, none of the others'`,
    { timeout: 60_000 },
    async (t) => {
      if (!skipUnless(t, family)) return;
      const count = 20;
      const runs = await runEchoWorkers(family, 4, true, count);
      for (const { identifier, result, exitCode } of runs) {
        assert.equal(exitCode, 0, `worker ${identifier} exit code`);
        assert.equal(result.sendErrors, 0, `worker ${identifier} send errors`);
        assert.equal(result.distinctOwnSequences, count, `worker ${identifier} got a reply to every request`);
        assert.equal(result.foreignReplies, 0, `worker ${identifier} saw another worker's replies through its filter`);
      }
    },
  );
}

test("without the BPF filter each worker also sees the other workers' replies (so the filter is what isolates them)", { timeout: 60_000 }, async (t) => {
  if (!skipUnless(t)) return;
  const count = 10;
  const runs = await runEchoWorkers(4, 3, false, count);
  for (const { identifier, result } of runs) {
    assert.equal(result.distinctOwnSequences, count, `worker ${identifier} got a reply to every request`);
    assert.ok(result.foreignReplies >= count, `worker ${identifier} saw only ${result.foreignReplies} foreign replies`);
  }
});

test('40 worker threads terminated while their raw sockets are open and receiving do not crash the process', { timeout: 120_000 }, async (t) => {
  if (!skipUnless(t)) return;
  const outcome = await runChild(terminateMain, ['40'], 90_000);
  assert.equal(outcome.signal, null, `child died by signal ${outcome.signal}: ${outcome.stderr}`);
  assert.equal(outcome.code, 0, `child exit code ${outcome.code}: ${outcome.stdout} ${outcome.stderr}`);
  const summary = JSON.parse(outcome.stdout.trim().split('\n').pop()!);
  assert.deepEqual(summary, { total: 40, receiving: 40, exited: 40, errors: [], timedOut: false });
});

test('a piscina pool destroyed while its tasks hold raw sockets open exits cleanly (code 0, no signal)', { timeout: 90_000 }, async (t) => {
  if (!skipUnless(t)) return;
  const outcome = await runChild(poolMain, ['4'], 60_000);
  assert.equal(outcome.signal, null, `child died by signal ${outcome.signal}: ${outcome.stderr}`);
  assert.equal(outcome.code, 0, `child exit code ${outcome.code}: ${outcome.stdout} ${outcome.stderr}`);
  const summary = JSON.parse(outcome.stdout.trim().split('\n').pop()!);
  assert.deepEqual(summary, { threads: 4, receiving: 4, taskErrors: [], timedOut: false });
});

test("attachFilter rejects malformed programs with clear errors and the kernel's errno", (t) => {
  if (!skipUnless(t)) return;
  const socket = openIcmp(t, 4);
  assert.throws(() => socket.attachFilter(Buffer.alloc(0)), { name: 'RangeError', message: /multiple of 8 bytes/ });
  assert.throws(() => socket.attachFilter(Buffer.alloc(12)), { name: 'RangeError', message: /multiple of 8 bytes/ });
  assert.throws(() => socket.attachFilter(Buffer.alloc(8 * 4097)), { name: 'RangeError', message: /BPF_MAXINSNS/ });
  assert.throws(() => socket.attachFilter('not a buffer' as unknown as Buffer), { name: 'TypeError', message: /Buffer/ });
  // An unknown opcode, and a jump past the end: both refused by the kernel's checker.
  const unknownOpcode = Buffer.from([0xff, 0xff, 0, 0, 0, 0, 0, 0]);
  assert.throws(() => socket.attachFilter(unknownOpcode), {
    message: /SO_ATTACH_FILTER.*Invalid argument/,
    code: 'EINVAL',
  });
  const jumpOutOfRange = Buffer.concat([byteEqualsFilter(0, 0x45).subarray(0, 8), Buffer.from([0x15, 0, 9, 9, 0, 0, 0, 0])]);
  assert.throws(() => socket.attachFilter(jumpOutOfRange), { code: 'EINVAL' });
});

test('a drop-all BPF filter silences the socket and detachFilter restores delivery', async (t) => {
  if (!skipUnless(t)) return;
  const filtered = openIcmp(t, 4);
  filtered.attachFilter(dropAllFilter());
  assert.deepEqual(await pingAndCollect(filtered, 4, 0x5e01), []);

  const detached = openIcmp(t, 4);
  detached.attachFilter(dropAllFilter());
  detached.detachFilter();
  detached.detachFilter(); // no filter attached any more: still fine
  const received = await pingAndCollect(detached, 4, 0x5e02);
  assert.ok(received.some((datagram) => parseEchoReply(4, datagram)?.identifier === 0x5e02));
});

for (const family of [4, 6] as const) {
  test(`IPv${family}: packets queued before attachFilter are discarded and counted, never read as if they had passed the program (the socket() → SO_ATTACH_FILTER race)`, async (t) => {
    if (!skipUnless(t, family)) return;
    // A raw socket receives from socket() on; a filter never runs over what is
    // already queued. Keep this socket's queue filling (nothing reads it) while
    // another socket pings, as a worker's socket does while other traffic is about.
    const late = openIcmp(t, family);
    late.pauseRecv();
    const identifier = 0x5e10 + family;
    const count = 5;
    const pinged = await pingAndCollect(openIcmp(t, family), family, identifier, count);
    assert.equal(
      new Set(
        pinged
          .map((datagram) => parseEchoReply(family, datagram))
          .filter((reply) => reply?.identifier === identifier)
          .map((reply) => reply!.sequence),
      ).size,
      count,
      'every ping was answered (so the replies are queued on the paused socket too)',
    );

    const discarded = late.attachFilter(dropAllFilter());
    const received: Buffer[] = [];
    late.on('message', (datagram) => received.push(Buffer.from(datagram)));
    late.resumeRecv();
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.deepEqual(received, [], 'a packet queued before the drop-all filter was delivered');
    // At least our requests' replies (and, on loopback, the requests themselves)
    // were queued; other ICMP on the host can only add to that.
    assert.ok(discarded >= count, `attachFilter reported ${discarded} discarded packets, expected at least ${count}`);
  });
}

/**
 * Opens a socket reachable only from its own listener (no closure shared with
 * the caller keeps it): before the patch the GC destroyed such a socket, closing
 * its fd under the queued send.
 */
function pingFromUnreferencedSocket(identifier: number, onReply: () => void): void {
  const socket = createSocket({ protocol: Protocol.ICMP });
  socket.on('message', (datagram) => {
    if (parseEchoReply(4, datagram)?.identifier !== identifier) return;
    socket.close();
    onReply();
  });
  socket.send(echoRequest(4, identifier, 1), 0, 16, LOOPBACK[4], () => {});
}

test('an open socket that nothing references is not garbage-collected: a queued send and its reply still arrive', async (t) => {
  if (!skipUnless(t)) return;
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const identifier = 0x5e0a;
  const outcome = await new Promise<string>((resolve) => {
    pingFromUnreferencedSocket(identifier, () => resolve('reply'));
    setTimeout(() => resolve('no reply within 1 s'), 1000);
    // A full GC once this executor has returned and before the loop polls.
    queueMicrotask(gc);
  });
  assert.equal(outcome, 'reply');
});

test('IPv4 raw socket: BPF offset 0 is the IPv4 header (version/IHL byte 0x45)', async (t) => {
  if (!skipUnless(t)) return;
  const ipHeaderFirst = openIcmp(t, 4);
  ipHeaderFirst.attachFilter(byteEqualsFilter(0, 0x45));
  const passed = await pingAndCollect(ipHeaderFirst, 4, 0x5e03);
  assert.ok(passed.some((datagram) => parseEchoReply(4, datagram)?.identifier === 0x5e03));
  assert.ok(
    passed.every((datagram) => datagram[0] === 0x45),
    'the message buffer starts at the IP header too',
  );

  const replyTypeAt20 = openIcmp(t, 4);
  replyTypeAt20.attachFilter(byteEqualsFilter(20, ICMP_ECHO_REPLY));
  const replies = await pingAndCollect(replyTypeAt20, 4, 0x5e04);
  assert.ok(replies.length > 0);
  assert.ok(
    replies.every((datagram) => datagram[20] === ICMP_ECHO_REPLY),
    'only echo replies pass [20] == 0',
  );
});

test('IPv6 raw ICMPv6 socket: BPF offset 0 is the ICMPv6 header; the IPv6 header is at SKF_NET_OFF', async (t) => {
  if (!skipUnless(t, 6)) return;
  const icmpFirst = openIcmp(t, 6);
  icmpFirst.attachFilter(byteEqualsFilter(0, ICMP6_ECHO_REPLY));
  const replies = await pingAndCollect(icmpFirst, 6, 0x5e05);
  assert.ok(replies.some((datagram) => parseEchoReply(6, datagram)?.identifier === 0x5e05));
  assert.ok(replies.every((datagram) => datagram[0] === ICMP6_ECHO_REPLY));

  const ipv6HeaderAtZero = openIcmp(t, 6);
  ipv6HeaderAtZero.attachFilter(byteEqualsFilter(0, 0x60));
  assert.deepEqual(await pingAndCollect(ipv6HeaderAtZero, 6, 0x5e06), [], 'offset 0 is not the IPv6 header');

  const ipv6HeaderAtNetOff = openIcmp(t, 6);
  ipv6HeaderAtNetOff.attachFilter(byteEqualsFilter(SKF_NET_OFF, 0x60));
  const viaNetOff = await pingAndCollect(ipv6HeaderAtNetOff, 6, 0x5e07);
  assert.ok(viaNetOff.some((datagram) => parseEchoReply(6, datagram)?.identifier === 0x5e07));
});

test('ICMP_FILTER via setOption(SOL_RAW, ICMP_FILTER, 4-byte mask) passes only echo replies on IPv4', async (t) => {
  if (!skipUnless(t)) return;
  assert.equal(SocketLevel.SOL_RAW, 255);
  assert.equal(SocketOption.ICMP_FILTER, 1);
  const socket = openIcmp(t, 4);
  const blockAllButEchoReply = Buffer.alloc(4);
  blockAllButEchoReply.writeUInt32LE(~(1 << ICMP_ECHO_REPLY) >>> 0);
  socket.setOption(255, 1, blockAllButEchoReply, 4);
  const received = await pingAndCollect(socket, 4, 0x5e08);
  // Only our own datagrams (identifier at ICMP offset 4, after the 20-byte IP header):
  // unlike attachFilter, setOption does not empty the queue, so ICMP of other processes
  // that arrived between socket() and setOption() (another test probing) may follow.
  const ours = received.filter((datagram) => datagram.length >= 28 && datagram.readUInt16BE(24) === 0x5e08);
  assert.ok(
    ours.some((datagram) => datagram[20] === ICMP_ECHO_REPLY),
    'our echo replies pass',
  );
  // Without the filter our looped-back echo requests (type 8) arrive too.
  assert.ok(
    ours.every((datagram) => datagram[20] === ICMP_ECHO_REPLY),
    `types ${ours.map((d) => d[20]).join(',')}`,
  );
});

test('ICMP6_FILTER via setOption(IPPROTO_ICMPV6, ICMP6_FILTER, 32-byte mask) passes only echo replies on IPv6', async (t) => {
  if (!skipUnless(t, 6)) return;
  assert.equal(SocketLevel.IPPROTO_ICMPV6, 58);
  assert.equal(SocketOption.ICMP6_FILTER, 1);
  const socket = openIcmp(t, 6);
  const filter = Buffer.alloc(32, 0xff); // every type blocked...
  const word = ICMP6_ECHO_REPLY >> 5;
  filter.writeUInt32LE(~(1 << (ICMP6_ECHO_REPLY & 31)) >>> 0, word * 4); // ...but echo reply
  socket.setOption(58, 1, filter, 32);
  const received = await pingAndCollect(socket, 6, 0x5e09);
  // Only our own (identifier at offset 4 of the ICMPv6 header), as for IPv4 above.
  const ours = received.filter((datagram) => datagram.length >= 8 && datagram.readUInt16BE(4) === 0x5e09);
  assert.ok(
    ours.some((datagram) => datagram[0] === ICMP6_ECHO_REPLY),
    'our echo replies pass',
  );
  assert.ok(
    ours.every((datagram) => datagram[0] === ICMP6_ECHO_REPLY),
    `types ${ours.map((d) => d[0]).join(',')}`,
  );
});
