/**
 * An OTLP metrics collector that receives and discards, as its own process (so its
 * CPU is not counted as the exporter's): OTLP/HTTP on one loopback port (any POST
 * answered 200 with an empty ExportMetricsServiceResponse once the body is read)
 * and OTLP/gRPC on another (MetricsService/Export answered with an empty response;
 * the request bytes are counted, not decoded).
 *
 *   node dist/load-tests/otlp-sink.js
 *
 * Prints one JSON line {"http":PORT,"grpc":PORT} when listening; on SIGTERM prints
 * {"requests":N,"bytes":B} and exits. Loopback only.
 */
import { createServer } from 'node:http';
import * as grpc from '@grpc/grpc-js';

/** The OTLP gRPC method (opentelemetry.proto.collector.metrics.v1.MetricsService/Export). */
const EXPORT_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

let requests = 0;
let bytes = 0;

const http = createServer((req, res) => {
  req.on('data', (c: Buffer) => (bytes += c.length));
  req.on('end', () => {
    requests++;
    const json = String(req.headers['content-type'] ?? '').includes('json');
    res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' }).end(json ? '{}' : '');
  });
});

const server = new grpc.Server();
server.addService(
  {
    Export: {
      path: EXPORT_PATH,
      requestStream: false,
      responseStream: false,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      // An empty message is a valid ExportMetricsServiceResponse.
      responseSerialize: () => Buffer.alloc(0),
      responseDeserialize: (b: Buffer) => b,
    },
  },
  {
    Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      requests++;
      bytes += call.request.length;
      callback(null, Buffer.alloc(0));
    },
  },
);

async function main(): Promise<void> {
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const grpcPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
  process.stdout.write(`${JSON.stringify({ http: (http.address() as { port: number }).port, grpc: grpcPort })}\n`);
}

process.once('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ requests, bytes })}\n`);
  server.forceShutdown();
  http.closeAllConnections();
  http.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
});

main().catch((err: unknown) => {
  process.stderr.write(`otlp-sink: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
