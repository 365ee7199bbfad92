/**
 * Several processes on one PostgreSQL and one Redis behave as one server: two real OpsHub processes (the entry point,
 * spawned) share presence, online counts, connection caps, the chat message limit, typing and the login limit, and a
 * process killed with SIGKILL takes its users' presence with it within a few keep-alive intervals. PostgreSQL only
 * (two processes cannot share an embedded PGlite directory); each run has its own REDIS_PREFIX.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGlobalId } from '../../src/schema/shared/global-id.js';
import { createTestDatabase } from '../helpers/database.js';
import type { TestServer } from '../helpers/server.js';
import { gql, loginToken, spawnServer, stopAll, wsClient, type SpawnedServer } from '../helpers/spawn.js';
import { collect, triggerUntilEvent, type Collected } from '../helpers/subscriptions.js';
import { ROOM_EVENTS, SEND_MESSAGE, SET_TYPING, JOIN_ROOM, until } from '../realtime/helpers.js';
import { rawSocket } from '../security/helpers.js';
import { sseRun } from '../helpers/sse.js';

const onPostgres = Boolean(process.env.DATABASE_URL);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `opshub-test-${randomUUID()}:`;
const ADMIN = { email: 'cluster-admin@example.com', password: 'Adm1n-Passw0rd' };
const PASSWORD = 'Us3r-Passw0rd';
const KEEPALIVE_MS = 1_000;
const MESSAGE_LIMIT = 5;
const LOGIN_LIMIT = 6;

const cleanups: Array<() => unknown> = [];
const clients: Client[] = [];
let processes: [SpawnedServer, SpawnedServer];
let urls: [string, string];
let adminToken: string;
let redis: Redis;
let roomId: string;
let watcher: User;
let watch: Collected;

interface User {
  id: string;
  username: string;
  token: string;
}

beforeAll(async () => {
  if (!onPostgres) return;
  const database = await createTestDatabase();
  cleanups.push(() => database.drop());
  redis = new Redis(REDIS_URL);
  cleanups.push(async () => {
    const keys = await redis.keys(`${PREFIX}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });
  const env = {
    DATABASE_URL: database.url!,
    REDIS_URL,
    REDIS_PREFIX: PREFIX,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    WS_KEEPALIVE_MS: String(KEEPALIVE_MS),
    WS_MAX_CONNECTIONS_PER_USER: '2',
    WS_MAX_ANONYMOUS_PER_ADDRESS: '2',
    CHAT_MESSAGE_LIMIT: String(MESSAGE_LIMIT),
    TYPING_THROTTLE_MS: '1000',
    TYPING_TIMEOUT_MS: '1500',
    LOGIN_MAX_ATTEMPTS: String(LOGIN_LIMIT),
  };
  // The first process migrates the database and creates the admin; the second starts on the finished database.
  const first = spawnServer(env);
  const a = await first.ready;
  const second = spawnServer(env);
  const b = await second.ready;
  processes = [first, second];
  urls = [a, b];
  adminToken = await loginToken(a, ADMIN.email, ADMIN.password);
  watcher = await registerUser();
  const { body } = await gql(
    a,
    'mutation($input: CreateRoomInput!) { createRoom(input: $input) { room { id } } }',
    { input: { name: 'cluster' } },
    watcher.token,
  );
  roomId = body.data.createRoom.room.id as string;
  watch = follow(a, watcher);
  await triggerUntilEvent(watch, async () => void (await post(a)));
}, 180_000);

afterAll(async () => {
  for (const client of clients) await client.dispose();
  await stopAll();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

let counter = 0;
/** A new user, signed in, and a member of the test's room once it exists. */
async function registerUser(): Promise<User> {
  const username = `cl_${process.pid}_${++counter}`;
  const { body } = await gql(urls[0], 'mutation($input: RegisterInput!) { register(input: $input) { user { id } userErrors { message } } }', {
    input: { username, email: `cl${process.pid}n${counter}@example.com`, password: PASSWORD },
  });
  const globalId = body.data?.register.user?.id as string | undefined;
  if (!globalId) throw new Error(`register failed: ${JSON.stringify(body)}`);
  const token = await loginToken(urls[0], username, PASSWORD);
  if (roomId) await gql(urls[0], JOIN_ROOM, { roomId }, token);
  return { id: parseGlobalId(globalId, 'User')!, username, token };
}

/** `user`'s roomEvents subscription on the process at `url`. */
function follow(url: string, user: User): Collected & { client: Client } {
  const client = wsClient(url, user.token);
  clients.push(client);
  return Object.assign(collect(client, { query: ROOM_EVENTS, variables: { roomId } }), { client });
}

/** Messages posted to mark a point in the room's event order; a new poster before the message limit is reached. */
let poster: { user: User; sent: number } | null = null;
async function post(url: string): Promise<string> {
  if (!poster || poster.sent >= MESSAGE_LIMIT - 1) poster = { user: await registerUser(), sent: 0 };
  poster.sent += 1;
  const text = `mark ${randomUUID()}`;
  const { body } = await gql(url, SEND_MESSAGE, { input: { roomId, body: text } }, poster.user.token);
  if (!body.data?.sendMessage.message) throw new Error(`sendMessage failed: ${JSON.stringify(body)}`);
  return text;
}

/** Posts a mark through each process and waits until the watcher has both: every event published before is in. */
async function settle(): Promise<void> {
  const marks = [await post(urls[0]), await post(urls[1])];
  await until(() => marks.every((mark) => events('MessagePosted').some((event) => event.message.body === mark)), 'the marks', 15_000);
}

function events(type: string, username?: string): Array<Record<string, any>> {
  return watch.events
    .map((event) => event.data?.roomEvents as Record<string, any> | undefined)
    .filter((event) => event?.__typename === type && (username === undefined || event.user?.username === username)) as Array<
    Record<string, any>
  >;
}

/** The member's presence as the shared state counts it: the processes holding a subscription of theirs to the room. */
async function presenceCount(user: User): Promise<number> {
  return Number((await redis.hget(`${PREFIX}cluster:presence`, `${parseGlobalId(roomId, 'Room')}:${user.id}`)) ?? 0);
}

async function waitPresence(user: User, count: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while ((await presenceCount(user)) !== count) {
    if (Date.now() > deadline) throw new Error(`presence never reached ${count}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A socket's close after `connection_init` (with `token`, or anonymous). */
async function initSocket(url: string, token: string | null) {
  const raw = rawSocket({ wsUrl: url.replace(/^http/, 'ws') } as TestServer);
  await raw.opened;
  raw.send({ type: 'connection_init', ...(token ? { payload: { authorization: `Bearer ${token}` } } : {}) });
  return raw;
}

describe.skipIf(!onPostgres)('two processes on one PostgreSQL and one Redis', () => {
  it('announce a member subscribed through both once, count them once online and twice toward their cap', async () => {
    const member = await registerUser();
    // Joining the room was announced already (MemberJoined too); presence comes on top of it.
    await settle();
    const joined = events('MemberJoined', member.username).length;
    const onA = follow(urls[0], member);
    await until(() => events('MemberJoined', member.username).length === joined + 1, 'the JOINED', 15_000);
    const onB = follow(urls[1], member);
    await triggerUntilEvent(onB, async () => void (await post(urls[1])));
    await waitPresence(member, 2);
    await settle();
    expect(events('MemberJoined', member.username)).toHaveLength(joined + 1);

    // The watcher's socket and the member's two: the same figures on both processes.
    for (const url of urls) {
      const { body } = await gql(url, '{ dashboard { onlineUsers openConnections } }', {}, adminToken);
      expect(body.data).toEqual({ dashboard: { onlineUsers: 2, openConnections: 3 } });
    }
    // Cap 2, held on two processes: a third socket is refused on either, and so is an event stream.
    for (const url of urls) {
      const raw = await initSocket(url, member.token);
      expect(await raw.closed).toEqual({ code: 1008, reason: 'Too many connections' });
      const stream = await sseRun({ httpUrl: url } as TestServer, { query: ROOM_EVENTS, variables: { roomId } }, member.token);
      expect(stream.status).toBe(429);
      expect(stream.results[0]?.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 2 });
    }

    await onA.client.dispose();
    await waitPresence(member, 1);
    await settle();
    expect(events('MemberLeft', member.username)).toHaveLength(0);
    await onB.client.dispose();
    await until(() => events('MemberLeft', member.username).length === 1, 'the LEFT', 15_000);
    await settle();
    expect(events('MemberLeft', member.username)).toHaveLength(1);
  });

  it('count anonymous sockets of one address on every process toward its cap', async () => {
    const held = [await initSocket(urls[0], null), await initSocket(urls[1], null)];
    for (const raw of held) expect((await raw.next()).type).toBe('connection_ack');
    for (const url of urls) {
      const raw = rawSocket({ wsUrl: url.replace(/^http/, 'ws') } as TestServer);
      expect(await raw.closed).toEqual({ code: 1008, reason: 'Too many anonymous connections' });
    }
    for (const raw of held) raw.socket.close();
    await Promise.all(held.map((raw) => raw.closed));
    // The next tests' sockets count as anonymous until their connection_init: the slots must be free again.
    const deadline = Date.now() + 15_000;
    while ((await redis.hlen(`${PREFIX}cluster:anon`)) > 0) {
      if (Date.now() > deadline) throw new Error('anonymous slots never freed');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });

  it('share the chat message limit: the message over it is refused whichever process receives it', async () => {
    const sender = await registerUser();
    const send = (index: number) => gql(urls[index % 2]!, SEND_MESSAGE, { input: { roomId, body: `limit ${index}` } }, sender.token);
    for (let index = 0; index < MESSAGE_LIMIT; index += 1) {
      const { body } = await send(index);
      expect(body.data?.sendMessage.message).toBeTruthy();
    }
    for (const index of [MESSAGE_LIMIT, MESSAGE_LIMIT + 1]) {
      const { body } = await send(index);
      expect(body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    }
  });

  it('share typing: calls through both processes are throttled and cleared once', async () => {
    const typist = await registerUser();
    const setTyping = (url: string) => gql(url, SET_TYPING, { roomId, typing: true }, typist.token);
    await setTyping(urls[0]);
    await setTyping(urls[1]);
    await setTyping(urls[0]);
    const changes = () => events('TypingChanged', typist.username).map((event) => event.typing as boolean);
    await until(() => changes().length >= 2, 'typing to be cleared', 15_000);
    // Once the shared state is forgotten nothing more can be published for it.
    const key = `${PREFIX}cluster:typing:${parseGlobalId(roomId, 'Room')}:${typist.id}`;
    const deadline = Date.now() + 15_000;
    while ((await redis.exists(key)) === 1) {
      if (Date.now() > deadline) throw new Error('typing state never forgotten');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await settle();
    expect(changes()).toEqual([true, false]);
  });

  it('share the login limit (it lives in PostgreSQL)', async () => {
    const user = await registerUser();
    const login = (url: string, password: string) =>
      gql(url, 'mutation($input: LoginInput!) { login(input: $input) { accessToken userErrors { code } } }', {
        input: { login: user.username, password },
      });
    // registerUser signed in once: that success cleared the count.
    for (let attempt = 0; attempt < LOGIN_LIMIT; attempt += 1) {
      const { body } = await login(urls[attempt % 2]!, 'Wrong-pass1');
      expect(body.data.login).toEqual({ accessToken: null, userErrors: [{ code: 'INVALID_CREDENTIALS' }] });
    }
    for (const url of urls) {
      const { body } = await login(url, PASSWORD);
      expect(body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    }
  });

  it("end a killed process's presence within a few keep-alive intervals, announced by the other", async () => {
    const member = await registerUser();
    await settle();
    const joined = events('MemberJoined', member.username).length;
    const onB = follow(urls[1], member);
    await triggerUntilEvent(onB, async () => void (await post(urls[1])));
    await until(() => events('MemberJoined', member.username).length === joined + 1, 'the JOINED', 15_000);
    processes[1].child.kill('SIGKILL');
    await processes[1].exited;
    // The liveness key lives one interval and every process sweeps every third of one: ten intervals is generous.
    await until(() => events('MemberLeft', member.username).length === 1, 'the LEFT of the killed process', 10 * KEEPALIVE_MS);
    expect(await presenceCount(member)).toBe(0);
    // Its connections left the counts too: the watcher's socket is the only one.
    const { body } = await gql(urls[0], '{ dashboard { onlineUsers openConnections } }', {}, adminToken);
    expect(body.data).toEqual({ dashboard: { onlineUsers: 1, openConnections: 1 } });
  });
});
