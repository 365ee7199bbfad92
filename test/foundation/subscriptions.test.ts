/**
 * graphql-ws on the same port and path as HTTP (acceptance 5): events after a mutation, and invalid documents
 * answered with an `error` message for that operation while the socket stays open.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { collect, triggerUntilEvent } from '../helpers/subscriptions.js';
import { createUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let token: string;
const sockets: WebSocket[] = [];

beforeAll(async () => {
  server = await startServer();
  ({ token } = await createUser(server, { role: 'ADMIN' }));
});
afterAll(async () => {
  for (const socket of sockets) socket.terminate();
  await server?.close();
});

type Message = { type: string; id?: string; payload?: any };

/** A raw graphql-transport-ws socket, to see the exact protocol messages. */
async function rawSocket() {
  const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
  sockets.push(socket);
  const inbox: Message[] = [];
  const waiters = new Set<() => void>();
  let closed: { code: number; reason: string } | null = null;
  socket.on('message', (data) => {
    inbox.push(JSON.parse(String(data)) as Message);
    waiters.forEach((waiter) => waiter());
  });
  socket.on('close', (code, reason) => {
    closed = { code, reason: String(reason) };
    waiters.forEach((waiter) => waiter());
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });

  const client = {
    socket,
    get closed() {
      return closed;
    },
    send(message: Message) {
      socket.send(JSON.stringify(message));
    },
    /** Resolves with the next message matching `match`, removing it from the inbox. */
    next(match: (message: Message) => boolean): Promise<Message> {
      return new Promise((resolve, reject) => {
        const check = () => {
          const index = inbox.findIndex(match);
          if (index >= 0) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(inbox.splice(index, 1)[0]!);
          } else if (closed) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(new Error(`socket closed with ${closed.code} ${closed.reason}`));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching message; inbox: ${JSON.stringify(inbox)}`));
        }, 5_000);
        waiters.add(check);
        check();
      });
    },
  };
  client.send({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
  await client.next((m) => m.type === 'connection_ack');
  return client;
}

const CREATE = /* GraphQL */ `
  mutation Create($input: CreateItemInput!) {
    createItem(input: $input) { item { id sku } userErrors { message } }
  }
`;

describe('itemChanged', () => {
  it('delivers an item created over HTTP to a graphql-ws subscriber', async () => {
    const client = server.wsClient({ authorization: `Bearer ${token}` });
    const events = collect<{ itemChanged: { id: string; sku: string; name: string; price: number } }>(client, {
      query: 'subscription { itemChanged { id sku name price } }',
    });
    // Items are created until one arrives: graphql-ws gives no signal that the subscription is registered.
    const created = new Map<string, Record<string, unknown>>();
    await triggerUntilEvent(events, async () => {
      const sku = `SU${String(created.size + 1).padStart(4, '0')}`;
      const { body } = await server.gql(CREATE, { input: { sku, name: 'Socket wrench', price: 12.5, category: 'HOME' } }, { token });
      expect(body.errors).toBeUndefined();
      const item = body.data!.createItem.item;
      created.set(item.id, { id: item.id, sku, name: 'Socket wrench', price: 12.5 });
    });

    const [event] = events.events;
    expect(event!.errors).toBeUndefined();
    const received = event!.data!.itemChanged;
    expect(created.get(received.id)).toEqual(received);
    events.dispose();
  });
});

describe('invalid documents over the socket', () => {
  it.each([
    ['a syntax error', 'subscription { itemChanged { id ', 'GRAPHQL_PARSE_FAILED', /Syntax Error/],
    ['a validation error', 'subscription { itemChanged { noSuchField } }', 'GRAPHQL_VALIDATION_FAILED', /noSuchField/],
    [
      'two root fields in a subscription',
      'subscription { a: itemChanged { id } b: itemChanged { id } }',
      'GRAPHQL_VALIDATION_FAILED',
      /only one top level field/,
    ],
  ])('answers %s with an error message for that operation and keeps the socket open', async (_what, query, code, message) => {
    const socket = await rawSocket();
    socket.send({ id: 'bad', type: 'subscribe', payload: { query } });
    const error = await socket.next((m) => m.id === 'bad');
    expect(error.type).toBe('error');
    expect(Array.isArray(error.payload)).toBe(true);
    expect(error.payload[0].message).toMatch(message);
    expect(error.payload[0].extensions).toMatchObject({ code, requestId: expect.any(String) });

    // The same connection still serves operations, and the failed id can be reused.
    socket.send({ id: 'bad', type: 'subscribe', payload: { query: 'query Ping { __typename }' } });
    expect(await socket.next((m) => m.id === 'bad')).toMatchObject({ id: 'bad', type: 'next', payload: { data: { __typename: 'Query' } } });
    expect(await socket.next((m) => m.id === 'bad')).toEqual({ id: 'bad', type: 'complete' });
    expect(socket.closed).toBeNull();
    expect(socket.socket.readyState).toBe(WebSocket.OPEN);
  });

  it('answers a variable of the wrong type with an error message coded BAD_USER_INPUT, keeping the socket open', async () => {
    const socket = await rawSocket();
    socket.send({
      id: 'v',
      type: 'subscribe',
      payload: { query: 'query($n: Int) { items(first: $n) { totalCount } }', variables: { n: 'ten' } },
    });
    const reply = await socket.next((m) => m.id === 'v');
    expect(reply.type).toBe('error');
    expect(reply.payload[0].message).toMatch(/Variable "\$n" got invalid value "ten"/);
    expect(reply.payload[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', requestId: expect.any(String) });
    socket.send({ id: 'ok', type: 'subscribe', payload: { query: '{ __typename }' } });
    expect(await socket.next((m) => m.id === 'ok')).toMatchObject({ type: 'next', payload: { data: { __typename: 'Query' } } });
  });
});
