/**
 * Ordered, resumable event streams, through the real server: history and live delivery share one order, and a
 * subscriber that reconnects with its last `streamCursor` (graphql-ws `after:`, SSE `Last-Event-ID`) gets every event
 * it missed exactly once, in order.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createUser, type TestUser } from '../helpers/auth.js';
import { Topic } from '../../src/pubsub/topics.js';
import { SLOW_SUBSCRIBER } from '../../src/realtime/queue.js';
import { fromGlobalId } from '../../src/schema/shared/global-id.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { collect } from '../helpers/subscriptions.js';
import { stockedItem } from '../domain/fixtures.js';
import { createRoom, followRoom, LEAVE_ROOM, rawClient, SEND_MESSAGE, until, users, type Follower, type RawClient } from './helpers.js';

let server: TestServer;
const disposers: Array<() => unknown> = [];

beforeAll(async () => {
  server = await startServer({ CHAT_MESSAGE_LIMIT: '1000000' });
});

afterAll(async () => {
  for (const dispose of disposers.reverse()) await dispose();
  await server?.close();
});

const RESUMABLE_ROOM_EVENTS = /* GraphQL */ `
  subscription Resume($roomId: ID!, $after: String) {
    roomEvents(roomId: $roomId, after: $after) {
      __typename
      ... on MessagePosted { streamCursor message { id body streamCursor } }
      ... on MemberJoined { streamCursor }
      ... on MemberLeft { streamCursor }
      ... on TypingChanged { streamCursor }
    }
  }
`;

const HISTORY = /* GraphQL */ `
  query History($id: ID!, $after: String) {
    node(id: $id) {
      ... on Room { messages(first: 100, after: $after) { nodes { id streamCursor } pageInfo { hasNextPage endCursor } } }
    }
  }
`;

const channels = () => server.app.container.services.realtime.channels;

/** The room's message ids in history order, every page. */
async function history(user: TestUser, roomId: string): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null = null;
  for (;;) {
    const { body }: { body: Record<string, any> } = await server.gql(HISTORY, { id: roomId, after }, { token: user.token });
    const page: { nodes: Array<{ id: string }>; pageInfo: { hasNextPage: boolean; endCursor: string } } | undefined =
      body.data?.node.messages;
    if (!page) throw new Error(`history failed: ${JSON.stringify(body)}`);
    ids.push(...page.nodes.map((node) => node.id));
    if (!page.pageInfo.hasNextPage) return ids;
    after = page.pageInfo.endCursor;
  }
}

/** Each sender posts `count` messages one after the other; the senders run concurrently. */
async function sendConcurrently(senders: TestUser[], roomId: string, count: number, label: string): Promise<void> {
  await Promise.all(
    senders.map(async (sender, s) => {
      for (let i = 0; i < count; i++) {
        const { body } = await server.gql(SEND_MESSAGE, { input: { roomId, body: `${label} ${s}.${i}` } }, { token: sender.token });
        if (!body.data?.sendMessage.message) throw new Error(`send failed: ${JSON.stringify(body)}`);
      }
    }),
  );
}

/** The README's reconnect recipe on this server (see followRoom); disposed after the file. */
function follow(url: () => string, token: string, roomId: string): Follower {
  const follower = followRoom(url, token, roomId, RESUMABLE_ROOM_EVENTS);
  disposers.push(() => follower.dispose());
  return follower;
}

const ids = (follower: Follower) => follower.messages.map((message) => message.id);

/** Cuts the client's TCP connection without a close frame (a network drop). */
const destroy = (socket: WebSocket) => (socket as unknown as { _socket: Socket })._socket.destroy();

describe('one order for history and live delivery (acceptance 1)', () => {
  it('delivers 200 messages from 10 concurrent senders to every subscriber in history order, 20 times over', async () => {
    const senders = await users(server, 10);
    const watchers = await users(server, 3);
    // One room per run; rooms are separate streams, so four runs at a time share the machine without sharing a lock.
    const run = async (round: number) => {
      const roomId = await createRoom(server, senders[0]!, [...senders.slice(1), ...watchers]);
      const streams = watchers.map((watcher) => follow(() => server.wsUrl, watcher.token, roomId));
      await until(() => channels().subscriberCountOf(fromGlobalId(roomId, 'Room')) === streams.length, `run ${round}: the subscriptions`);
      await sendConcurrently(senders, roomId, 20, `run ${round}`);
      const expected = await history(senders[0]!, roomId);
      expect(expected).toHaveLength(200);
      await until(() => streams.every((stream) => stream.messages.length >= expected.length), `run ${round}: live delivery`, 120_000);
      for (const stream of streams) expect(ids(stream)).toEqual(expected);
      expect(streams.flatMap((stream) => stream.errors)).toEqual([]);
      await Promise.all(streams.map((stream) => stream.dispose()));
    };
    for (let batch = 0; batch < 5; batch++) await Promise.all([1, 2, 3, 4].map((i) => run(batch * 4 + i)));
  }, 600_000);
});

describe('resuming after a dropped connection (acceptance 2)', () => {
  it('reconnects with the last cursor while the senders continue and ends with all 500 exactly once, in order', async () => {
    const [reader, ...senders] = await users(server, 6);
    const roomId = await createRoom(server, reader!, senders);
    const before = channels().subscriberCount;
    const follower = follow(() => server.wsUrl, reader!.token, roomId);
    await until(() => channels().subscriberCount === before + 1, 'the subscription');

    const sending = sendConcurrently(senders, roomId, 100, 'resume');
    await until(() => follower.messages.length >= 50, 'the first 50 messages', 60_000);
    destroy(follower.sockets.at(-1)!);
    await sending;
    await until(() => follower.messages.length >= 500, 'all 500 messages', 60_000);
    // Anything delivered twice would arrive right behind the rest: give it the time to.
    await sleep(300);
    expect(follower.sockets.length).toBeGreaterThanOrEqual(2);
    expect(ids(follower)).toEqual(await history(reader!, roomId));
    expect(new Set(ids(follower)).size).toBe(500);
    expect(follower.errors).toEqual([]);
  }, 180_000);
});

interface SseEvent {
  id: string | null;
  data: Record<string, any>;
}

/** A raw event stream read as it arrives (as EventSource reads it), with each event's `id`. */
function sseStream(query: string, variables: Record<string, unknown>, token: string, lastEventId?: string) {
  const events: SseEvent[] = [];
  const abort = new AbortController();
  const done = (async () => {
    const response = await fetch(server.httpUrl, {
      method: 'POST',
      signal: abort.signal,
      headers: {
        accept: 'text/event-stream',
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
      },
      body: JSON.stringify({ query, variables }),
    });
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      const blocks = buffered.split('\n\n');
      buffered = blocks.pop()!;
      for (const block of blocks) {
        const lines = block.split('\n');
        if (!lines.includes('event: next')) continue;
        const id = lines.find((line) => line.startsWith('id: '))?.slice(4) ?? null;
        const data = lines.find((line) => line.startsWith('data: '))!.slice(6);
        events.push({ id, data: JSON.parse(data) });
      }
    }
  })().catch((error: unknown) => {
    if (!abort.signal.aborted) throw error;
  });
  disposers.push(() => abort.abort());
  return { events, done, close: () => abort.abort() };
}

describe('resuming an SSE stream with Last-Event-ID (acceptance 3)', () => {
  it('takes the id of the last event received as the cursor and delivers the rest exactly once, in order', async () => {
    const [reader, ...senders] = await users(server, 6);
    const roomId = await createRoom(server, reader!, senders);
    const before = channels().subscriberCount;
    const first = sseStream(RESUMABLE_ROOM_EVENTS, { roomId }, reader!.token);
    await until(() => channels().subscriberCount === before + 1, 'the SSE subscription');

    const sending = sendConcurrently(senders, roomId, 60, 'sse');
    await until(() => first.events.length >= 50, 'the first 50 events', 60_000);
    first.close();
    const received = [...first.events];
    // Each event's id is its streamCursor.
    for (const event of received) expect(event.id).toBe(event.data.data.roomEvents.streamCursor);

    const second = sseStream(RESUMABLE_ROOM_EVENTS, { roomId }, reader!.token, received.at(-1)!.id!);
    await sending;
    await until(() => received.length + second.events.length >= 300, 'all 300 messages', 60_000);
    await sleep(300);
    const ids = [...received, ...second.events].map((event) => event.data.data.roomEvents.message.id);
    expect(ids).toEqual(await history(reader!, roomId));
    second.close();
  }, 180_000);
});

describe('authorization and bad cursors (acceptances 4 and 5)', () => {
  it('gives a member removed during the gap nothing: the resumed subscription is FORBIDDEN', async () => {
    const [owner, member] = await users(server, 2);
    const roomId = await createRoom(server, owner!, [member!]);
    await sendConcurrently([owner!], roomId, 3, 'before');
    const cursor = (await server.gql(HISTORY, { id: roomId }, { token: member!.token })).body.data!.node.messages.nodes.at(-1).streamCursor;
    expect((await server.gql(LEAVE_ROOM, { roomId }, { token: member!.token })).body.data!.leaveRoom.userErrors).toEqual([]);
    await sendConcurrently([owner!], roomId, 3, 'after the removal');

    const client = server.wsClient({ authorization: `Bearer ${member!.token}` });
    const resumed = collect(client, { query: RESUMABLE_ROOM_EVENTS, variables: { roomId, after: cursor } });
    await resumed.done(20_000);
    expect(resumed.events).toHaveLength(1);
    expect(resumed.events[0]!.data ?? null).toBeNull();
    expect(resumed.events[0]!.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('replays to a member only what the room holds after the cursor, and stops at once when they leave', async () => {
    const [owner, member] = await users(server, 2);
    const roomId = await createRoom(server, owner!, [member!]);
    await sendConcurrently([owner!], roomId, 2, 'seen');
    const cursor = (await server.gql(HISTORY, { id: roomId }, { token: member!.token })).body.data!.node.messages.nodes.at(-1).streamCursor;
    await sendConcurrently([owner!], roomId, 5, 'missed');
    const before = channels().subscriberCount;
    const stream = collect(server.wsClient({ authorization: `Bearer ${member!.token}` }), {
      query: RESUMABLE_ROOM_EVENTS,
      variables: { roomId, after: cursor },
    });
    const replayed = await stream.waitFor(5, 20_000);
    expect(replayed.map((event) => event.data?.roomEvents.message.body)).toEqual([0, 1, 2, 3, 4].map((i) => `missed 0.${i}`));
    await until(() => channels().subscriberCount === before + 1, 'the subscription');
    await server.gql(LEAVE_ROOM, { roomId }, { token: member!.token });
    await stream.done(20_000);
    expect(stream.completed).toBe(true);
    expect(stream.events).toHaveLength(5);
  });

  it('answers an expired cursor with CURSOR_EXPIRED and a forged or foreign one with BAD_USER_INPUT', async () => {
    const [owner, other] = await users(server, 2);
    const roomId = await createRoom(server, owner!);
    const otherRoomId = await createRoom(server, other!, [owner!]);
    const roomRowId = Buffer.from(roomId, 'base64url').toString().split(':')[1]!;
    // A message stored two days ago: past the default retention of one day.
    await server.app.container.repos.chat.insertMessage({
      roomId: roomRowId,
      authorId: owner!.rowId,
      body: 'long ago',
      createdAt: new Date(Date.now() - 2 * 24 * 60 * 60 * 1_000),
    });
    await sendConcurrently([other!], otherRoomId, 1, 'elsewhere');
    const [old] = (await server.gql(HISTORY, { id: roomId }, { token: owner!.token })).body.data!.node.messages.nodes;
    const [foreign] = (await server.gql(HISTORY, { id: otherRoomId }, { token: owner!.token })).body.data!.node.messages.nodes;
    const client = server.wsClient({ authorization: `Bearer ${owner!.token}` });
    const outcome = async (after: string) => {
      const stream = collect(client, { query: RESUMABLE_ROOM_EVENTS, variables: { roomId, after } });
      await stream.done(20_000);
      return stream.events[0]?.errors?.[0]?.extensions?.code;
    };
    expect(await outcome(old.streamCursor)).toBe('CURSOR_EXPIRED');
    expect(await outcome(foreign.streamCursor)).toBe('BAD_USER_INPUT');
    expect(await outcome('not-a-cursor')).toBe('BAD_USER_INPUT');
    expect(await outcome(Buffer.from(`s1:room:${roomRowId}:999999999`).toString('base64url'))).toBe('BAD_USER_INPUT');
    expect(await outcome(Buffer.from(`s1:direct:${owner!.rowId}:1`).toString('base64url'))).toBe('BAD_USER_INPUT');
  });
});

describe('the other resumable streams', () => {
  it('prices a resumed subscription as a replay page of its events', async () => {
    const [owner] = await users(server, 1);
    const roomId = await createRoom(server, owner!);
    await sendConcurrently([owner!], roomId, 1, 'priced');
    const cursor = (await server.gql(HISTORY, { id: roomId }, { token: owner!.token })).body.data!.node.messages.nodes[0].streamCursor;
    const before = channels().subscriberCount;
    const fresh = sseStream(RESUMABLE_ROOM_EVENTS, { roomId }, owner!.token);
    const resumed = sseStream(RESUMABLE_ROOM_EVENTS, { roomId, after: cursor }, owner!.token);
    await until(() => channels().subscriberCount === before + 2, 'the subscriptions');
    await sendConcurrently([owner!], roomId, 1, 'next');
    await until(() => fresh.events.length >= 1 && resumed.events.length >= 1, 'the first events');
    const costOf = (stream: { events: SseEvent[] }) => stream.events[0]!.data.extensions?.cost?.requested as number;
    expect(costOf(resumed)).toBeGreaterThanOrEqual(100 * costOf(fresh));
    fresh.close();
    resumed.close();
  });

  it('replays direct messages and notifications after a cursor, then goes on live', async () => {
    const [reader, writer] = await users(server, 2);
    const [admin] = await users(server, 1, 'ADMIN');
    const dm = (body: string) =>
      server.gql(
        'mutation($input: SendDirectMessageInput!) { sendDirectMessage(input: $input) { message { streamCursor } userErrors { message } } }',
        { input: { toUserId: reader!.id, body } },
        { token: writer!.token },
      );
    const notify = (title: string) =>
      server.gql(
        'mutation($input: SendNotificationInput!) { sendNotification(input: $input) { sentCount userErrors { message } } }',
        { input: { userIds: [reader!.id], title, body: title } },
        { token: admin!.token },
      );
    const dmCursors: string[] = [];
    for (let i = 0; i < 5; i++) dmCursors.push((await dm(`dm ${i}`)).body.data!.sendDirectMessage.message.streamCursor);
    for (let i = 0; i < 5; i++) await notify(`note ${i}`);
    const listed = await server.gql('{ notifications(first: 10) { nodes { title streamCursor } } }', {}, { token: reader!.token });
    // The direct messages' own notifications (sent by a job) interleave: only the sent ones are compared.
    const noteCursor = listed.body.data!.notifications.nodes.find((node: { title: string }) => node.title === 'note 1').streamCursor;
    const titles = () =>
      notes.events.map((event) => event.data?.notificationReceived.title as string).filter((title) => title.startsWith('note'));

    const client = server.wsClient({ authorization: `Bearer ${reader!.token}` });
    const dms = collect(client, {
      query: 'subscription($after: String) { directMessages(after: $after) { body } }',
      variables: { after: dmCursors[1] },
    });
    const notes = collect(client, {
      query: 'subscription($after: String) { notificationReceived(after: $after) { title } }',
      variables: { after: noteCursor },
    });
    await dms.waitFor(3, 20_000);
    await until(() => titles().length >= 3, 'the replayed notifications');
    await dm('dm live');
    await notify('note live');
    await dms.waitFor(4, 20_000);
    await until(() => titles().length >= 4, 'the live notification');
    expect(dms.events.map((event) => event.data?.directMessages.body)).toEqual(['dm 2', 'dm 3', 'dm 4', 'dm live']);
    expect(titles()).toEqual(['note 2', 'note 3', 'note 4', 'note live']);

    // Another user's direct-message cursor is a foreign stream.
    const stranger = collect(server.wsClient({ authorization: `Bearer ${writer!.token}` }), {
      query: 'subscription($after: String) { directMessages(after: $after) { body } }',
      variables: { after: dmCursors[0] },
    });
    await stranger.done(20_000);
    expect(stranger.events[0]?.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('replays placed orders after a cursor, and sends a job only its newer states', async () => {
    const [admin] = await users(server, 1, 'ADMIN');
    const item = await stockedItem(server, 100);
    const place = async () =>
      (
        await server.gql(
          'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id streamCursor } userErrors { message } } }',
          { input: { itemId: item.id, quantity: 1 } },
          { token: admin!.token },
        )
      ).body.data!.placeOrder.order as { id: string; streamCursor: string };
    const placed = [await place(), await place(), await place()];
    const orders = collect(server.wsClient({ authorization: `Bearer ${admin!.token}` }), {
      query: 'subscription($after: String) { orderPlaced(after: $after) { id } }',
      variables: { after: placed[0]!.streamCursor },
    });
    await orders.waitFor(2, 20_000);
    placed.push(await place());
    await orders.waitFor(3, 20_000);
    expect(orders.events.map((event) => event.data?.orderPlaced.id)).toEqual(placed.slice(1).map((order) => order.id));

    const started = await server.gql(
      'mutation { startJob(input: { kind: EXPORT_ITEMS, params: {} }) { job { id } userErrors { message } } }',
      {},
      { token: admin!.token },
    );
    const jobId = started.body.data!.startJob.job.id as string;
    const job = async () =>
      (await server.gql('query($id: ID!) { node(id: $id) { ... on Job { status streamCursor } } }', { id: jobId }, { token: admin!.token }))
        .body.data!.node as { status: string; streamCursor: string };
    let current = await job();
    for (let i = 0; i < 300 && current.status !== 'COMPLETED'; i++) {
      await sleep(100);
      current = await job();
    }
    expect(current.status).toBe('COMPLETED');
    const watch = (after: string) =>
      collect(server.wsClient({ authorization: `Bearer ${admin!.token}` }), {
        query: 'subscription($id: ID!, $after: String) { jobUpdated(id: $id, after: $after) { status } }',
        variables: { id: jobId, after },
      });
    const upToDate = watch(current.streamCursor);
    await upToDate.done(20_000);
    expect(upToDate.completed).toBe(true);
    expect(upToDate.events).toEqual([]);
    const jobRowId = Buffer.from(jobId, 'base64url').toString().split(':')[1]!;
    const behind = watch(Buffer.from(`s1:job:${jobRowId}:0`).toString('base64url'));
    await behind.done(20_000);
    expect(behind.events.map((event) => event.data?.jobUpdated.status)).toEqual(['COMPLETED']);
    const ahead = watch(Buffer.from(`s1:job:${jobRowId}:999999`).toString('base64url'));
    await ahead.done(20_000);
    expect(ahead.events[0]?.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('a server with small limits', () => {
  let slow: TestServer;
  beforeAll(async () => {
    slow = await startServer({ WS_SUBSCRIPTION_QUEUE_LIMIT: '2', STREAM_REPLAY_MAX: '3', CHAT_MESSAGE_LIMIT: '1000' });
    disposers.push(() => slow.close());
  });

  it('answers a cursor more than STREAM_REPLAY_MAX events back with CURSOR_EXPIRED, and replays one within it', async () => {
    const [owner] = await Promise.all([createUser(slow)]);
    const roomId = await createRoom(slow, owner);
    const cursors: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { body } = await slow.gql(SEND_MESSAGE, { input: { roomId, body: `m${i}` } }, { token: owner.token });
      cursors.push((await slow.gql(HISTORY, { id: roomId }, { token: owner.token })).body.data!.node.messages.nodes.at(-1).streamCursor);
      expect(body.data?.sendMessage.userErrors).toEqual([]);
    }
    const client = slow.wsClient({ authorization: `Bearer ${owner.token}` });
    const tooFar = collect(client, { query: RESUMABLE_ROOM_EVENTS, variables: { roomId, after: cursors[0] } });
    await tooFar.done(20_000);
    expect(tooFar.events[0]?.errors?.[0]?.extensions).toMatchObject({ code: 'CURSOR_EXPIRED', maxEvents: 3 });
    const within = collect(client, { query: RESUMABLE_ROOM_EVENTS, variables: { roomId, after: cursors[1] } });
    const replayed = await within.waitFor(3, 20_000);
    expect(replayed.map((event) => event.data?.roomEvents.message.body)).toEqual(['m2', 'm3', 'm4']);
  });

  it('closes a slow subscriber with 1013 and a reason telling it to resume from its last cursor while its socket still drains', async () => {
    const [reader, typist] = await Promise.all([createUser(slow), createUser(slow)]);
    const roomId = await createRoom(slow, reader, [typist]);
    const registry: RawClient[] = [];
    disposers.push(() => Promise.allSettled(registry.map((client) => client.dispose())));
    const raw = rawClient(slow, reader.token, registry);
    collect(raw.client, { query: RESUMABLE_ROOM_EVENTS, variables: { roomId } });
    await until(
      () => slow.app.container.services.realtime.channels.subscriberCountOf(fromGlobalId(roomId, 'Room')) === 1,
      'the subscription',
    );
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      raw.socket().once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    // Ten events in one burst: each takes a user lookup to deliver, so the queue of two overflows before the socket
    // has anything unsent.
    for (let i = 0; i < 10; i++) {
      slow.app.container.pubsub.publish(Topic.RoomEvent, fromGlobalId(roomId, 'Room'), {
        type: 'TYPING',
        roomId: fromGlobalId(roomId, 'Room'),
        userId: typist.rowId,
        typing: i % 2 === 0,
      });
    }
    expect(await closed).toEqual({ code: 1013, reason: SLOW_SUBSCRIBER });
  });
});
