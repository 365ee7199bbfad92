/**
 * The fan-out floor: a plain `ws` server, run as a child process of the harness (IPC), that broadcasts a frame to
 * every socket connected to it in one loop — what any GraphQL fan-out adds to. A control socket (path `/control`)
 * sends `{ frame }`; the server writes it to every other socket and answers `{ writeMs }`, the time of its loop from
 * the control message's arrival to the last write.
 */
import { WebSocketServer, type WebSocket } from 'ws';

const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
const subscribers = new Set<WebSocket>();

server.on('connection', (socket, request) => {
  if (request.url === '/control') {
    socket.on('message', (raw: Buffer) => {
      const started = performance.now();
      const { frame } = JSON.parse(raw.toString('utf8')) as { frame: string };
      for (const subscriber of subscribers) subscriber.send(frame);
      socket.send(JSON.stringify({ writeMs: performance.now() - started }));
    });
    return;
  }
  subscribers.add(socket);
  socket.once('close', () => subscribers.delete(socket));
});

server.once('listening', () => {
  const address = server.address();
  process.send!({ type: 'listening', port: typeof address === 'object' && address ? address.port : 0 });
});
process.on('disconnect', () => process.exit(0));
