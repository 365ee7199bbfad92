/**
 * Connections a stranger can open without an account: anonymous WebSockets capped per address and in all (acceptance
 * 4), per-address limits that follow X-Forwarded-For only behind TRUST_PROXY, and HTTP requests that must arrive
 * within their timeouts.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { ackedSocket, rawSocket, type RawSocket } from './helpers.js';

describe('anonymous WebSockets', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ WS_MAX_ANONYMOUS_PER_ADDRESS: '20', WS_MAX_ANONYMOUS_CONNECTIONS: '1000' });
  });
  afterAll(() => server?.close());

  const closeAll = async (sockets: RawSocket[]) => {
    for (const raw of sockets) raw.socket.terminate();
    await Promise.all(sockets.map((raw) => raw.closed));
  };

  it('closes the sockets of one address past the cap with 1008, while the first 20 are served (acceptance 4)', async () => {
    // The first 20 are served: they complete their handshake.
    const served = await Promise.all(Array.from({ length: 20 }, () => ackedSocket(server)));
    // 1,980 more from the same address, opened in batches so the test's own client is not the bottleneck.
    const refused: RawSocket[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const opened = Array.from({ length: 198 }, () => rawSocket(server));
      refused.push(...opened);
      await Promise.all(opened.map((raw) => raw.closed));
    }
    const closes = await Promise.all(refused.map((raw) => raw.closed));
    expect(new Set(closes.map((close) => `${close.code} ${close.reason}`))).toEqual(new Set(['1008 Too many anonymous connections']));

    const sockets = served;
    const first = sockets[0]!;
    first.send({ type: 'subscribe', id: '1', payload: { query: '{ __typename }' } });
    expect(await first.next()).toMatchObject({ type: 'next', id: '1', payload: { data: { __typename: 'Query' } } });

    // A closed socket frees its place at once.
    await closeAll([sockets[1]!]);
    const replacement = await ackedSocket(server);
    await closeAll([...sockets.slice(0, 20), replacement]);
    expect((await server.gql('{ __typename }')).body.data).toEqual({ __typename: 'Query' });
  }, 60_000);

  it('counts a socket until its connection_init signs a user in, not after', async () => {
    const users = await Promise.all([createUser(server), createUser(server)]);
    // 20 signed-in sockets (10 per user, their own cap) hold no anonymous place.
    const signedIn = await Promise.all(
      users.flatMap((user) => Array.from({ length: 10 }, () => ackedSocket(server, { authorization: `Bearer ${user.token}` }))),
    );
    const anonymous = await Promise.all(Array.from({ length: 20 }, () => ackedSocket(server)));
    const over = rawSocket(server);
    expect(await over.closed).toEqual({ code: 1008, reason: 'Too many anonymous connections' });
    for (const raw of [...signedIn, ...anonymous]) raw.socket.terminate();
    await Promise.all([...signedIn, ...anonymous].map((raw) => raw.closed));
  });
});

describe('the process-wide anonymous cap', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ WS_MAX_ANONYMOUS_PER_ADDRESS: '100', WS_MAX_ANONYMOUS_CONNECTIONS: '5' });
  });
  afterAll(() => server?.close());

  it('closes a socket past WS_MAX_ANONYMOUS_CONNECTIONS with 1013', async () => {
    const open = await Promise.all(Array.from({ length: 5 }, () => ackedSocket(server)));
    const over = rawSocket(server);
    expect(await over.closed).toEqual({ code: 1013, reason: 'Try again later' });
    for (const raw of open) raw.socket.terminate();
  });
});

describe('TRUST_PROXY', () => {
  let trusting: TestServer;
  let plain: TestServer;
  beforeAll(async () => {
    const env = { WS_MAX_ANONYMOUS_PER_ADDRESS: '2', RATE_LIMIT_ANONYMOUS: '3' };
    [trusting, plain] = await Promise.all([startServer({ ...env, TRUST_PROXY: 'loopback' }), startServer(env)]);
  });
  afterAll(() => Promise.all([trusting?.close(), plain?.close()]));

  const from = (address: string) => ({ headers: { 'x-forwarded-for': address } });
  const remaining = async (server: TestServer, address: string) =>
    (await server.gql('{ viewer { id } rateLimit { remaining } }', undefined, from(address))).body.data?.rateLimit?.remaining;

  it('keys per-address limits by the forwarded client behind a trusted proxy, and by the peer otherwise', async () => {
    // Anonymous budgets: each forwarded client has its own behind the trusted proxy.
    expect([await remaining(trusting, '203.0.113.1'), await remaining(trusting, '203.0.113.1')]).toEqual([2, 1]);
    expect(await remaining(trusting, '203.0.113.2')).toBe(2);
    // Without TRUST_PROXY the header is ignored: one budget for the peer, whatever it claims.
    expect([await remaining(plain, '203.0.113.1'), await remaining(plain, '203.0.113.2')]).toEqual([2, 1]);

    // Anonymous WebSockets, likewise.
    const sockets = (server: TestServer, address: string, count: number) =>
      Array.from({ length: count }, () => rawSocket(server, { headers: { 'x-forwarded-for': address } }));
    const a = sockets(trusting, '198.51.100.1', 3);
    const b = sockets(trusting, '198.51.100.2', 2);
    await Promise.all([...a, ...b].slice(0, 2).map((raw) => raw.opened));
    expect(await a[2]!.closed).toMatchObject({ code: 1008 });
    await Promise.all(b.map((raw) => raw.opened));
    const c = sockets(plain, '198.51.100.3', 3);
    expect(await c[2]!.closed).toMatchObject({ code: 1008 });
    for (const raw of [...a, ...b, ...c]) raw.socket.terminate();
  });
});

describe('HTTP timeouts', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_HEADERS_TIMEOUT_MS: '1000' });
  });
  afterAll(() => server?.close());

  /** Sends `head` (and nothing more) on a raw connection; resolves with what came back and when the server closed. */
  function stall(head: string): Promise<{ response: string; closedAfterMs: number }> {
    const { port } = new URL(server.url);
    const started = performance.now();
    return new Promise((resolve, reject) => {
      let response = '';
      const socket = connect(Number(port), '127.0.0.1', () => socket.write(head));
      socket.on('data', (chunk) => (response += String(chunk)));
      socket.on('error', reject);
      socket.on('close', () => resolve({ response, closedAfterMs: performance.now() - started }));
    });
  }

  it('answers 408 and closes a request whose body stops arriving', async () => {
    const body = '{"query":"{ __typename }"}';
    const { response, closedAfterMs } = await stall(
      `POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
    );
    expect(response).toMatch(/^HTTP\/1\.1 408/);
    // The timeout plus Node's check interval (1 s), with room for a loaded machine.
    expect(closedAfterMs).toBeLessThan(10_000);
    expect((await server.gql('{ __typename }')).body.data).toEqual({ __typename: 'Query' });
  });

  it('closes a connection whose headers stop arriving', async () => {
    const { response } = await stall('POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Ty');
    expect(response).toMatch(/^HTTP\/1\.1 408/);
  });
});
