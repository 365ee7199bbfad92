/**
 * `/readyz` reports what this process depends on: the database (503 without it), Redis when REDIS_URL is set (503
 * `degraded` without it: queries still work, but events no longer cross processes) and the job runner (200
 * `degraded` when it is down).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Topic } from '../../src/pubsub/topics.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { collect } from '../helpers/subscriptions.js';
import { until } from '../realtime/helpers.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const servers: TestServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

async function start(env: Record<string, string> = {}): Promise<TestServer> {
  const server = await startServer(env);
  servers.push(server);
  return server;
}

async function readyz(server: TestServer) {
  const response = await fetch(`${server.url}/readyz`);
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe('/readyz', () => {
  it('reports the database and the job runner, and no Redis without REDIS_URL', async () => {
    const server = await start({ JOB_CONCURRENCY: '3' });
    // The runner's first look for jobs may still be on its way.
    let { status, body } = await readyz(server);
    for (let tries = 0; body.checks.jobs.lastPollAt === null && tries < 200; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      ({ status, body } = await readyz(server));
    }
    expect(status).toBe(200);
    expect(body.status).toBe('ready');
    expect(body.checks.database).toEqual({ status: 'up', kind: process.env.DATABASE_URL ? 'postgres' : 'pglite' });
    // Running: the clean-up the runner schedules at start may be one of them.
    expect(body.checks.jobs).toMatchObject({ status: 'up', running: expect.any(Number), concurrency: 3 });
    expect(Date.parse(body.checks.jobs.lastPollAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(body.checks.redis).toBeUndefined();

    // A stopped runner (as at the start of a shutdown) takes no jobs: degraded, still 200.
    await server.app.runner.stop(0);
    const stopped = await readyz(server);
    expect(stopped.status).toBe(200);
    expect(stopped.body).toMatchObject({ status: 'degraded', checks: { jobs: { status: 'stopped' } } });
  });

  it('says the runner is off with JOB_CONCURRENCY=0, and stays ready', async () => {
    const server = await start({ JOB_CONCURRENCY: '0' });
    const { status, body } = await readyz(server);
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'ready', checks: { jobs: { status: 'off', concurrency: 0 } } });
  });

  it('reports Redis up when REDIS_URL answers', async () => {
    const server = await start({ REDIS_URL, REDIS_PREFIX: `opshub-test-${randomUUID()}:` });
    // Its connections open after the server listens; a loaded machine may take longer than the check's second.
    let { status, body } = await readyz(server);
    for (let tries = 0; body.checks.redis.status !== 'up' && tries < 40; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      ({ status, body } = await readyz(server));
    }
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'ready', checks: { redis: { status: 'up' } } });
  });

  it('is degraded and 503, not unavailable, when Redis does not answer, and queries still run', async () => {
    // Nothing listens on port 1.
    const server = await start({ REDIS_URL: 'redis://127.0.0.1:1' });
    const { status, body } = await readyz(server);
    expect(status).toBe(503);
    expect(body).toMatchObject({ status: 'degraded', checks: { redis: { status: 'down' }, database: { status: 'up' } } });
    const { body: answer } = await server.gql('{ __typename }');
    expect(answer).toMatchObject({ data: { __typename: 'Query' } });

    // A subscription and a publish while Redis is down: both commands fail after their retries, the process lives on.
    const subscriber = collect(server.wsClient(), { query: 'subscription { itemChanged { id } }' });
    server.app.container.pubsub.publish(Topic.ItemChanged, { id: 'none' } as never);
    await until(() => server.logs.some((line) => line.msg === 'redis pub/sub connection failed'), 'the Redis failure log line', 10_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    subscriber.dispose();
    const again = await server.gql('{ __typename }');
    expect(again.body).toMatchObject({ data: { __typename: 'Query' } });
  });
});
