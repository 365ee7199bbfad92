/**
 * Several processes behave as one server: the real entry point as child processes on one PostgreSQL database and one
 * Redis (a unique REDIS_PREFIX). Two processes A and B, shared by the file, on a redis-server this file starts (so it
 * can stop it): every subscription kind published through A reaches a subscriber on B exactly once, jobs run once, a
 * Redis outage costs no answer and ends in /readyz 503, a killed process's job is finished by the other. Then the
 * node:cluster entry (WORKERS=2) on the machine's Redis. PostgreSQL only (two processes cannot share a PGlite
 * directory); the refusals to start need neither.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { connect } from 'node:net';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { count, eq, inArray } from 'drizzle-orm';
import { createClient as createSseClient } from 'graphql-sse';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { openDatabase, type DatabaseHandle } from '../../src/db/client.js';
import { emailOutbox, jobs } from '../../src/db/tables.js';
import { fromGlobalId } from '../../src/schema/shared/global-id.js';
import { createTestDatabase } from '../helpers/database.js';
import { freePort, gql, loginToken, spawnServer, stopAll, wsClient, type SpawnedServer } from '../helpers/spawn.js';
import { collect, type Collected } from '../helpers/subscriptions.js';
import { until } from '../realtime/helpers.js';

const onPostgres = Boolean(process.env.DATABASE_URL);
const MACHINE_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ADMIN = { email: 'cluster-admin@example.com', password: 'Adm1n-Passw0rd' };
const PASSWORD = 'Us3r-Passw0rd';

const cleanups: Array<() => unknown> = [];
let databaseUrl: string;
let database: DatabaseHandle;

beforeAll(async () => {
  if (!onPostgres) return;
  const created = await createTestDatabase();
  cleanups.push(() => created.drop());
  databaseUrl = created.url!;
  // Migrated here, so A and B can start at once without racing for the tables.
  database = await openDatabase({ databaseUrl, dataDir: null, poolSize: 2 });
  cleanups.push(() => database.close());
  await database.migrate();
}, 120_000);

afterAll(async () => {
  await stopAll();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Polls an asynchronous condition (state in another process: rows, log lines that arrive over a pipe). */
async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** A redis-server of this file's own on `port`, so the test can take it away and bring it back. */
function redisServer(port: number) {
  let child: ChildProcess | null = null;
  return {
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: 'ignore',
      });
      const accepts = () =>
        new Promise<boolean>((resolve) => {
          const socket = connect(port, '127.0.0.1');
          socket.once('connect', () => {
            socket.end();
            resolve(true);
          });
          socket.once('error', () => resolve(false));
        });
      await eventually(accepts, 'redis-server to accept connections', 20_000);
    },
    async stop() {
      const running = child;
      child = null;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGTERM');
      await exited;
    },
  };
}

async function readyz(url: string): Promise<{ status: number; body: Record<string, any> }> {
  const response = await fetch(new URL('/readyz', url));
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

/** A query or mutation that must succeed: its data, or a thrown error with the whole answer. */
async function must(url: string, query: string, variables: Record<string, unknown>, token: string): Promise<any> {
  const { status, body } = await gql(url, query, variables, token);
  if (status !== 200 || body.errors || !body.data) throw new Error(`${query.slice(0, 60)}…: ${status} ${JSON.stringify(body)}`);
  const payload = Object.values(body.data)[0] as { userErrors?: unknown[] } | null;
  if (payload?.userErrors?.length) throw new Error(`${query.slice(0, 60)}…: ${JSON.stringify(payload.userErrors)}`);
  return body.data;
}

const logsOf = (server: SpawnedServer, msg: string, jobId: string) => server.logs.filter((line) => line.msg === msg && line.jobId === jobId);

describe.skipIf(!onPostgres)('two processes on one PostgreSQL database and one Redis', () => {
  let redis: ReturnType<typeof redisServer>;
  let a: SpawnedServer;
  let b: SpawnedServer;
  let urlA: string;
  let urlB: string;
  let admin: string;
  let user: { id: string; token: string };
  const clients: Client[] = [];

  /** A graphql-ws client on `url`, disposed after the file. */
  function ws(url: string, token: string): Client {
    const client = wsClient(url, token);
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    redis = redisServer(await freePort());
    await redis.start();
    cleanups.push(() => redis.stop());
    const env = {
      DATABASE_URL: databaseUrl,
      REDIS_URL: redis.url,
      REDIS_PREFIX: `opshub-test-${randomUUID()}:`,
      JOB_LEASE_MS: '2000',
      JOB_POLL_INTERVAL_MS: '100',
      JOB_EMAIL_DELAY_MS: '300',
      CHAT_MESSAGE_LIMIT: '1000000',
      RATE_LIMIT_ADMIN: '100000000',
      RATE_LIMIT_USER: '100000000',
    };
    // Only A creates the admin, so the two do not race for the account.
    a = spawnServer({ ...env, ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password });
    b = spawnServer(env);
    [urlA, urlB] = await Promise.all([a.ready, b.ready]);
    admin = await loginToken(urlA, ADMIN.email, ADMIN.password);
    const username = `cluster_${process.pid}`;
    const registered = await must(
      urlA,
      'mutation($input: RegisterInput!) { register(input: $input) { user { id } userErrors { message } } }',
      { input: { username, email: `member${process.pid}@example.com`, password: PASSWORD } },
      '',
    );
    user = { id: registered.register.user.id, token: await loginToken(urlB, username, PASSWORD) };
  }, 180_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
  });

  let counter = 0;
  const next = () => ++counter;

  async function createItem(url = urlA): Promise<string> {
    const n = next();
    const data = await must(
      url,
      'mutation($input: CreateItemInput!) { createItem(input: $input) { item { id } userErrors { message } } }',
      { input: { sku: `CL${String(n).padStart(4, '0')}`, name: `Cluster item ${n}`, price: 9.5, category: 'HOME', stock: 1_000 } },
      admin,
    );
    return data.createItem.item.id as string;
  }

  /**
   * Subscribed on B, triggered on A: `trigger` makes one event and returns the key it carries, `keyOf` reads the key
   * of a received event (undefined for unrelated ones). graphql-ws does not say when a subscription is registered with
   * the pub/sub, so the first trigger is repeated until an event arrives; two more follow, and once both arrived (and
   * a second after, for late duplicates) every key must have arrived once.
   */
  async function exactlyOnce(subscription: Collected, trigger: () => Promise<string>, keyOf: (data: any) => string | undefined) {
    const triggered: string[] = [];
    const keys = () => subscription.events.map((event) => keyOf(event.data)).filter((key): key is string => triggered.includes(key!));
    for (let attempt = 0; keys().length === 0; attempt++) {
      if (attempt === 60) throw new Error(`no event on B after ${attempt} triggers on A: ${JSON.stringify(subscription.errors)}`);
      triggered.push(await trigger());
      await until(() => keys().length > 0, 'the first event', 500).catch(() => undefined);
    }
    const later = [await trigger(), await trigger()];
    triggered.push(...later);
    await until(() => later.every((key) => keys().includes(key)), 'the two later events on B', 30_000);
    await sleep(1_000);
    expect(subscription.errors).toEqual([]);
    const received = keys();
    expect(new Set(received).size).toBe(received.length);
    expect(received).toEqual(expect.arrayContaining(later));
    subscription.dispose();
  }

  it('itemChanged, over graphql-ws and over SSE', async () => {
    const overWs = collect(ws(urlB, admin), { query: 'subscription { itemChanged { id } }' });
    await exactlyOnce(
      overWs,
      () => createItem(),
      (data) => data?.itemChanged.id,
    );

    const sse = createSseClient({ url: urlB, singleConnection: false, retryAttempts: 0, headers: { authorization: `Bearer ${admin}` } });
    cleanups.push(() => sse.dispose());
    const overSse = collect(sse, { query: 'subscription { itemChanged { id } }' });
    await exactlyOnce(
      overSse,
      () => createItem(),
      (data) => data?.itemChanged.id,
    );
  });

  it('orderPlaced and postPublished', async () => {
    const itemId = await createItem();
    const orders = collect(ws(urlB, admin), { query: 'subscription { orderPlaced { id } }' });
    await exactlyOnce(
      orders,
      async () => {
        const data = await must(
          urlA,
          'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } userErrors { message } } }',
          { input: { itemId, quantity: 1 } },
          admin,
        );
        return data.placeOrder.order.id as string;
      },
      (data) => data?.orderPlaced.id,
    );

    const posts = collect(ws(urlB, user.token), { query: 'subscription { postPublished { id } }' });
    await exactlyOnce(
      posts,
      async () => {
        const n = next();
        const data = await must(
          urlA,
          'mutation($input: CreatePostInput!) { createPost(input: $input) { post { id } userErrors { message } } }',
          { input: { title: `Cluster post ${n}`, body: 'Published through A.' } },
          admin,
        );
        return data.createPost.post.id as string;
      },
      (data) => data?.postPublished.id,
    );
  });

  it('roomEvents, directMessages and notificationReceived', async () => {
    const created = await must(
      urlA,
      'mutation($input: CreateRoomInput!) { createRoom(input: $input) { room { id } userErrors { message } } }',
      { input: { name: `cluster room ${process.pid}` } },
      admin,
    );
    const roomId = created.createRoom.room.id as string;
    await must(urlA, 'mutation($roomId: ID!) { joinRoom(roomId: $roomId) { room { id } userErrors { message } } }', { roomId }, user.token);

    const room = collect(ws(urlB, user.token), {
      query: 'subscription($roomId: ID!) { roomEvents(roomId: $roomId) { __typename ... on MessagePosted { message { id } } } }',
      variables: { roomId },
    });
    await exactlyOnce(
      room,
      async () => {
        const data = await must(
          urlA,
          'mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id } userErrors { message } } }',
          { input: { roomId, body: `hello ${next()}` } },
          admin,
        );
        return data.sendMessage.message.id as string;
      },
      (data) => data?.roomEvents.message?.id,
    );

    const direct = collect(ws(urlB, user.token), { query: 'subscription { directMessages { id } }' });
    await exactlyOnce(
      direct,
      async () => {
        const data = await must(
          urlA,
          'mutation($input: SendDirectMessageInput!) { sendDirectMessage(input: $input) { message { id } userErrors { message } } }',
          { input: { toUserId: user.id, body: `direct ${next()}` } },
          admin,
        );
        return data.sendDirectMessage.message.id as string;
      },
      (data) => data?.directMessages.id,
    );

    // Keyed by title: sendNotification answers with a count, and the direct messages above notify the user too.
    const notifications = collect(ws(urlB, user.token), { query: 'subscription { notificationReceived { id title } }' });
    await exactlyOnce(
      notifications,
      async () => {
        const title = `Cluster notice ${next()}`;
        await must(
          urlA,
          'mutation($input: SendNotificationInput!) { sendNotification(input: $input) { sentCount userErrors { message } } }',
          { input: { userIds: [user.id], title, body: 'Sent through A.' } },
          admin,
        );
        return title;
      },
      (data) => data?.notificationReceived.title,
    );
  });

  it('userUpdated', async () => {
    const changes = collect(ws(urlB, admin), { query: 'subscription { userUpdated { change user { id fullName } } }' });
    await exactlyOnce(
      changes,
      async () => {
        const fullName = `Cluster User ${next()}`;
        await must(
          urlA,
          'mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { user { id } userErrors { message } } }',
          { input: { fullName } },
          user.token,
        );
        return fullName;
      },
      (data) => data?.userUpdated.user.fullName,
    );
  });

  it('jobUpdated: every state once, to the end, and dashboardStats counts an order placed through A', async () => {
    const started = await must(
      urlA,
      'mutation($input: StartJobInput!) { startJob(input: $input) { job { id } userErrors { message } } }',
      {
        input: {
          kind: 'SEND_EMAIL',
          params: { to: Array.from({ length: 8 }, (_, i) => `watch${i}@example.com`), subject: 'Watched', body: 'Progress.' },
        },
      },
      admin,
    );
    const id = started.startJob.job.id as string;
    const watcher = collect(ws(urlB, admin), {
      query: 'subscription($id: ID!) { jobUpdated(id: $id) { status progress streamCursor } }',
      variables: { id },
    });
    await watcher.done(60_000);
    expect(watcher.errors).toEqual([]);
    const states = watcher.events.map((event) => event.data!.jobUpdated);
    expect(states.at(-1)).toMatchObject({ status: 'COMPLETED', progress: 100 });
    expect(states.filter((state) => state.status === 'COMPLETED')).toHaveLength(1);
    expect(new Set(states.map((state) => state.streamCursor)).size).toBe(states.length);

    // The figures are computed by each process from the database: B's stream sees A's order.
    const stats = collect(ws(urlB, admin), { query: 'subscription { dashboardStats(intervalMs: 500) { ordersLastHour } }' });
    await stats.waitFor(1, 30_000);
    const before = stats.events.at(-1)!.data!.dashboardStats.ordersLastHour as number;
    await must(
      urlA,
      'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } userErrors { message } } }',
      { input: { itemId: await createItem(), quantity: 1 } },
      admin,
    );
    await until(() => (stats.events.at(-1)!.data!.dashboardStats.ordersLastHour as number) > before, 'a tick counting the order', 30_000);
    stats.dispose();
  });

  it('runs a job enqueued on A exactly once, on either process', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const data = await must(
        urlA,
        'mutation($input: StartJobInput!) { startJob(input: $input) { job { id } userErrors { message } } }',
        { input: { kind: 'SEND_EMAIL', params: { to: `once${i}@example.com`, subject: 'Once', body: `Job ${i}` } } },
        admin,
      );
      ids.push(fromGlobalId(data.startJob.job.id as string, 'Job'));
    }
    const finished = async () => {
      const rows = await database.db.select({ status: jobs.status }).from(jobs).where(inArray(jobs.id, ids));
      return rows.every((row) => row.status === 'COMPLETED');
    };
    await eventually(finished, 'the four jobs to complete');
    const rows = await database.db.select({ attempts: jobs.attempts }).from(jobs).where(inArray(jobs.id, ids));
    expect(rows.map((row) => row.attempts)).toEqual([1, 1, 1, 1]);
    const [outbox] = await database.db.select({ value: count() }).from(emailOutbox).where(inArray(emailOutbox.jobId, ids));
    expect(outbox!.value).toBe(4);
    // The log lines come through the children's stdout, which may lag the database by a moment.
    const lines = (msg: string, id: string) => [...logsOf(a, msg, id), ...logsOf(b, msg, id)];
    await eventually(() => ids.every((id) => lines('job completed', id).length > 0), 'the completion log lines', 10_000);
    for (const id of ids) {
      expect(lines('job started', id)).toHaveLength(1);
      expect(lines('job completed', id)).toHaveLength(1);
    }
  });

  it('survives a Redis outage: queries answer throughout, /readyz is 503 while it is down, old subscriptions live on', async () => {
    const items = collect(ws(urlB, admin), { query: 'subscription { itemChanged { id } }' });
    const created: string[] = [];
    const seen = () => items.events.filter((event) => created.includes(event.data?.itemChanged.id));
    // Subscribed and delivering before the outage.
    for (let attempt = 0; seen().length === 0; attempt++) {
      if (attempt === 60) throw new Error('the subscription never delivered before the outage');
      created.push(await createItem());
      await until(() => seen().length > 0, 'an event before the outage', 500).catch(() => undefined);
    }

    // Both processes are asked a query and /readyz every 200 ms, from before the outage to after it.
    const answers: Array<{ process: 'A' | 'B'; phase: string; ok: boolean; ms: number; detail: string }> = [];
    const health: Array<{ process: 'A' | 'B'; phase: string; status: number; redis: string | undefined }> = [];
    let phase = 'before';
    let polling = true;
    const poll = async (name: 'A' | 'B', url: string) => {
      while (polling) {
        const asked = { phase, at: Date.now() };
        const [answer, ready] = await Promise.all([
          gql(url, '{ items(first: 1) { totalCount } }', {}, admin).catch((error: unknown) => ({
            status: 0,
            body: { error: String(error) },
          })),
          readyz(url).catch(() => ({ status: 0, body: {} as Record<string, any> })),
        ]);
        const ok = answer.status === 200 && typeof (answer.body as any).data?.items?.totalCount === 'number';
        answers.push({ process: name, phase: asked.phase, ok, ms: Date.now() - asked.at, detail: JSON.stringify(answer) });
        health.push({ process: name, phase: asked.phase, status: ready.status, redis: ready.body.checks?.redis?.status });
        await sleep(200);
      }
    };
    const pollers = [poll('A', urlA), poll('B', urlB)];
    try {
      const readyBefore = (name: string) => health.some((entry) => entry.process === name && entry.status === 200);
      await eventually(() => readyBefore('A') && readyBefore('B'), 'readyz 200 on both processes before the outage');
      await redis.stop();
      const stoppedAt = Date.now();
      phase = 'down';
      const downOn = (name: string) => health.some((entry) => entry.process === name && entry.phase === 'down' && entry.status === 503);
      await eventually(
        () => downOn('A') && downOn('B') && Date.now() - stoppedAt >= 5_000,
        '503 on both processes during the outage',
        30_000,
      );
      expect(health.filter((entry) => entry.phase === 'down' && entry.status === 503).every((entry) => entry.redis === 'down')).toBe(true);

      phase = 'restarting';
      await redis.start();
      phase = 'after';
      const upOn = (name: string) => health.some((entry) => entry.process === name && entry.phase === 'after' && entry.status === 200);
      await eventually(() => upOn('A') && upOn('B'), 'readyz 200 on both processes after the outage', 60_000);
    } finally {
      polling = false;
      await Promise.all(pollers);
    }
    expect(answers.filter((answer) => !answer.ok)).toEqual([]);
    // Asked again and again while Redis was down, and every answer came (the rate-limit store counts in the process
    // then, at once).
    for (const name of ['A', 'B'])
      expect(answers.filter((answer) => answer.process === name && answer.phase === 'down').length).toBeGreaterThan(2);
    expect(a.child.exitCode).toBeNull();
    expect(b.child.exitCode).toBeNull();

    // The subscription opened before the outage delivers an event published through A after Redis returned.
    const before = seen().length;
    for (let attempt = 0; seen().length === before; attempt++) {
      if (attempt === 120) throw new Error('the old subscription delivered nothing after the outage');
      created.push(await createItem());
      await until(() => seen().length > before, 'an event after the outage', 500).catch(() => undefined);
    }
    expect(items.errors).toEqual([]);
    expect(items.completed).toBe(false);
    items.dispose();
  }, 180_000);

  it('a process killed while it runs a long job leaves it to the other, which completes it exactly once', async () => {
    const recipients = Array.from({ length: 20 }, (_, i) => `reader${i}@example.com`);
    const data = await must(
      urlA,
      'mutation($input: StartJobInput!) { startJob(input: $input) { job { id } userErrors { message } } }',
      { input: { kind: 'SEND_EMAIL', params: { to: recipients, subject: 'Stock update', body: 'New arrivals.' } } },
      admin,
    );
    const rowId = fromGlobalId(data.startJob.job.id as string, 'Job');
    await eventually(() => logsOf(a, 'job started', rowId).length + logsOf(b, 'job started', rowId).length > 0, 'the job to start');
    const [running, survivor] = logsOf(a, 'job started', rowId).length > 0 ? [a, b] : [b, a];
    // Killed once a few e-mails went out, mid-run.
    await eventually(async () => {
      const [row] = await database.db.select({ progress: jobs.progress }).from(jobs).where(eq(jobs.id, rowId));
      return (row?.progress ?? 0) >= 15;
    }, 'progress');
    expect(await running.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    expect(logsOf(running, 'job completed', rowId)).toEqual([]);

    await eventually(() => logsOf(survivor, 'job completed', rowId).length > 0, 'the survivor to complete the job', 90_000);
    expect(logsOf(survivor, 'job started', rowId)).toHaveLength(1);
    expect(logsOf(survivor, 'job completed', rowId)).toHaveLength(1);
    const [job] = await database.db.select().from(jobs).where(eq(jobs.id, rowId));
    expect(job).toMatchObject({ status: 'COMPLETED', attempts: 2, progress: 100 });
    const rows = await database.db.select({ recipient: emailOutbox.recipient }).from(emailOutbox).where(eq(emailOutbox.jobId, rowId));
    expect(rows.map((row) => row.recipient).sort()).toEqual([...recipients].sort());
    expect(await survivor.stop()).toEqual({ code: 0, signal: null });
  }, 180_000);
});

/** One request on a connection of its own, so the cluster's primary hands each to the next worker. */
function freshRequest(url: string): Promise<{ status: number; requestId: string }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ query: '{ __typename }' });
    const outgoing = request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode!, requestId: String(response.headers['x-request-id']) }));
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

describe.skipIf(!onPostgres)('WORKERS=2: the node:cluster entry', () => {
  it('forks two workers that answer on one port, restarts one that dies, and stops both on SIGTERM', async () => {
    const port = await freePort();
    const primary = spawnServer({
      DATABASE_URL: databaseUrl,
      REDIS_URL: MACHINE_REDIS_URL,
      REDIS_PREFIX: `opshub-test-${randomUUID()}:`,
      WORKERS: '2',
      PORT: String(port),
      JOB_CONCURRENCY: '1',
    });
    const url = await primary.ready;
    expect(url).toBe(`http://127.0.0.1:${port}/graphql`);
    await eventually(() => primary.logs.some((line) => line.msg === 'OpsHub cluster is ready'), 'the cluster to be ready');
    const readyLines = primary.logs.filter((line) => line.msg === 'OpsHub is ready');
    expect(new Set(readyLines.map((line) => line.worker)).size).toBe(2);
    expect(new Set(readyLines.map((line) => line.url))).toEqual(new Set([url]));
    // The primary migrated before forking; the workers did not.
    expect(primary.logs.filter((line) => line.msg === 'applying migrations').map((line) => line.worker)).toEqual([undefined]);

    /** The worker that answered each request, from its 'request completed' line. */
    const answeredBy = new Set<number>();
    const requestIds: string[] = [];
    for (let attempt = 0; answeredBy.size < 2; attempt++) {
      if (attempt === 40) throw new Error(`one worker answered every request: ${[...answeredBy].join()}`);
      const { status, requestId } = await freshRequest(url);
      expect(status).toBe(200);
      requestIds.push(requestId);
      await eventually(
        () => primary.logs.some((line) => line.msg === 'request completed' && line.requestId === requestId),
        'the request log line',
        10_000,
      );
      for (const line of primary.logs)
        if (line.msg === 'request completed' && requestIds.includes(line.requestId)) answeredBy.add(line.worker);
    }

    // A worker killed after start-up is replaced (after the back-off), and the port keeps answering meanwhile.
    const victim = readyLines[0]!;
    process.kill(victim.pid as number, 'SIGKILL');
    await eventually(
      () => primary.logs.some((line) => line.msg === 'worker died; restarting it' && line.worker === victim.worker),
      'the restart line',
    );
    // The first death of a slot waits the shortest back-off.
    expect(primary.logs.find((line) => line.msg === 'worker died; restarting it')).toMatchObject({ signal: 'SIGKILL', restartInMs: 1_000 });
    expect((await freshRequest(url)).status).toBe(200);
    await eventually(() => primary.logs.filter((line) => line.msg === 'OpsHub is ready').length === 3, 'the replacement worker');
    const replacement = primary.logs.filter((line) => line.msg === 'OpsHub is ready').at(-1)!;
    expect(replacement.worker).not.toBe(victim.worker);

    expect(await primary.stop('SIGTERM', 30_000)).toEqual({ code: 0, signal: null });
    expect(
      primary.logs
        .filter((line) => line.msg === 'stopped')
        .map((line) => line.worker ?? 'primary')
        .sort(),
    ).toEqual(
      [...readyLines.filter((line) => line !== victim), replacement]
        .map((line) => line.worker)
        .concat('primary')
        .sort(),
    );
  }, 240_000);
});

describe('WORKERS above 1 refuses to start without a server the processes can share', () => {
  it("reads an integer or auto, the machine's available parallelism", () => {
    const shared = { REDIS_URL: MACHINE_REDIS_URL, DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/never-opened' };
    expect(loadConfig({}).workers).toBe(1);
    expect(loadConfig({ ...shared, WORKERS: '3' }).workers).toBe(3);
    expect(loadConfig({ ...shared, WORKERS: 'auto' }).workers).toBe(availableParallelism());
    expect(() => loadConfig({ ...shared, WORKERS: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...shared, WORKERS: 'many' })).toThrow('Invalid configuration: WORKERS must be an integer or auto, got "many"');
  });

  it('exits 1 without REDIS_URL, and on embedded PGlite', async () => {
    const withoutRedis = spawnServer({ WORKERS: '2', DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/never-opened' });
    const onPglite = spawnServer({ WORKERS: '2', REDIS_URL: MACHINE_REDIS_URL, DATABASE_URL: '' });
    expect(await withoutRedis.exited).toEqual({ code: 1, signal: null });
    expect(withoutRedis.stderr()).toBe(
      'Invalid configuration: WORKERS is 2, and more than one worker needs REDIS_URL (events, presence and limits live in Redis)\n',
    );
    expect(await onPglite.exited).toEqual({ code: 1, signal: null });
    expect(onPglite.stderr()).toMatch(/^Invalid configuration: WORKERS is 2, and more than one worker needs DATABASE_URL .*\n$/);
  }, 60_000);
});
