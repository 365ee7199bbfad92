/**
 * The graphql-ws protocol held to its close codes (acceptance 4: one test per code), the WebSocket payload limit and
 * the Origin check of the upgrade. Raw sockets send what graphql-ws's own client never would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { ackedSocket, rawSocket, wsFor, wsRun, type RawSocket } from './helpers.js';

const ALLOWED_ORIGIN = 'https://app.example.com';

let server: TestServer;
const sockets: RawSocket[] = [];
beforeAll(async () => {
  server = await startServer({ WS_CONNECTION_INIT_TIMEOUT_MS: '300', CORS_ORIGINS: ALLOWED_ORIGIN });
});
afterAll(async () => {
  for (const { socket } of sockets) socket.terminate();
  await server?.close();
});

function open(options?: Parameters<typeof rawSocket>[1]): RawSocket {
  const raw = rawSocket(server, options);
  sockets.push(raw);
  return raw;
}

async function acked(payload?: Record<string, unknown>): Promise<RawSocket> {
  const raw = await ackedSocket(server, payload);
  sockets.push(raw);
  return raw;
}

async function serverStillAnswers() {
  const { status, body } = await server.gql('{ __typename }');
  expect(status).toBe(200);
  expect(body.data).toEqual({ __typename: 'Query' });
  const result = await wsRun(wsFor(server), { query: '{ __typename }' });
  expect(result.data).toEqual({ __typename: 'Query' });
}

describe('graphql-ws close codes', () => {
  it('closes with 4400 on a message that is not JSON', async () => {
    const raw = await acked();
    raw.send('{ not json');
    expect(await raw.closed).toMatchObject({ code: 4400 });
  });

  it('closes with 4400 on a message with fields of the wrong type', async () => {
    const raw = await acked();
    raw.send({ type: 'subscribe', id: 7, payload: { query: ['{ __typename }'] } });
    expect(await raw.closed).toMatchObject({ code: 4400 });
  });

  it('closes with 4401 on a subscribe before the connection is acknowledged', async () => {
    const raw = open();
    await raw.opened;
    raw.send({ type: 'subscribe', id: '1', payload: { query: '{ __typename }' } });
    expect(await raw.closed).toMatchObject({ code: 4401, reason: 'Unauthorized' });
  });

  it('closes with 4403 when connection_init carries an invalid token', async () => {
    const raw = open();
    await raw.opened;
    raw.send({ type: 'connection_init', payload: { authorization: 'Bearer not.a.token' } });
    expect(await raw.closed).toMatchObject({ code: 4403, reason: 'Forbidden' });
  });

  it('closes with 4406 when the client asks for no graphql-transport-ws subprotocol', async () => {
    const raw = open({ protocol: null });
    expect(await raw.closed).toMatchObject({ code: 4406, reason: 'Subprotocol not acceptable' });
  });

  it('does not agree to another subprotocol, so the legacy graphql-ws client fails its handshake', async () => {
    const raw = open({ protocol: 'graphql-ws' });
    await expect(raw.opened).rejects.toThrow('Server sent no subprotocol');
  });

  it('closes with 4408 when connection_init does not arrive in time', async () => {
    const raw = open();
    await raw.opened;
    expect(await raw.closed).toMatchObject({ code: 4408, reason: 'Connection initialisation timeout' });
  });

  it('closes with 4409 when a subscription id is already in use', async () => {
    const user = await createUser(server, { role: 'USER' });
    const raw = await acked({ authorization: `Bearer ${user.token}` });
    const subscribe = { type: 'subscribe', id: 'same', payload: { query: 'subscription { itemChanged { id } }' } };
    raw.send(subscribe);
    raw.send(subscribe);
    expect(await raw.closed).toMatchObject({ code: 4409, reason: 'Subscriber for same already exists' });
  });

  it('closes with 4429 on a second connection_init', async () => {
    const raw = await acked();
    raw.send({ type: 'connection_init' });
    expect(await raw.closed).toMatchObject({ code: 4429, reason: 'Too many initialisation requests' });
  });
});

describe('WebSocket payload limit', () => {
  it('closes a socket that sends a frame over 1 MB with 1009 and keeps serving others', async () => {
    const raw = await acked();
    raw.send(JSON.stringify({ type: 'subscribe', id: 'big', payload: { query: `{ __typename } #${'x'.repeat(1_048_576)}` } }));
    expect(await raw.closed).toMatchObject({ code: 1009 });
    await serverStillAnswers();
  });

  it('accepts a frame just under 1 MB and answers it with an error instead of closing', async () => {
    const raw = await acked();
    const query = `{ __typename } #${'x'.repeat(1_000_000)}`;
    raw.send({ type: 'subscribe', id: 'large', payload: { query } });
    const message = await raw.next();
    expect(message).toMatchObject({ type: 'error', id: 'large' });
    expect(message.payload[0].extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', limit: 'documentBytes' });
  });
});

describe('WebSocket Origin check', () => {
  it('refuses the upgrade with 403 for a browser origin outside CORS_ORIGINS', async () => {
    const raw = open({ origin: 'https://evil.example.net' });
    await expect(raw.opened).rejects.toThrow('upgrade refused: 403');
  });

  it('accepts an origin in CORS_ORIGINS', async () => {
    const raw = open({ origin: ALLOWED_ORIGIN });
    await raw.opened;
    raw.send({ type: 'connection_init' });
    expect(await raw.next()).toMatchObject({ type: 'connection_ack' });
  });

  it('accepts the server’s own origin (GraphiQL) and clients that send no Origin', async () => {
    const same = open({ origin: server.url });
    await same.opened;
    const none = open();
    await none.opened;
    for (const raw of [same, none]) {
      raw.send({ type: 'connection_init' });
      expect(await raw.next()).toMatchObject({ type: 'connection_ack' });
    }
  });
});
