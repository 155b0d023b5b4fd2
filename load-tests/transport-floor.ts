/**
 * The floor under a /metrics scrape's time: a Node HTTP server on 127.0.0.1 writing N MiB
 * of prebuilt 1 MiB buffers (no rendering at all, with back-pressure as /metrics has)
 * to curl, request to last byte. What is left of a scrape goal after the bytes alone
 * have moved through the loopback socket.
 *
 *   node dist/load-tests/transport-floor.js [MiB...]     (default: 30 108 303, the text
 *       at 10k and 100k targets and the protobuf at 100k of the bench's fleet)
 *
 * Five requests per size, median and minimum printed. Loopback only; bounded (each curl
 * has --max-time 60).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { curlTimed } from './http-client.js';

const CHUNK = Buffer.alloc(1 << 20, 0x61);
const REQUESTS = 5;

async function floor(mib: number): Promise<{ medianMs: number; minMs: number }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    let left = mib;
    const more = (): void => {
      while (left > 0) {
        left--;
        if (!res.write(CHUNK)) {
          res.once('drain', more);
          return;
        }
      }
      res.end();
    };
    more();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const times: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      times.push((await curlTimed(`http://127.0.0.1:${port}/`)).seconds * 1000);
    }
    times.sort((a, b) => a - b);
    return { medianMs: times[Math.floor(REQUESTS / 2)], minMs: times[0] };
  } finally {
    server.close();
  }
}

const sizes = process.argv.slice(2).map(Number);
for (const mib of sizes.length > 0 ? sizes : [30, 108, 303]) {
  if (!(Number.isInteger(mib) && mib > 0 && mib <= 4096)) throw new Error(`size must be 1..4096 MiB, got ${mib}`);
  const f = await floor(mib);
  process.stdout.write(`${mib} MiB to curl over loopback: median ${f.medianMs.toFixed(0)} ms, min ${f.minMs.toFixed(0)} ms (${REQUESTS} requests)\n`);
}
