/**
 * The responder thread (a worker_threads Worker started by thread-supervisor.ts).
 *
 * Why a thread of its own: the responder's answers ARE the measurement its peers
 * make. On the main thread, every millisecond spent rendering /metrics, merging
 * batches or reloading was a millisecond added to the peers' RTT, and 50 concurrent
 * scrapes made them see 58 % (tcp) to 93 % (http) false timeouts. Here nothing but
 * the three listeners runs on the event loop.
 *
 * Protocol (thread-protocol.ts): start with workerData = { options, stats, debug };
 * post `listening` with the bound addresses, or `listen_failed` naming the listener
 * (then wait to be terminated); answer `snapshot` with a copy of the counters; on
 * `close`, let connections flush for graceMs, close every listener, post `closed`
 * and let the thread end.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ResponderListenError, startListeners, type Listeners } from './listeners.js';
import { ResponderStats } from './metrics.js';
import { portLogger, type FromResponderThread, type ResponderThreadData, type ToResponderThread } from './thread-protocol.js';

if (!parentPort) throw new Error('responder/thread.js runs as a worker thread');
const port = parentPort;
const data = workerData as ResponderThreadData;
const stats = new ResponderStats(new Float64Array(data.stats));
const logger = portLogger(port, data.debug);
const post = (m: FromResponderThread, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer);

let listeners: Listeners | null = null;
let closeAsked: number | null = null;

async function close(graceMs: number): Promise<void> {
  await listeners?.close(graceMs);
  post({ type: 'closed' });
  // Nothing else holds the loop open once the port is closed: the thread ends.
  port.close();
}

port.on('message', (m: ToResponderThread) => {
  switch (m.type) {
    case 'snapshot': {
      // A private copy: consistent, and transferred rather than cloned.
      const values = stats.values.slice();
      post({ type: 'snapshot', id: m.id, values }, [values.buffer]);
      break;
    }
    case 'close':
      if (listeners) void close(m.graceMs);
      else closeAsked = m.graceMs; // still starting: close once started
      break;
  }
});

try {
  listeners = await startListeners(data.options, stats, logger);
  post({ type: 'listening', addresses: listeners.addresses() });
  if (closeAsked !== null) void close(closeAsked);
} catch (err) {
  if (!(err instanceof ResponderListenError)) throw err;
  post({ type: 'listen_failed', listener: err.listener, at: err.at, code: err.code, cause: err.reason });
  if (closeAsked !== null) void close(0);
}
