import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { collect } from '../helpers/subscriptions.js';
import {
  createRoom,
  LEAVE_ROOM,
  rawClient,
  ROOM_EVENTS,
  run,
  SEND_MESSAGE,
  sendMessage,
  SET_TYPING,
  until,
  users,
  type RawClient,
} from './helpers.js';

let server: TestServer;
const clients: RawClient[] = [];

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await Promise.allSettled(clients.map((client) => client.dispose()));
  await server?.close();
});

function wsOf(user: TestUser) {
  return rawClient(server, user.token, clients).client;
}

describe('rooms and messages', () => {
  it('creates a room with the creator as member, refuses a duplicate name ignoring case, and lists it', async () => {
    const [owner] = await users(server, 1);
    const roomId = await createRoom(server, owner!, [], 'Support Desk');
    const duplicate = await server.gql(
      'mutation { createRoom(input: { name: "  support desk " }) { room { id } userErrors { field code } } }',
      {},
      { token: owner!.token },
    );
    expect(duplicate.body.data?.createRoom).toEqual({ room: null, userErrors: [{ field: ['input', 'name'], code: 'TAKEN' }] });
    const empty = await server.gql(
      'mutation { createRoom(input: { name: "   " }) { room { id } userErrors { code } } }',
      {},
      { token: owner!.token },
    );
    expect(empty.body.data?.createRoom.userErrors).toEqual([{ code: 'INVALID' }]);
    const listed = await server.gql(
      'query($id: ID!) { rooms(first: 100) { nodes { id name } } node(id: $id) { ... on Room { name members { totalCount nodes { username } } } } }',
      { id: roomId },
      { token: owner!.token },
    );
    expect(listed.body.data?.rooms.nodes).toContainEqual({ id: roomId, name: 'Support Desk' });
    expect(listed.body.data?.node).toEqual({ name: 'Support Desk', members: { totalCount: 1, nodes: [{ username: owner!.username }] } });
  });

  it('keeps messages to members: trimmed bodies, 1 to 2000 characters, the newest 50 by default and older ones with before', async () => {
    const [owner, outsider] = await users(server, 2);
    const roomId = await createRoom(server, owner!);
    const refused = await sendMessage(server, outsider!, roomId, 'hello');
    expect(refused.data?.sendMessage.userErrors).toEqual([
      { field: ['input', 'roomId'], message: 'You are not a member of this room', code: 'FORBIDDEN' },
    ]);
    const blank = await sendMessage(server, owner!, roomId, '   ');
    expect(blank.data?.sendMessage.userErrors[0]).toMatchObject({ field: ['input', 'body'], code: 'INVALID' });
    const long = await sendMessage(server, owner!, roomId, 'x'.repeat(2001));
    expect(long.data?.sendMessage.userErrors[0]).toMatchObject({ field: ['input', 'body'], code: 'INVALID' });
    const sent = await sendMessage(server, owner!, roomId, '  first  ');
    expect(sent.data?.sendMessage.message.body).toBe('first');

    // 60 stored messages (the rate limit counts messages sent through the API, not rows).
    const repo = server.app.container.repos.chat;
    const roomRow = (await repo.findRoomsByIds([Buffer.from(roomId, 'base64url').toString().split(':')[1]!]))[0]!;
    // One millisecond apart: stored timestamps have millisecond precision, and this test is about paging, not ties.
    const start = Date.now() + 1_000;
    for (let i = 1; i <= 59; i++) {
      await repo.insertMessage({ roomId: roomRow.id, authorId: owner!.rowId, body: `m${i}`, createdAt: new Date(start + i) });
    }
    const query =
      'query($id: ID!, $before: String) { node(id: $id) { ... on Room { messages(last: 50, before: $before) { totalCount nodes { body } pageInfo { hasPreviousPage startCursor } } } } }';
    const latest = await server.gql(query, { id: roomId }, { token: owner!.token });
    const page = latest.body.data?.node.messages;
    expect(page.totalCount).toBe(60);
    expect(page.nodes.map((node: { body: string }) => node.body)).toEqual(Array.from({ length: 50 }, (_, i) => `m${i + 10}`));
    expect(page.pageInfo.hasPreviousPage).toBe(true);
    const older = await server.gql(query, { id: roomId, before: page.pageInfo.startCursor }, { token: owner!.token });
    expect(older.body.data?.node.messages.nodes.map((node: { body: string }) => node.body)).toEqual([
      'first',
      ...Array.from({ length: 9 }, (_, i) => `m${i + 1}`),
    ]);
    const byDefault = await server.gql(
      'query($id: ID!) { node(id: $id) { ... on Room { messages { nodes { body } } } } }',
      { id: roomId },
      { token: owner!.token },
    );
    expect(byDefault.body.data?.node.messages.nodes).toHaveLength(50);

    const hidden = await server.gql(
      'query($id: ID!) { node(id: $id) { ... on Room { messages { totalCount } } } }',
      { id: roomId },
      { token: outsider!.token },
    );
    expect(hidden.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const message = await server.gql(
      'query($id: ID!) { node(id: $id) { id } }',
      { id: sent.data?.sendMessage.message.id },
      { token: outsider!.token },
    );
    expect(message.body.data?.node).toBeNull();
  });
});

describe('delivery to room subscribers (acceptance 1)', () => {
  it('delivers ten messages exactly once, in order and after commit; the eleventh within the minute is RATE_LIMITED and both sockets stay open', async () => {
    const [a, b] = await users(server, 2);
    const roomId = await createRoom(server, a!, [b!]);
    const clientA = wsOf(a!);
    const clientB = wsOf(b!);
    const stream = collect(clientB, { query: ROOM_EVENTS, variables: { roomId } });
    // The subscription is live once the server holds it.
    await until(() => server.app.container.services.realtime.channels.subscriberCount === 1, 'the subscription');

    const repo = server.app.container.repos.chat;
    const committed: Array<Promise<number>> = [];
    const sentIds: string[] = [];
    for (let i = 1; i <= 10; i++) {
      const result = await run(clientA, SEND_MESSAGE, { input: { roomId, body: `message ${i}` } });
      sentIds.push(result.data?.sendMessage.message.id);
    }
    const events = await stream.waitFor(10, 20_000);
    for (const event of events) {
      const id = Buffer.from(event.data!.roomEvents.message.id, 'base64url').toString().split(':')[1]!;
      committed.push(repo.findMessagesByIds([id]).then((rows) => rows.length));
    }
    expect(events.map((event) => event.data?.roomEvents.message.id)).toEqual(sentIds);
    expect(events.map((event) => event.data?.roomEvents.message.body)).toEqual(sentIds.map((_, i) => `message ${i + 1}`));
    expect(await Promise.all(committed)).toEqual(Array(10).fill(1));

    const eleventh = await run(clientA, SEND_MESSAGE, { input: { roomId, body: 'one too many' } });
    expect(eleventh.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
    expect(eleventh.errors?.[0]?.extensions?.retryAfter).toBeGreaterThan(0);
    expect(eleventh.errors?.[0]?.extensions?.retryAfter).toBeLessThanOrEqual(60);

    // Both sockets still work: A runs another operation, B still receives the room's events.
    expect((await run(clientA, SET_TYPING, { roomId, typing: true })).data).toEqual({ setTyping: true });
    await stream.waitFor(11, 20_000);
    expect(stream.events[10]?.data?.roomEvents).toEqual({ __typename: 'TypingChanged', user: { username: a!.username }, typing: true });
    expect(stream.events).toHaveLength(11);
    stream.dispose();
  });
});

describe('per-event authorization (acceptance 2)', () => {
  it("refuses a non-member's subscription with FORBIDDEN", async () => {
    const [owner, outsider] = await users(server, 2);
    const roomId = await createRoom(server, owner!);
    const stream = collect(wsOf(outsider!), { query: ROOM_EVENTS, variables: { roomId } });
    await stream.done(20_000);
    expect(stream.completed).toBe(true);
    expect(stream.events).toHaveLength(1);
    expect(stream.events[0]!.data ?? null).toBeNull();
    expect(stream.events[0]!.errors?.[0]).toMatchObject({ message: 'You are not a member of this room', extensions: { code: 'FORBIDDEN' } });
  });

  it('stops delivering to a member who leaves: not the next message, not typing, on every connection', async () => {
    const [a, leaver, witness] = await users(server, 3);
    const roomId = await createRoom(server, a!, [leaver!, witness!]);
    const leaverTab1 = collect(wsOf(leaver!), { query: ROOM_EVENTS, variables: { roomId } });
    const leaverTab2 = collect(wsOf(leaver!), { query: ROOM_EVENTS, variables: { roomId } });
    const watching = collect(wsOf(witness!), { query: ROOM_EVENTS, variables: { roomId } });
    await until(() => server.app.container.services.realtime.channels.subscriberCount === 3, 'the subscriptions');

    await sendMessage(server, a!, roomId, 'before the leave');
    await leaverTab1.waitFor(1, 20_000);
    await leaverTab2.waitFor(1, 20_000);

    const left = await server.gql(LEAVE_ROOM, { roomId }, { token: leaver!.token });
    expect(left.body.data?.leaveRoom.userErrors).toEqual([]);
    await sendMessage(server, a!, roomId, 'after the leave');
    await server.gql(SET_TYPING, { roomId, typing: true }, { token: a!.token });
    await sendMessage(server, a!, roomId, 'sentinel');

    await until(() => watching.events.some((event) => event.data?.roomEvents.message?.body === 'sentinel'), 'the sentinel');
    const seen = watching.events;
    const kinds = seen.map((event) => event.data?.roomEvents.__typename);
    // The witness saw the leaver's own presence and the leave, then everything sent after it.
    expect(seen.map((event) => event.data?.roomEvents.message?.body ?? event.data?.roomEvents.__typename)).toEqual(
      expect.arrayContaining(['before the leave', 'MemberLeft', 'after the leave', 'TypingChanged', 'sentinel']),
    );
    expect(kinds.filter((kind) => kind === 'MemberLeft')).toHaveLength(1);

    for (const tab of [leaverTab1, leaverTab2]) {
      await tab.done(20_000);
      expect(tab.completed).toBe(true);
      const received = tab.events.map((event) => event.data?.roomEvents.message?.body ?? event.data?.roomEvents.__typename);
      expect(received).toContain('before the leave');
      for (const after of ['after the leave', 'TypingChanged', 'sentinel', 'MemberLeft']) expect(received).not.toContain(after);
    }
    expect(server.app.container.services.realtime.channels.subscriberCount).toBe(1);
    watching.dispose();
  });
});
