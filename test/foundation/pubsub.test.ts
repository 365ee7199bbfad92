/**
 * The pub/sub on Redis: one Redis subscription per channel per process, however many subscribers; channels under
 * REDIS_PREFIX; events in an envelope naming their publisher, observed as `self` or `peer`; and a Redis outage
 * (a private redis-server, stopped and started again) ends no process, loses no subscription and is reported once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createAppPubSub, type AppPubSub, type EventOrigin } from '../../src/pubsub/pubsub.js';
import { Topic, type ItemEvent, type JobEvent } from '../../src/pubsub/topics.js';
import { processId } from '../../src/realtime/process-id.js';
import { itemEvent } from '../helpers/events.js';
import { freePort } from '../helpers/spawn.js';

/** Waits for a condition that may need Redis to answer (polled, never a fixed sleep). */
async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const item = (name: string): ItemEvent => itemEvent({ id: randomUUID(), sku: 'PS-1', name });

const opened: AppPubSub[] = [];
const clients: Redis[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((pubsub) => pubsub.close()));
  clients.splice(0).forEach((client) => client.disconnect());
});

function pubsubOn(url: string, prefix: string, onError: Parameters<typeof createAppPubSub>[1] = () => {}) {
  const pubsub = createAppPubSub(url, onError, { prefix });
  opened.push(pubsub);
  return pubsub;
}

function redis(url: string): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  clients.push(client);
  return client;
}

async function numsub(client: Redis, channel: string): Promise<number> {
  const reply = (await client.pubsub('NUMSUB', channel)) as [string, number];
  return Number(reply[1]);
}

/** Reads a subscription into an array as its events arrive. */
function drain<T>(subscription: AsyncIterable<T>): T[] {
  const seen: T[] = [];
  void (async () => {
    for await (const value of subscription) seen.push(value);
  })();
  return seen;
}

describe('on Redis', () => {
  it('holds one Redis subscription per channel for any number of subscribers, under the prefix, and drops it with the last', async () => {
    const prefix = `opshub-test-${randomUUID()}:`;
    const { pubsub } = pubsubOn(REDIS_URL, prefix);
    const admin = redis(REDIS_URL);
    const items = Array.from({ length: 200 }, () => pubsub.subscribe(Topic.ItemChanged));
    const jobs = Array.from({ length: 50 }, () => pubsub.subscribe(Topic.JobUpdated, 'job-1'));
    const seenItems = items.map((subscription) => drain(subscription));
    const seenJobs = jobs.map((subscription) => drain(subscription));
    await until(async () => (await numsub(admin, `${prefix}pubsub:${Topic.ItemChanged}`)) === 1, 10_000, 'the item channel subscribed');
    await until(async () => (await numsub(admin, `${prefix}pubsub:${Topic.JobUpdated}:job-1`)) === 1, 10_000, 'the job channel subscribed');
    // Nothing outside the prefix: the unprefixed channel has no subscriber of this process.
    expect(await numsub(admin, Topic.ItemChanged)).toBe(0);

    pubsub.publish(Topic.ItemChanged, item('one'));
    pubsub.publish(Topic.JobUpdated, 'job-1', { id: 'job-1', progress: 50 } as JobEvent);
    pubsub.publish(Topic.JobUpdated, 'job-2', { id: 'job-2', progress: 50 } as JobEvent);
    await until(() => seenItems.every((seen) => seen.length === 1) && seenJobs.every((seen) => seen.length === 1), 10_000, 'every delivery');
    expect(seenItems[199]![0]).toMatchObject({ item: { name: 'one' } });
    expect(seenJobs[0]).toEqual([{ id: 'job-1', progress: 50 }]);
    // Every local subscriber gets the same event object: one parse per process, shared.
    expect(new Set(seenItems.map((seen) => seen[0])).size).toBe(1);

    for (const subscription of items.slice(1)) await subscription.return();
    expect(await numsub(admin, `${prefix}pubsub:${Topic.ItemChanged}`)).toBe(1);
    await items[0]!.return();
    await until(async () => (await numsub(admin, `${prefix}pubsub:${Topic.ItemChanged}`)) === 0, 10_000, 'the item channel unsubscribed');
  });

  it("tells this process's events from a peer's, with a peer's publish-to-receipt delay", async () => {
    const prefix = `opshub-test-${randomUUID()}:`;
    const app = pubsubOn(REDIS_URL, prefix);
    const observed: Array<[EventOrigin, number | null]> = [];
    app.observe((origin, delayMs) => observed.push([origin, delayMs]));
    const seen = drain(app.pubsub.subscribe(Topic.ItemChanged));
    const admin = redis(REDIS_URL);
    await until(async () => (await numsub(admin, `${prefix}pubsub:${Topic.ItemChanged}`)) === 1, 10_000, 'subscribed');

    app.pubsub.publish(Topic.ItemChanged, item('mine'));
    await until(() => seen.length === 1, 10_000, 'own event');
    // Another process's envelope, published 40 ms ago by its clock.
    const peer = { o: randomUUID(), t: Date.now() - 40, d: item('theirs') };
    expect(peer.o).not.toBe(processId);
    await admin.publish(`${prefix}pubsub:${Topic.ItemChanged}`, JSON.stringify(peer));
    await until(() => seen.length === 2, 10_000, 'peer event');

    expect(seen.map((event) => event.item.name)).toEqual(['mine', 'theirs']);
    expect(observed[0]).toEqual(['self', null]);
    expect(observed[1]![0]).toBe('peer');
    expect(observed[1]![1]).toBeGreaterThanOrEqual(40);
  });
});

describe('through a Redis outage', () => {
  let server: ChildProcess | null = null;
  afterAll(() => void server?.kill('SIGKILL'));

  async function startRedis(port: number): Promise<void> {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const probe = redis(`redis://127.0.0.1:${port}`);
    await until(async () => (await probe.ping().catch(() => null)) === 'PONG', 15_000, 'the private redis-server up');
    probe.disconnect();
  }

  async function stopRedis(): Promise<void> {
    const stopping = server!;
    server = null;
    const exited = new Promise((resolve) => stopping.once('exit', resolve));
    stopping.kill('SIGTERM');
    await exited;
  }

  it('keeps the process up, reports the outage once, resubscribes and subscribes what was asked meanwhile', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    await startRedis(port);
    const prefix = `opshub-test-${randomUUID()}:`;
    const errors: Array<{ client: 'publish' | 'subscribe'; message: string }> = [];
    const app = pubsubOn(url, prefix, (error, client) => errors.push({ client, message: String(error) }));
    const before = drain(app.pubsub.subscribe(Topic.ItemChanged));
    const admin = redis(url);
    await until(async () => (await numsub(admin, `${prefix}pubsub:${Topic.ItemChanged}`)) === 1, 10_000, 'subscribed');
    // The probe gives each connection a second to be ready and answer; on a loaded machine the publishing connection
    // to the redis-server just started can take longer than that, so the test waits for it as it does after the restart.
    await until(async () => await app.reachable!(), 10_000, 'reachable');

    await stopRedis();
    await until(async () => !(await app.reachable!()), 10_000, 'unreachable');
    // Published and subscribed during the outage: the PUBLISH is given up with a report, never an unhandled rejection;
    // the SUBSCRIBE waits for Redis.
    app.pubsub.publish(Topic.ItemChanged, item('lost'));
    const during = drain(app.pubsub.subscribe(Topic.JobUpdated, 'job-9'));
    await until(() => errors.some((error) => /max retries/i.test(error.message)), 60_000, 'the PUBLISH given up and reported');
    // Each connection reports the outage once, however many reconnect attempts it makes.
    expect(errors.filter((error) => error.client === 'subscribe')).toHaveLength(1);
    expect(errors.filter((error) => error.client === 'publish' && !/max retries/i.test(error.message))).toHaveLength(1);

    await startRedis(port);
    await until(async () => await app.reachable!(), 30_000, 'reachable again');
    await until(async () => (await numsub(admin, `${prefix}pubsub:${Topic.ItemChanged}`)) === 1, 30_000, 'resubscribed');
    await until(async () => (await numsub(admin, `${prefix}pubsub:${Topic.JobUpdated}:job-9`)) === 1, 30_000, 'subscribed late');
    app.pubsub.publish(Topic.ItemChanged, item('after'));
    app.pubsub.publish(Topic.JobUpdated, 'job-9', { id: 'job-9', progress: 1 } as JobEvent);
    await until(() => before.length === 1 && during.length === 1, 10_000, 'deliveries after the outage');
    expect(before.map((event) => event.item.name)).toEqual(['after']);
  }, 120_000);
});
