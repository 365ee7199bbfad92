/**
 * Peer 5, the machine's ceiling: node:http reading each request and answering a fixed body. The harness sets the
 * body (OpsHub's own response to the workload, so the size matches) with `PUT /_bench/body` before each workload.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { benchPort } from './port.js';

let body: Buffer = Buffer.from('{"data":{}}');

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const server = createServer((req, res) => {
  readBody(req).then(
    (received) => {
      if (req.method === 'PUT' && req.url === '/_bench/body') body = received;
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
      res.end(body);
    },
    () => res.destroy(),
  );
});

server.listen(benchPort(), '127.0.0.1');
const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
