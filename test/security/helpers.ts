/** Both transports for the guardrail suites: one operation over graphql-ws, and a raw graphql-transport-ws socket. */
import type { Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { TestServer } from '../helpers/server.js';

export interface OperationResult {
  data?: Record<string, any> | null;
  errors?: Array<{ message: string; path?: unknown[]; extensions?: Record<string, any> }>;
  extensions?: Record<string, any>;
}

export interface WsRequest {
  query: string;
  variables?: Record<string, unknown>;
  operationName?: string;
  extensions?: Record<string, unknown>;
  documentId?: string;
}

/**
 * Runs one operation over graphql-ws to completion. A `next` result is returned as is; an `error` message (the
 * operation refused before it ran) comes back as `{ errors }`.
 */
export function wsRun(client: Client, request: WsRequest, timeoutMs = 10_000): Promise<OperationResult> {
  return new Promise((resolve, reject) => {
    const results: OperationResult[] = [];
    const timer = setTimeout(() => reject(new Error(`no result over graphql-ws within ${timeoutMs} ms`)), timeoutMs);
    client.subscribe(request as never, {
      next: (result) => void results.push(result as OperationResult),
      error: (error) => {
        clearTimeout(timer);
        if (Array.isArray(error)) resolve({ errors: error as OperationResult['errors'] });
        else reject(error instanceof Error ? error : new Error(`socket closed: ${(error as { code?: number }).code}`));
      },
      complete: () => {
        clearTimeout(timer);
        resolve(results[0] ?? {});
      },
    });
  });
}

/** `posts → nodes → author → posts …` until the selection is `depth` fields deep. */
export function deepQuery(depth: number): string {
  const steps = ['posts(first: 1)', 'nodes', 'author'];
  let open = '';
  let close = '';
  for (let level = 0; level < depth - 1; level++) {
    open += `${steps[level % 3]} { `;
    close += ' }';
  }
  return `query Deep { ${open}id${close} }`;
}

export const repeat = (count: number, make: (i: number) => string) => Array.from({ length: count }, (_, i) => make(i)).join(' ');

/** A post page with comments whose authors list their posts: 100 × (1 + 100 × (1 + 1 + n)) by the cost rules. */
export const costly = (authorPosts: number) =>
  `query Costly { posts(first: 100) { nodes { comments(first: 100) { nodes { author { posts(first: ${authorPosts}) { nodes { id } } } } } } } }`;

const clients = new WeakMap<TestServer, Map<string, Client>>();

/**
 * The graphql-ws client of a viewer (or of anonymous callers), one per token and server, so a test stays within the
 * per-user connection limit; closed by the server's `close()`.
 */
export function wsFor(server: TestServer, token?: string): Client {
  let byToken = clients.get(server);
  if (!byToken) clients.set(server, (byToken = new Map()));
  let client = byToken.get(token ?? '');
  if (!client) {
    client = server.wsClient(token ? { authorization: `Bearer ${token}` } : undefined);
    byToken.set(token ?? '', client);
  }
  return client;
}

export interface RawSocket {
  socket: WebSocket;
  /** Resolves with the next message the server sends (parsed JSON). */
  next(timeoutMs?: number): Promise<Record<string, any>>;
  send(data: unknown): void;
  /** Resolves when the socket closes, with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  opened: Promise<void>;
}

/** A raw WebSocket to the server, for protocol-level tests (frames graphql-ws's client would never send). */
export function rawSocket(
  server: TestServer,
  options: { protocol?: string | null; headers?: Record<string, string>; origin?: string } = {},
): RawSocket {
  const protocol = options.protocol === undefined ? 'graphql-transport-ws' : options.protocol;
  const socket = new WebSocket(server.wsUrl, protocol === null ? [] : [protocol], {
    headers: options.headers,
    ...(options.origin ? { origin: options.origin } : {}),
  });
  const queue: Array<Record<string, any>> = [];
  const waiters: Array<(message: Record<string, any>) => void> = [];
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as Record<string, any>;
    const waiter = waiters.shift();
    if (waiter) waiter(message);
    else queue.push(message);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on('close', (code, reason) => resolve({ code, reason: String(reason) }));
  });
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
    socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
  });
  socket.on('error', () => {});
  // A test that does not await `opened` (the close code is what it checks) must not see an unhandled rejection.
  opened.catch(() => {});
  return {
    socket,
    closed,
    opened,
    send: (data) => socket.send(typeof data === 'string' || Buffer.isBuffer(data) ? data : JSON.stringify(data)),
    next(timeoutMs = 5_000) {
      const queued = queue.shift();
      if (queued) return Promise.resolve(queued);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no message from the server')), timeoutMs);
        waiters.push((message) => {
          clearTimeout(timer);
          resolve(message);
        });
      });
    },
  };
}

/** Opens a raw socket and completes the handshake (connection_init → connection_ack). */
export async function ackedSocket(server: TestServer, payload?: Record<string, unknown>): Promise<RawSocket> {
  const raw = rawSocket(server);
  await raw.opened;
  raw.send({ type: 'connection_init', ...(payload ? { payload } : {}) });
  const ack = await raw.next();
  if (ack.type !== 'connection_ack') throw new Error(`expected connection_ack, got ${JSON.stringify(ack)}`);
  return raw;
}

/**
 * The socket's close, or a rejection when it takes longer than `ms`: for closes the server owes within a bound
 * (a revoked session's sockets close within a second).
 */
export function closedWithin(raw: RawSocket, ms = 1_000): Promise<{ code: number; reason: string }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`socket still open ${ms} ms later`)), ms);
  });
  return Promise.race([raw.closed, late]).finally(() => clearTimeout(timer));
}
