/**
 * Closed against hostile use: one stalled subscriber cannot crash the process. A socket holding 100 subscriptions of
 * each kind stops reading while 2,000 events are published: it is dropped, the process stays up, every other
 * subscriber gets every event, and RSS comes back to within 20 % of what it was before. And a stalled socket whose
 * outgoing buffer is over WS_MAX_BUFFERED_BYTES is found by the timer check, without a further event to find it.
 */
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { toJobEvent } from '../../src/jobs/queue.js';
import type { JobRow } from '../../src/db/tables.js';
import { Topic } from '../../src/pubsub/topics.js';
import { SLOW_SUBSCRIBER } from '../../src/realtime/queue.js';
import { fromGlobalId } from '../../src/schema/shared/global-id.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { collect, type Collected } from '../helpers/subscriptions.js';
import { createRoom, rawClient, ROOM_EVENTS, SEND_MESSAGE, until, type RawClient } from './helpers.js';

/** The acceptance's subscriptions per kind on the stalled socket. */
const PER_KIND = 100;
/** Rounds of eight events each (see `round`): the 2,000 events of the acceptance. */
const ROUNDS = 250;
const EVENTS_PER_ROUND = 8;
/**
 * Small bounds, so the stall is found within the 2,000 events: at the defaults (1,000 queued events, 1 MiB) a socket
 * that receives at most 500 events per subscription holds them all, bounded, and is never dropped. The buffer bound is
 * below one 10,000-character post, which the timer test needs.
 */
const QUEUE_LIMIT = 100;
const MAX_BUFFERED_BYTES = 8_192;
/** Tolerance of the acceptance for RSS after the stall, against the baseline. */
const RSS_TOLERANCE = 1.2;

const KINDS = ['postPublished', 'itemChanged', 'orderPlaced', 'jobUpdated', 'roomEvents', 'notificationReceived'] as const;
type Kind = (typeof KINDS)[number];

const DOCUMENTS: Record<Kind, string> = {
  postPublished: 'subscription Posts { postPublished { id title body } }',
  itemChanged: 'subscription Items { itemChanged { sku description stock } }',
  orderPlaced: 'subscription Orders { orderPlaced { id quantity } }',
  jobUpdated: 'subscription Job($id: ID!) { jobUpdated(id: $id) { id status progress attempts } }',
  roomEvents: ROOM_EVENTS,
  notificationReceived: 'subscription Notifications { notificationReceived { id title body } }',
};

/** What names one event of a kind as a subscriber sees it; null for events the test did not publish. */
const KEYS: Record<Kind, (data: Record<string, any>) => string | null> = {
  postPublished: (data) => data.postPublished.id,
  itemChanged: (data) => `${data.itemChanged.sku}/${data.itemChanged.stock}/${data.itemChanged.description}`,
  orderPlaced: (data) => data.orderPlaced.id,
  // The job as stored (PENDING: nothing runs it) comes first on every subscription, then the published progress.
  jobUpdated: (data) => (data.jobUpdated.status === 'PENDING' ? null : `${data.jobUpdated.attempts}/${data.jobUpdated.progress}`),
  // Presence (the stalled user's first subscription opening, their last one closing) is checked on its own.
  roomEvents: (data) => (data.roomEvents.__typename === 'MessagePosted' ? data.roomEvents.message.id : null),
  notificationReceived: (data) => data.notificationReceived.title,
};

const CREATE_ITEM = /* GraphQL */ `
  mutation CreateItem($input: CreateItemInput!) { createItem(input: $input) { item { id sku description stock } userErrors { message } } }
`;
const UPDATE_ITEM = /* GraphQL */ `
  mutation UpdateItem($input: UpdateItemInput!) { updateItem(input: $input) { item { id } userErrors { message } } }
`;
const PLACE_ORDER = /* GraphQL */ `
  mutation PlaceOrder($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } userErrors { message } } }
`;
const CREATE_POST = /* GraphQL */ `
  mutation CreatePost($input: CreatePostInput!) { createPost(input: $input) { post { id } userErrors { message } } }
`;
const SEND_NOTIFICATION = /* GraphQL */ `
  mutation Notify($input: SendNotificationInput!) { sendNotification(input: $input) { sentCount userErrors { message } } }
`;
const START_JOB = /* GraphQL */ `
  mutation StartJob($input: StartJobInput!) { startJob(input: $input) { job { id } userErrors { message } } }
`;

const STOCK = 1_000_000;
/** Posts as long as they may be, and long messages and notifications: the stalled socket's buffers fill in a few rounds. */
const POST_BODY = 'x'.repeat(10_000);
const TEXT = 'x'.repeat(1_500);

let server: TestServer;
const clients: RawClient[] = [];
/** Signs in the publisher's mutations. */
let publisher: TestUser;
/** Owns the socket that stops reading. */
let stalledUser: TestUser;
/** Owns the socket that keeps reading. */
let reader: TestUser;
/** updateItem's item; the order item's stock changes are item events too. */
let item: { id: string; sku: string };
let orderItem: { id: string; sku: string; description: string };
let roomId: string;
let job: { globalId: string; row: JobRow };

beforeAll(async () => {
  server = await startServer({
    // One socket carries the six kinds × 100.
    WS_MAX_SUBSCRIPTIONS: String(KINDS.length * PER_KIND),
    WS_SUBSCRIPTION_QUEUE_LIMIT: String(QUEUE_LIMIT),
    WS_MAX_BUFFERED_BYTES: String(MAX_BUFFERED_BYTES),
    // 2,000 events through mutations and 1,200 subscriptions: far beyond the default budgets and chat limit.
    RATE_LIMIT_ADMIN: '100000000',
    CHAT_MESSAGE_LIMIT: '100000',
    // Nothing runs the watched job: it stays PENDING, and its progress events are the test's (see `publishJob`).
    JOB_CONCURRENCY: '0',
    // The keep-alive terminates a socket that cannot read its ping one interval later, silently: the stalled socket
    // must be found by its bounds (within seconds here) long before that.
    WS_KEEPALIVE_MS: '30000',
  });
  publisher = await createUser(server, { role: 'ADMIN' });
  stalledUser = await createUser(server, { role: 'ADMIN' });
  reader = await createUser(server, { role: 'ADMIN' });
  const created = await mutate(CREATE_ITEM, { input: { sku: 'SS0001', name: 'Stall', price: 1, category: 'HOME', stock: 1 } });
  item = created.createItem.item;
  const stocked = await mutate(CREATE_ITEM, {
    input: { sku: 'SS0002', name: 'Stock', description: 'ordered', price: 1, category: 'HOME', stock: STOCK },
  });
  orderItem = stocked.createItem.item;
  roomId = await createRoom(server, publisher, [stalledUser, reader]);
  const started = await mutate(START_JOB, { input: { kind: 'EXPORT_ITEMS', params: {} } });
  const globalId = started.startJob.job.id as string;
  job = { globalId, row: (await server.app.container.repos.jobs.findById(fromGlobalId(globalId, 'Job')))! };
}, 120_000);

afterAll(async () => {
  await Promise.allSettled(clients.map((client) => client.dispose()));
  await server?.close();
});

const realtime = () => server.app.container.services.realtime;

async function mutate(query: string, variables: Record<string, unknown>): Promise<Record<string, any>> {
  const { body } = await server.gql(query, variables, { token: publisher.token });
  const payload = Object.values(body.data ?? {})[0] as { userErrors?: unknown[] } | undefined;
  if (body.errors || !payload || payload.userErrors?.length) throw new Error(`mutation failed: ${JSON.stringify(body)}`);
  return body.data!;
}

/** Every event published, by kind, in publication order (the publisher awaits each mutation before the next). */
const published = Object.fromEntries(KINDS.map((kind) => [kind, [] as string[]])) as Record<Kind, string[]>;
let rounds = 0;
let ordered = 0;
/** Events published: the order and the notification publish two each. */
let events = 0;

/**
 * One event of each kind through its product path, eight events in all: the order's stock change is an item event
 * too, and the notification goes to both users (each subscribes to their own).
 */
async function round(): Promise<void> {
  const n = rounds++;
  const post = await mutate(CREATE_POST, { input: { title: `p${n}`, body: POST_BODY } });
  published.postPublished.push(post.createPost.post.id);
  await mutate(UPDATE_ITEM, { input: { id: item.id, description: `d${n}` } });
  published.itemChanged.push(`${item.sku}/1/d${n}`);
  const order = await mutate(PLACE_ORDER, { input: { itemId: orderItem.id, quantity: 1 } });
  published.orderPlaced.push(order.placeOrder.order.id);
  published.itemChanged.push(`${orderItem.sku}/${STOCK - ++ordered}/${orderItem.description}`);
  const message = await mutate(SEND_MESSAGE, { input: { roomId, body: `m${n} ${TEXT}` } });
  published.roomEvents.push(message.sendMessage.message.id);
  await mutate(SEND_NOTIFICATION, { input: { userIds: [stalledUser.id, reader.id], title: `n${n}`, body: TEXT } });
  published.notificationReceived.push(`n${n}`);
  publishJob(n);
  events += EVENTS_PER_ROUND;
}

/**
 * A job's progress goes out through the runner at most 4 times a second (src/jobs/runner.ts), so 250 updates would
 * take a minute: these are the runner's own events (`toJobEvent` of the stored row, each with a higher revision),
 * published on its topic as a job retried a few times would report them.
 */
function publishJob(n: number): void {
  const attempts = 1 + Math.floor(n / 100);
  const progress = n % 100;
  server.app.container.pubsub.publish(Topic.JobUpdated, job.row.id, {
    ...toJobEvent(job.row),
    status: 'RUNNING',
    attempts,
    progress,
    revision: job.row.revision + n + 1,
    startedAt: job.row.createdAt.toISOString(),
  });
  published.jobUpdated.push(`${attempts}/${progress}`);
}

function subscribe(client: RawClient, kind: Kind): Collected {
  const variables = kind === 'jobUpdated' ? { id: job.globalId } : kind === 'roomEvents' ? { roomId } : undefined;
  return collect(client.client, { query: DOCUMENTS[kind], variables });
}

/** graphql-ws does not tell a client when its subscription listens: rounds go out until every stream has had one. */
async function listening(streams: Collected[]): Promise<void> {
  const deadline = Date.now() + 240_000;
  while (!streams.every((stream) => stream.events.length > 0)) {
    const failed = streams.find((stream) => stream.errors.length > 0);
    if (failed) throw new Error(`a subscription failed: ${JSON.stringify(failed.errors)}`);
    if (Date.now() > deadline) throw new Error('Timed out waiting for the subscriptions to listen');
    await round();
  }
}

interface Subscribers {
  readingClient: RawClient;
  reading: Record<Kind, Collected>;
  stalledClient: RawClient;
  stalled: Collected[];
}

/** One reading subscription per kind on one socket, then 100 per kind on another: all listening. */
async function open(): Promise<Subscribers> {
  const readingClient = rawClient(server, reader.token, clients);
  const reading = Object.fromEntries(KINDS.map((kind) => [kind, subscribe(readingClient, kind)])) as Record<Kind, Collected>;
  // The reader listens to the room before the stalled user's first subscription announces them.
  await listening(Object.values(reading));
  const stalledClient = rawClient(server, stalledUser.token, clients);
  const stalled = KINDS.flatMap((kind) => Array.from({ length: PER_KIND }, () => subscribe(stalledClient, kind)));
  await listening(stalled);
  return { readingClient, reading, stalledClient, stalled };
}

/** Closes both sockets and waits until the server let go of every subscription. */
async function close(subscribers: Subscribers): Promise<void> {
  for (const stream of [...Object.values(subscribers.reading), ...subscribers.stalled]) {
    stream.dispose();
    stream.events.length = 0;
  }
  await subscribers.readingClient.dispose();
  await subscribers.stalledClient.dispose();
  await until(
    () =>
      realtime().connections.countFor(reader.rowId) === 0 &&
      realtime().connections.countFor(stalledUser.rowId) === 0 &&
      realtime().channels.subscriberCount === 0 &&
      realtime().streams.open === 0,
    'the server to release the subscriptions',
  );
}

/** The client's TCP socket: pausing it is a client that stops reading, and the server's writes to it back up. */
const tcpOf = (client: RawClient) => (client.socket() as unknown as { _socket: Socket })._socket;

// A full collection before each RSS sample, when the process was not started with --expose-gc.
const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  })();

async function settledRss(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(200);
  }
  return process.memoryUsage().rss;
}

describe('a stalled subscriber', () => {
  it('is dropped with its 600 subscriptions while 2,000 events go out; everyone else gets every event, and memory comes back', async () => {
    // The same subscriptions opened and closed once, so the baseline includes what the first use allocates for good
    // (compiled code, caches, the database's pages).
    await close(await open());
    const baseline = await settledRss();

    const subscribers = await open();
    const { reading, stalledClient } = subscribers;
    const closeCode = new Promise<number>((resolve) => (stalledClient.socket() as WebSocket).once('close', (code) => resolve(code)));
    tcpOf(stalledClient).pause();
    const dropped = () => realtime().connections.countFor(stalledUser.rowId) === 0;
    const from = Object.fromEntries(KINDS.map((kind) => [kind, published[kind].length])) as Record<Kind, number>;
    const eventsBefore = events;
    let droppedAfter: number | null = null;
    for (let i = 0; i < ROUNDS; i++) {
      await round();
      if (droppedAfter === null && dropped()) droppedAfter = (i + 1) * EVENTS_PER_ROUND;
    }
    expect(events - eventsBefore).toBe(2_000);

    // Dropped by its bounds while the events went out (not by the keep-alive, which logs nothing), and the process
    // still answers.
    expect(droppedAfter).not.toBeNull();
    const drops = server.logs.filter((line) => line.msg === 'websocket dropped' && line.userId === stalledUser.rowId);
    // Dropped once, and the sends that failed after it are not logged as errors.
    expect(drops).toHaveLength(1);
    expect(server.logs.filter((line) => line.level >= 50)).toEqual([]);
    expect(drops.filter((line) => ![SLOW_SUBSCRIBER, 'Subscriber too slow', 'outgoing buffer over limit'].includes(line.reason))).toEqual([]);
    expect((await server.gql('{ __typename }')).body.data).toEqual({ __typename: 'Query' });
    // Terminated, not closed: a client that stopped reading would never read a close frame.
    tcpOf(stalledClient).resume();
    expect(await closeCode).toBe(1006);

    // Every reading subscriber got every event of its kind exactly once, in order: from its first event (during the
    // rounds that waited for the subscriptions to listen) to the last one published.
    await until(
      () => KINDS.every((kind) => reading[kind].events.some((event) => KEYS[kind](event.data!) === published[kind].at(-1))),
      'the last event of every kind',
    );
    for (const kind of KINDS) {
      expect(reading[kind].errors).toEqual([]);
      expect(reading[kind].events.filter((event) => event.errors)).toEqual([]);
      const keys = reading[kind].events.map((event) => KEYS[kind](event.data!)).filter((key) => key !== null);
      const first = published[kind].indexOf(keys[0]!);
      expect(first, kind).toBeGreaterThanOrEqual(0);
      expect(first, kind).toBeLessThan(from[kind]);
      expect(keys, kind).toEqual(published[kind].slice(first));
    }
    // The room saw the stalled user arrive once and leave once: all 100 of their room subscriptions were released.
    const presence = reading.roomEvents.events
      .map((event) => event.data!.roomEvents)
      .filter((event) => event.__typename !== 'MessagePosted')
      .map((event) => `${event.__typename} ${event.user.username}`);
    expect(presence).toEqual([`MemberJoined ${stalledUser.username}`, `MemberLeft ${stalledUser.username}`]);
    // Only the reader's own subscriptions are left on the server.
    await until(() => realtime().channels.subscriberCount === 1 && realtime().streams.open === 1, "only the reader's streams");

    await close(subscribers);
    const deadline = Date.now() + 30_000;
    let rss = await settledRss();
    while (rss > baseline * RSS_TOLERANCE && Date.now() < deadline) rss = await settledRss();
    expect(rss, `RSS ${rss} against a baseline of ${baseline} (dropped after ${droppedAfter} events)`).toBeLessThanOrEqual(
      baseline * RSS_TOLERANCE,
    );
  }, 600_000);

  it('is dropped when its outgoing buffer is over the limit, though no further event arrives', async () => {
    const user = await createUser(server, { role: 'ADMIN' });
    // The server's end of the socket, to know when a message is stuck in its outgoing buffer.
    const upgraded = new Promise<Socket>((resolve) =>
      server.app.fastify.server.once('upgrade', (_request, socket: Socket) => resolve(socket)),
    );
    const stuck = rawClient(server, user.token, clients);
    const serverEnd = await upgraded;
    const posts = collect(stuck.client, { query: DOCUMENTS.postPublished });
    // A second subscription: when the first one's message is stuck part-way into the kernel, with less than the limit
    // left in the buffer, the second one's message still goes into the buffer behind it and takes it over the limit.
    const more = collect(stuck.client, { query: DOCUMENTS.postPublished });
    while (posts.events.length === 0 || more.events.length === 0) {
      await mutate(CREATE_POST, { input: { title: 'hello', body: 'hello' } });
      await Promise.all([posts.waitFor(1, 250), more.waitFor(1, 250)]).catch(() => undefined);
    }
    tcpOf(stuck).pause();

    // Posts of 10,000 characters until the outgoing buffer is over the limit: the kernel's buffers are full. Each
    // subscription's next message waits for its last one to leave (graphql-ws awaits each send), so the per-message
    // check never runs again, and nothing more is published.
    const body = 'y'.repeat(10_000);
    for (let sent = 0; serverEnd.writableLength <= MAX_BUFFERED_BYTES; sent++) {
      if (sent === 10_000) throw new Error('the outgoing buffer never filled');
      const before = serverEnd.bytesWritten;
      await mutate(CREATE_POST, { input: { title: `big ${sent}`, body } });
      await until(
        () => serverEnd.bytesWritten >= before + body.length || serverEnd.writableLength > MAX_BUFFERED_BYTES,
        'the post on the socket',
      );
    }
    const dropped = () => realtime().connections.countFor(user.rowId) === 0;
    expect(dropped()).toBe(false);

    // Found by the buffer check within a keep-alive interval. The keep-alive would terminate it too, one interval after
    // the ping it cannot read, but silently: the log line says the buffer check found it.
    await until(dropped, 'the stalled socket to be dropped', server.config.realtime.keepAliveMs);
    const drops = server.logs.filter((line) => line.msg === 'websocket dropped' && line.userId === user.rowId);
    expect(drops.map((line) => line.reason)).toContain('outgoing buffer over limit');
    posts.dispose();
    more.dispose();
  }, 120_000);
});
