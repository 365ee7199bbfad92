/**
 * The running server's answer to `npm run token` while it holds the PGlite DATA_DIR (which the CLI may then not
 * open): a Unix socket at DATA_DIR/run/token.sock. One request per connection, one JSON line each way.
 *
 * Who may ask: whoever can open the socket, which lives in a directory of mode 0700 owned by the server's user. That
 * is exactly who can already read DATA_DIR/jwt-ed25519.pem and mint any token, so the socket grants nothing new. It
 * is never opened on PostgreSQL (the CLI opens its own connection there) and never listens on the network.
 */
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { issueLocalToken, type LocalTokenResult } from '../auth/local-token.js';
import type { Logger } from '../log.js';

/** Where the socket of `dataDir` lives; the CLI connects there. */
export function tokenSocketPath(dataDir: string): string {
  return path.join(dataDir, 'run', 'token.sock');
}

/** A request line larger than this is not a token request. */
const MAX_REQUEST_BYTES = 4_096;

export async function listenTokenSocket(
  dataDir: string,
  services: Parameters<typeof issueLocalToken>[0],
  log: Logger,
): Promise<{ close(): Promise<void> }> {
  const socketPath = tokenSocketPath(dataDir);
  mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o700 });
  chmodSync(path.dirname(socketPath), 0o700);
  // Left by a process that crashed: this process holds DATA_DIR's lock, so the file is nobody else's.
  rmSync(socketPath, { force: true });
  const server = net.createServer((socket) => {
    let received = '';
    socket.setEncoding('utf8');
    socket.setTimeout(5_000, () => socket.destroy());
    const answer = (result: LocalTokenResult) => socket.end(`${JSON.stringify(result)}\n`);
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received.length > MAX_REQUEST_BYTES) return void socket.destroy();
      const end = received.indexOf('\n');
      if (end < 0) return;
      socket.removeAllListeners('data');
      let request: { user?: unknown; scopes?: unknown };
      try {
        request = JSON.parse(received.slice(0, end)) as typeof request;
      } catch {
        return answer({ ok: false, error: 'malformed request' });
      }
      const scopes = Array.isArray(request.scopes) ? request.scopes.filter((scope): scope is string => typeof scope === 'string') : null;
      if (typeof request.user !== 'string') return answer({ ok: false, error: 'malformed request' });
      issueLocalToken(services, { user: request.user, scopes }).then(answer, (error: unknown) => {
        log.error({ err: error }, 'local token request failed');
        answer({ ok: false, error: 'the server could not issue a token (see its log)' });
      });
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        rmSync(socketPath, { force: true });
      }),
  };
}
