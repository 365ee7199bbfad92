/**
 * GraphQL over SSE on `/graphql` (graphql-sse's distinct-connections mode), on the same operation core as graphql-ws:
 * graphql-sse's own client gets the same events as a graphql-ws client for itemChanged, roomEvents and jobUpdated,
 * and per-event authorization holds — a member who leaves a room stops receiving on SSE too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client as SseClient } from 'graphql-sse';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { sseClient, sseRun } from '../helpers/sse.js';
import { collect, triggerUntilEvent } from '../helpers/subscriptions.js';
import { createRoom, LEAVE_ROOM, ROOM_EVENTS, sendMessage, until, users } from '../realtime/helpers.js';

let server: TestServer;
let admin: TestUser;
const clients: SseClient[] = [];

beforeAll(async () => {
  server = await startServer();
  admin = await createUser(server, { role: 'ADMIN' });
});
afterAll(async () => {
  for (const client of clients) client.dispose();
  await server?.close();
});

const sse = (user: TestUser) => {
  const client = sseClient(server, user.token);
  clients.push(client);
  return client;
};
const ws = (user: TestUser) => server.wsClient({ authorization: `Bearer ${user.token}` });

describe('GraphQL over SSE', () => {
  it('answers a query as one next event and complete, with the cost extension', async () => {
    const outcome = await sseRun(server, { query: '{ viewer { username } }' }, admin.token);
    expect(outcome.status).toBe(200);
    expect(outcome.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(outcome.completed).toBe(true);
    expect(outcome.results).toHaveLength(1);
    expect(outcome.results[0]).toMatchObject({ data: { viewer: { username: admin.username } }, extensions: { cost: { charged: 1 } } });
  });

  it('runs a mutation over POST and refuses one over GET with 405', async () => {
    const query = 'mutation { logout(refreshToken: "nope") }';
    const posted = await sseRun(server, { query }, admin.token);
    expect(posted.results[0]?.errors).toBeUndefined();
    const response = await fetch(`${server.httpUrl}?query=${encodeURIComponent(query)}`, { headers: { accept: 'text/event-stream' } });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });

  it('delivers itemChanged events as graphql-ws does', async () => {
    const query = 'subscription { itemChanged { sku name } }';
    const overSse = collect(sse(admin), { query });
    const overWs = collect(ws(admin), { query });
    let counter = 0;
    const trigger = async () => {
      const sku = `SE${String(++counter).padStart(4, '0')}`;
      const { body } = await server.gql(
        `mutation($sku: String!) { createItem(input: { sku: $sku, name: "Streamed", price: 1, category: HOME }) { item { sku } } }`,
        { sku },
        { token: admin.token },
      );
      expect(body.data?.createItem.item).toEqual({ sku });
    };
    await triggerUntilEvent(overSse, trigger);
    await triggerUntilEvent(overWs, trigger);
    await trigger();
    const last = `SE${String(counter).padStart(4, '0')}`;
    await until(() => [overSse, overWs].every((c) => c.events.some((event) => event.data?.itemChanged.sku === last)), 'the last item');
    const tail = (events: typeof overSse.events) => events.slice(events.findIndex((event) => event.data?.itemChanged.sku === last));
    expect(tail(overSse.events)).toEqual(tail(overWs.events));
    expect(tail(overSse.events)).toEqual([{ data: { itemChanged: { sku: last, name: 'Streamed' } } }]);
    overSse.dispose();
    overWs.dispose();
  });

  it('delivers roomEvents to members and stops at once for a member who leaves, on SSE as on graphql-ws', async () => {
    const [owner, leaver] = await users(server, 2);
    const roomId = await createRoom(server, owner!, [leaver!]);
    const leaverSse = collect(sse(leaver!), { query: ROOM_EVENTS, variables: { roomId } });
    const ownerSse = collect(sse(owner!), { query: ROOM_EVENTS, variables: { roomId } });
    const ownerWs = collect(ws(owner!), { query: ROOM_EVENTS, variables: { roomId } });
    await until(() => server.app.container.services.realtime.channels.subscriberCount === 3, 'the subscriptions');

    await sendMessage(server, owner!, roomId, 'hello');
    await until(
      () => [leaverSse, ownerSse, ownerWs].every((c) => c.events.some((e) => e.data?.roomEvents.message?.body === 'hello')),
      'hello',
    );

    const left = await server.gql(LEAVE_ROOM, { roomId }, { token: leaver!.token });
    expect(left.body.data?.leaveRoom.userErrors).toEqual([]);
    await sendMessage(server, owner!, roomId, 'after the leave');
    await until(
      () => [ownerSse, ownerWs].every((c) => c.events.some((e) => e.data?.roomEvents.message?.body === 'after the leave')),
      'the next message',
    );

    await leaverSse.done(10_000);
    expect(leaverSse.completed).toBe(true);
    const bodies = (events: typeof leaverSse.events) =>
      events.map((event) => event.data?.roomEvents.message?.body ?? event.data?.roomEvents.__typename);
    expect(bodies(leaverSse.events)).toContain('hello');
    expect(bodies(leaverSse.events)).not.toContain('after the leave');
    // Presence events of the subscriptions' own arrival may differ; from the first message on, both saw the same.
    const fromHello = (events: typeof leaverSse.events) => bodies(events).slice(bodies(events).indexOf('hello'));
    expect(fromHello(ownerSse.events)).toEqual(fromHello(ownerWs.events));
    expect(fromHello(ownerSse.events)).toEqual(['hello', 'MemberLeft', 'after the leave']);
    ownerSse.dispose();
    ownerWs.dispose();
  });

  it('delivers jobUpdated to the job owner until the job ends, as graphql-ws does', async () => {
    const started = await server.gql(
      'mutation($input: StartJobInput!) { startJob(input: $input) { job { id status } userErrors { message } } }',
      { input: { kind: 'EXPORT_ITEMS', params: {} } },
      { token: admin.token },
    );
    const id = started.body.data!.startJob.job.id as string;
    const query = 'subscription($id: ID!) { jobUpdated(id: $id) { status } }';
    const overSse = collect(sse(admin), { query, variables: { id } });
    const overWs = collect(ws(admin), { query, variables: { id } });
    await overSse.done(20_000);
    await overWs.done(20_000);
    expect(overSse.completed && overWs.completed).toBe(true);
    expect(overSse.events.at(-1)?.data).toEqual({ jobUpdated: { status: 'COMPLETED' } });
    // The runner may claim the job between the two subscriptions' starts, so one may open on PENDING and the other on
    // RUNNING: from the later start on, both saw the same events.
    const [longer, shorter] = [overWs, overSse].map((c) => c.events.map((event) => event.data)).sort((a, b) => b.length - a.length);
    expect(shorter!.length).toBeGreaterThan(0);
    expect(longer!.slice(longer!.length - shorter!.length)).toEqual(shorter);
  });
});

describe('malformed event-stream requests', () => {
  const post = (body: string, contentType = 'application/json') => ({
    method: 'POST',
    headers: { accept: 'text/event-stream', 'content-type': contentType },
    body,
  });
  const get = (search: string) => ({ method: 'GET', headers: { accept: 'text/event-stream' }, search });
  it.each([
    ['a null body', post('null')],
    ['a string body', post('"query"')],
    ['a batch', post('[{"query":"{ __typename }"}]')],
    ['a body a form could send', post('{"query":"{ __typename }"}', 'text/plain')],
    ['a query that is not a string', post('{"query":5}')],
    ['variables that are not an object', post('{"query":"{ __typename }","variables":"x"}')],
    ['an operation name that is not a string', post('{"query":"{ __typename }","operationName":{}}')],
    ['GET variables that are not JSON', get('?query=%7B__typename%7D&variables=%7Bbad')],
    ['GET with the query twice', get('?query=a&query=b')],
  ] as const)('answers %s with 400 BAD_REQUEST and the request id, at once', async (_name, request) => {
    const { search, ...init } = { search: '', ...request };
    const response = await fetch(`${server.httpUrl}${search}`, { ...init, signal: AbortSignal.timeout(5_000) });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors: Array<{ extensions: Record<string, unknown> }> };
    expect(body.errors[0]!.extensions).toEqual({ code: 'BAD_REQUEST', requestId: response.headers.get('x-request-id') });
  });

  it('takes text/event-stream with parameters and further types as an event stream', async () => {
    const response = await fetch(server.httpUrl, {
      method: 'POST',
      headers: { accept: 'text/event-stream; charset=utf-8, application/json', 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await response.text()).toContain('event: complete');
  });
});

describe('shutdown with an open event stream', () => {
  it('ends the stream and closes without waiting for the grace period', async () => {
    const own = await startServer();
    try {
      const user = await createUser(own);
      const response = await fetch(own.httpUrl, {
        method: 'POST',
        headers: { accept: 'text/event-stream', 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
        body: JSON.stringify({ query: 'subscription { itemChanged { id } }' }),
      });
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      await reader.read();
      const closed = own.app.close();
      // The stream ends (no more chunks) as part of the shutdown, before the HTTP drain.
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read());
      await closed;
    } finally {
      await own.close();
    }
  });
});
