import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestUser } from '../helpers/auth.js';
import { Topic } from '../../src/pubsub/topics.js';
import { createUser } from '../helpers/auth.js';
import { itemEvent } from '../helpers/events.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { collect, type Collected } from '../helpers/subscriptions.js';
import { createRoom, rawClient, ROOM_EVENTS, run, SEND_MESSAGE, sendMessage, until, users, type RawClient } from './helpers.js';

let server: TestServer;
const clients: RawClient[] = [];

beforeAll(async () => {
  server = await startServer({
    CHAT_MESSAGE_LIMIT: '100000',
    RATE_LIMIT_USER: '100000000',
    // Small bounds, so a client that stops reading is found after a few messages rather than megabytes.
    WS_MAX_BUFFERED_BYTES: '65536',
    WS_SUBSCRIPTION_QUEUE_LIMIT: '50',
  });
});

afterAll(async () => {
  await Promise.allSettled(clients.map((client) => client.dispose()));
  await server?.close();
});

const realtime = () => server.app.container.services.realtime;

describe('volume', () => {
  it('delivers 1,000 messages exactly once and in order when the rate limit is raised', async () => {
    const [a, b] = (await users(server, 2)) as [TestUser, TestUser];
    const roomId = await createRoom(server, a, [b]);
    const stream = collect(rawClient(server, b.token, clients).client, { query: ROOM_EVENTS, variables: { roomId } });
    await until(() => realtime().channels.subscriberCount === 1, 'the subscriber');
    const sender = rawClient(server, a.token, clients).client;
    const sent: string[] = [];
    for (let i = 0; i < 1_000; i++) {
      const result = await run(sender, SEND_MESSAGE, { input: { roomId, body: `m${i}` } });
      sent.push(result.data?.sendMessage.message.id);
    }
    const events = await stream.waitFor(1_000, 120_000);
    expect(events.map((event) => event.data?.roomEvents.message.id)).toEqual(sent);
    expect(new Set(sent).size).toBe(1_000);
    stream.dispose();
  }, 300_000);

  it('delivers one message to each of 500 subscribers of a room (acceptance 5)', async () => {
    const members = (await users(server, 5)) as TestUser[];
    const roomId = await createRoom(server, members[0]!, members.slice(1));
    // Five connections (one per user) carrying 100 subscriptions each: the per-connection maximum.
    const streams: Collected[] = [];
    for (const member of members) {
      const client = rawClient(server, member.token, clients).client;
      for (let i = 0; i < 100; i++) streams.push(collect(client, { query: ROOM_EVENTS, variables: { roomId } }));
    }
    await until(() => realtime().channels.subscriberCount === 500, '500 subscriptions', 240_000);
    const { data } = await sendMessage(server, members[0]!, roomId, 'to everyone');
    const id = data?.sendMessage.message.id;
    for (const stream of streams) {
      await until(() => stream.events.some((event) => event.data?.roomEvents.message?.id === id), 'the message', 30_000);
    }
    const copies = streams.map((stream) => stream.events.filter((event) => event.data?.roomEvents.message?.id === id).length);
    expect(copies).toEqual(Array(500).fill(1));
    streams.forEach((stream) => stream.dispose());
    await until(() => realtime().channels.subscriberCount === 0, 'the subscriptions to end');
  }, 300_000);

  it('drops a subscriber that stops reading without holding up the others', async () => {
    const [a, reader, stalled] = (await users(server, 3)) as [TestUser, TestUser, TestUser];
    const roomId = await createRoom(server, a, [reader, stalled]);
    const reading = collect(rawClient(server, reader.token, clients).client, { query: ROOM_EVENTS, variables: { roomId } });
    // The reader must be registered before the stalled user's first subscription announces their presence.
    await until(() => realtime().channels.subscriberCount === 1, "the reader's subscription", 60_000);
    const stuck = rawClient(server, stalled.token, clients);
    for (let i = 0; i < 100; i++) collect(stuck.client, { query: ROOM_EVENTS, variables: { roomId } });
    await until(() => realtime().channels.subscriberCount === 101, 'the subscriptions', 120_000);
    await until(() => reading.events.length === 1, "the stalled user's presence");
    // The stalled client stops reading its socket; the server's writes to it back up.
    (stuck.socket() as unknown as { _socket: { pause(): void } })._socket.pause();

    const body = 'x'.repeat(1_990);
    const sent: string[] = [];
    const dropped = () => realtime().connections.countFor(stalled.rowId) === 0;
    while (!dropped() && sent.length < 2_000) {
      const { data } = await sendMessage(server, a, roomId, `${sent.length} ${body}`);
      sent.push(data?.sendMessage.message.id);
    }
    expect(dropped()).toBe(true);
    expect(server.logs.some((line) => line.msg === 'websocket dropped' && line.userId === stalled.rowId)).toBe(true);
    // The reader got every message, in order, while the stalled client backed up and after it was dropped.
    const last = await sendMessage(server, a, roomId, 'after the drop');
    sent.push(last.data?.sendMessage.message.id);
    await until(() => reading.events.some((event) => event.data?.roomEvents.message?.id === sent.at(-1)), 'the last message', 30_000);
    const messages = reading.events.filter((event) => event.data?.roomEvents.__typename === 'MessagePosted');
    expect(messages.map((event) => event.data?.roomEvents.message.id)).toEqual(sent);
    expect(realtime().channels.subscriberCount).toBe(1);
    reading.dispose();
  }, 300_000);

  it('drops a socket whose pub/sub subscriptions stop reading, and the process stays up for everyone else', async () => {
    const admin = await createUser(server, { role: 'ADMIN' });
    const watcher = await createUser(server, { role: 'ADMIN' });
    const query = 'subscription { itemChanged { sku description } }';
    const reading = collect(rawClient(server, watcher.token, clients).client, { query });
    const stuck = rawClient(server, admin.token, clients);
    const stalled = Array.from({ length: 100 }, () => collect(stuck.client, { query }));
    const event = (n: number) => itemEvent({ sku: `ST${String(n).padStart(4, '0')}`, name: 'Stall', description: 'x'.repeat(400) });
    // Every subscription is registered once an event reaches all of them.
    let n = 0;
    await until(
      () => {
        server.app.container.pubsub.publish(Topic.ItemChanged, event(n++));
        return reading.events.length > 0 && stalled.every((stream) => stream.events.length > 0);
      },
      'the subscriptions',
      60_000,
    );
    // The reader drains what that phase published before the bursts start: a backlog left from it plus a burst could
    // pass the reader's own queue limit on a loaded machine and drop the healthy socket.
    const settled = `ST${String(n - 1).padStart(4, '0')}`;
    await until(() => reading.events.some((e) => e.data?.itemChanged.sku === settled), `event ${settled}`, 30_000);
    (stuck.socket() as unknown as { _socket: { pause(): void } })._socket.pause();

    // More events than a pub/sub iterator nobody pulls may hold (1,024): they used to be thrown into the publisher.
    const dropped = () => realtime().connections.countFor(admin.rowId) === 0;
    const from = n;
    // In bursts of half the reading subscriber's queue (50 here), each delivered before the next, so only the stalled
    // socket falls behind.
    for (let burst = 0; burst < 48; burst++) {
      for (let i = 0; i < 25; i++) server.app.container.pubsub.publish(Topic.ItemChanged, event(n++));
      const sku = `ST${String(n - 1).padStart(4, '0')}`;
      await until(() => reading.events.some((e) => e.data?.itemChanged.sku === sku), `event ${sku}`, 30_000);
    }
    await until(dropped, 'the stalled socket to be dropped', 30_000);
    const last = `ST${String(n - 1).padStart(4, '0')}`;
    await until(() => reading.events.some((e) => e.data?.itemChanged.sku === last), 'the last event', 30_000);
    expect(reading.events.filter((e) => e.errors)).toEqual([]);
    // The other subscriber got every one of them, in order, while the stalled socket backed up and after its drop.
    const seen = reading.events.map((e) => Number(e.data?.itemChanged.sku.slice(2))).filter((sku) => sku >= from);
    expect(seen).toEqual(Array.from({ length: 1_200 }, (_, i) => from + i));
    expect((await server.gql('{ __typename }')).body.data).toEqual({ __typename: 'Query' });
    reading.dispose();
  }, 120_000);
});
