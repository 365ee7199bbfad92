import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { collect } from '../helpers/subscriptions.js';
import { createRoom, rawClient, ROOM_EVENTS, sendMessage, SET_TYPING, until, users, type RawClient } from './helpers.js';

let server: TestServer;
const clients: RawClient[] = [];

beforeAll(async () => {
  server = await startServer({
    WS_KEEPALIVE_MS: '300',
    TYPING_THROTTLE_MS: '1000',
    TYPING_TIMEOUT_MS: '2000',
  });
});

afterAll(async () => {
  await Promise.allSettled(clients.map((client) => client.dispose()));
  await server?.close();
});

const realtime = () => server.app.container.services.realtime;
const label = (event: { data?: Record<string, any> | null }) => {
  const value = event.data?.roomEvents;
  if (!value) return 'error';
  if (value.__typename === 'MessagePosted') return `message:${value.message.body}`;
  if (value.__typename === 'TypingChanged') return `typing:${value.user.username}:${value.typing}`;
  return `${value.__typename}:${value.user.username}`;
};

function connected(client: Client): Promise<void> {
  return new Promise((resolve) => client.on('connected', () => resolve()));
}

function closed(client: Client): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => client.on('closed', (event) => resolve(event as { code: number; reason: string })));
}

describe('presence (acceptance 3)', () => {
  it('announces two tabs of one user once, says nothing when one closes, and MemberLeft when the other socket is cut', async () => {
    const [a, b] = (await users(server, 2)) as [TestUser, TestUser];
    const roomId = await createRoom(server, b, [a]);
    const watching = collect(rawClient(server, b.token, clients).client, { query: ROOM_EVENTS, variables: { roomId } });
    await until(() => realtime().channels.subscriberCount === 1, 'the watcher');

    const tab1 = rawClient(server, a.token, clients);
    collect(tab1.client, { query: ROOM_EVENTS, variables: { roomId } });
    await watching.waitFor(1, 20_000);
    const tab2 = rawClient(server, a.token, clients);
    collect(tab2.client, { query: ROOM_EVENTS, variables: { roomId } });
    await until(() => realtime().channels.subscriberCount === 3, "the second tab's subscription");
    await sendMessage(server, b, roomId, 'both tabs open');
    await watching.waitFor(2, 20_000);
    expect(watching.events.map(label)).toEqual([`MemberJoined:${a.username}`, 'message:both tabs open']);

    await tab1.client.dispose();
    await until(() => realtime().connections.countFor(a.rowId) === 1, 'the first tab to close');
    await sendMessage(server, b, roomId, 'one tab closed');
    await watching.waitFor(3, 20_000);
    expect(watching.events.map(label).slice(2)).toEqual(['message:one tab closed']);

    // No close frame: the TCP connection just ends.
    (tab2.socket() as unknown as { _socket: { destroy(): void } })._socket.destroy();
    await watching.waitFor(4, 20_000);
    expect(watching.events.map(label).slice(3)).toEqual([`MemberLeft:${a.username}`]);
    expect(realtime().connections.countFor(a.rowId)).toBe(0);
    watching.dispose();
  });

  it('terminates a socket that stops answering pings and clears its presence within the keep-alive window', async () => {
    const [a, b] = (await users(server, 2)) as [TestUser, TestUser];
    const roomId = await createRoom(server, b, [a]);
    const watching = collect(rawClient(server, b.token, clients).client, { query: ROOM_EVENTS, variables: { roomId } });
    await until(() => realtime().channels.subscriberCount === 1, 'the watcher');
    const silent = rawClient(server, a.token, clients);
    collect(silent.client, { query: ROOM_EVENTS, variables: { roomId } });
    await watching.waitFor(1, 20_000);

    // The client stops reading: it never sees the server's pings, so it never answers them.
    (silent.socket() as unknown as { _socket: { pause(): void } })._socket.pause();
    await watching.waitFor(2, 20_000);
    expect(watching.events.map(label)).toEqual([`MemberJoined:${a.username}`, `MemberLeft:${a.username}`]);
    expect(realtime().connections.countFor(a.rowId)).toBe(0);
    watching.dispose();
  });
});

describe('connection limits', () => {
  it('closes the eleventh connection of one user with 1008 "Too many connections"', async () => {
    const [a] = (await users(server, 1)) as [TestUser];
    const open: RawClient[] = [];
    for (let i = 0; i < 10; i++) {
      const tab = rawClient(server, a.token, clients);
      await connected(tab.client);
      open.push(tab);
    }
    const eleventh = rawClient(server, a.token, clients);
    expect(await closed(eleventh.client)).toMatchObject({ code: 1008, reason: 'Too many connections' });
    expect(realtime().connections.countFor(a.rowId)).toBe(10);

    await open[0]!.client.dispose();
    await until(() => realtime().connections.countFor(a.rowId) === 9, 'a tab to close');
    await connected(rawClient(server, a.token, clients).client);
    expect(realtime().connections.countFor(a.rowId)).toBe(10);
    await Promise.all(open.map((tab) => tab.dispose()));
  });

  it('refuses the 101st subscription on one connection with RATE_LIMITED and keeps the others running', async () => {
    const [a, b] = (await users(server, 2)) as [TestUser, TestUser];
    const client = rawClient(server, a.token, clients).client;
    const query = 'subscription { directMessages { body } }';
    const streams = Array.from({ length: 100 }, () => collect(client, { query }));
    const refused = collect(client, { query });
    await refused.done(20_000);
    expect(refused.errors[0]).toEqual([
      expect.objectContaining({
        message: 'Too many subscriptions on this connection (at most 100)',
        extensions: expect.objectContaining({ code: 'RATE_LIMITED' }),
      }),
    ]);
    await until(() => realtime().streams.open === 100, 'the 100 subscriptions');
    await server.gql(
      'mutation($input: SendDirectMessageInput!) { sendDirectMessage(input: $input) { message { id } } }',
      { input: { toUserId: a.id, body: 'hi' } },
      { token: b.token },
    );
    for (const stream of streams) expect((await stream.waitFor(1, 20_000))[0]?.data).toEqual({ directMessages: { body: 'hi' } });
    streams.forEach((stream) => stream.dispose());
  });
});

describe('typing (acceptance 4)', () => {
  it('throttles typing to one event per user and room per window, publishing the last state when the window ends', async () => {
    const [a, b] = (await users(server, 2)) as [TestUser, TestUser];
    const roomId = await createRoom(server, a, [b]);
    const watching = collect(rawClient(server, b.token, clients).client, { query: ROOM_EVENTS, variables: { roomId } });
    await until(() => realtime().channels.subscriberCount === 1, 'the watcher');
    for (const typing of [true, false, true, false, true, false]) {
      expect((await server.gql(SET_TYPING, { roomId, typing }, { token: a.token })).body.data).toEqual({ setTyping: true });
    }
    await watching.waitFor(2, 20_000);
    await sendMessage(server, a, roomId, 'sentinel');
    await watching.waitFor(3, 20_000);
    expect(watching.events.map(label)).toEqual([`typing:${a.username}:true`, `typing:${a.username}:false`, 'message:sentinel']);
    watching.dispose();
  });

  it('never sends typing back to the typist, on any of their connections', async () => {
    const [a, b] = (await users(server, 2)) as [TestUser, TestUser];
    const roomId = await createRoom(server, a, [b]);
    const typist = collect(rawClient(server, a.token, clients).client, { query: ROOM_EVENTS, variables: { roomId } });
    const watching = collect(rawClient(server, b.token, clients).client, { query: ROOM_EVENTS, variables: { roomId } });
    await until(() => realtime().channels.subscriberCount === 2, 'both subscriptions');
    await server.gql(SET_TYPING, { roomId, typing: true }, { token: a.token });
    await until(() => watching.events.some((event) => label(event) === `typing:${a.username}:true`), 'the typing event');
    await sendMessage(server, b, roomId, 'sentinel');
    await until(() => typist.events.some((event) => label(event) === 'message:sentinel'), 'the sentinel');
    expect(typist.events.map(label).filter((entry) => entry.startsWith('typing:'))).toEqual([]);
    typist.dispose();
    watching.dispose();
  });

  it('clears typing automatically when no update follows within the timeout', async () => {
    const [a, b] = (await users(server, 2)) as [TestUser, TestUser];
    const roomId = await createRoom(server, a, [b]);
    const watching = collect(rawClient(server, b.token, clients).client, { query: ROOM_EVENTS, variables: { roomId } });
    await until(() => realtime().channels.subscriberCount === 1, 'the watcher');
    await server.gql(SET_TYPING, { roomId, typing: true }, { token: a.token });
    await watching.waitFor(2, 20_000);
    expect(watching.events.map(label)).toEqual([`typing:${a.username}:true`, `typing:${a.username}:false`]);
    watching.dispose();
  });

  it('refuses typing in a room the viewer is not a member of', async () => {
    const [a, outsider] = (await users(server, 2)) as [TestUser, TestUser];
    const roomId = await createRoom(server, a);
    const { body } = await server.gql(SET_TYPING, { roomId, typing: true }, { token: outsider.token });
    expect(body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
