/**
 * A stand-in OpenTelemetry collector for the bench: accepts OTLP/HTTP trace exports (protobuf or JSON) and answers
 * 200 with an empty response message, counting requests and bytes, so a traced candidate pays the real cost of
 * building, batching, encoding and sending its spans.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OtlpSink {
  url: string;
  requests: number;
  bytes: number;
  close(): Promise<void>;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  const sink = { requests: 0, bytes: 0 };
  const server = createServer((request, response) => {
    request.on('data', (chunk: Buffer) => (sink.bytes += chunk.length));
    request.on('end', () => {
      sink.requests += 1;
      // An empty ExportTraceServiceResponse: zero bytes in protobuf, `{}` in JSON.
      const json = request.headers['content-type']?.includes('json') ?? false;
      response.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
      response.end(json ? '{}' : undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(sink, {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
