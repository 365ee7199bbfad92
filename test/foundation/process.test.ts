/**
 * The real entry point as a process (acceptance 1 and 7): it answers on the URL it logs, keeps data in DATA_DIR
 * across restarts, reports health, and on SIGTERM closes WebSocket clients with 1001 and exits 0.
 */
import Fastify from 'fastify';
import type { Client } from 'graphql-ws';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/client.js';
import { registerHealth } from '../../src/server/health.js';
import { createTestDatabase } from '../helpers/database.js';
import { gql, loginToken, spawnServer, stopAll, tempDataDir, wsClient as signedInClient } from '../helpers/spawn.js';

const cleanups: Array<() => unknown> = [];
// Each test starts a process that boots PGlite and migrates: slow on a busy machine, so the limit is generous.
const PROCESS_TEST_TIMEOUT_MS = 180_000;

afterAll(async () => {
  await stopAll();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** The first admin, created by the server at start-up from ADMIN_EMAIL/ADMIN_PASSWORD. */
const ADMIN = { ADMIN_EMAIL: 'admin@example.com', ADMIN_PASSWORD: 'Adm1n-Passw0rd' };

async function adminToken(url: string): Promise<string> {
  return loginToken(url, ADMIN.ADMIN_EMAIL, ADMIN.ADMIN_PASSWORD);
}

function wsClient(url: string, token: string): Client {
  const client = signedInClient(url, token);
  cleanups.push(() => client.dispose());
  return client;
}

describe('the entry point on PGlite in DATA_DIR', () => {
  it(
    'answers { __typename }, reports health, and keeps an item across a restart',
    async () => {
      const data = tempDataDir();
      cleanups.push(data.remove);
      const env = { DATA_DIR: data.dir, DATABASE_URL: '', ...ADMIN };

      const first = spawnServer(env);
      const url = await first.ready;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/graphql$/);
      expect(first.logs.find((l) => l.msg === 'OpsHub is ready')).toMatchObject({ database: 'pglite' });
      const typename = await gql(url, '{ __typename }');
      expect(typename.status).toBe(200);
      expect(typename.body).toMatchObject({ data: { __typename: 'Query' } });
      expect(typename.body.errors).toBeUndefined();

      const base = url.replace(/\/graphql$/, '');
      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok' });
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      expect(ready.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await ready.json()).toMatchObject({
        status: 'ready',
        database: 'pglite',
        checks: { database: { status: 'up', kind: 'pglite' }, jobs: { status: 'up', running: 0 } },
      });

      const created = await gql(
        url,
        'mutation($input: CreateItemInput!) { createItem(input: $input) { item { id } userErrors { message } } }',
        { input: { sku: 'PR0001', name: 'Persistent pliers', price: 9.5, category: 'HOME' } },
        await adminToken(url),
      );
      expect(created.body.errors).toBeUndefined();
      const id = created.body.data.createItem.item.id as string;
      expect(await first.stop()).toEqual({ code: 0, signal: null });

      const second = spawnServer(env);
      const url2 = await second.ready;
      const found = await gql(url2, 'query($id: ID!) { node(id: $id) { ... on Item { sku name price } } }', { id }, await adminToken(url2));
      expect(found.body).toMatchObject({ data: { node: { sku: 'PR0001', name: 'Persistent pliers', price: 9.5 } } });
      expect(await second.stop('SIGINT')).toEqual({ code: 0, signal: null });
      expect(second.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['shutting down', 'stopped']));
    },
    PROCESS_TEST_TIMEOUT_MS,
  );
});

describe('SIGTERM', () => {
  it(
    'closes an open subscription with 1001 and exits 0 within the grace period',
    async () => {
      // On the test database when DATABASE_URL is set, so shutdown closes a postgres.js pool too.
      const database = await createTestDatabase();
      cleanups.push(() => database.drop());
      const data = tempDataDir();
      cleanups.push(data.remove);
      const server = spawnServer({ DATA_DIR: data.dir, DATABASE_URL: database.url ?? '', SHUTDOWN_GRACE_MS: '8000', ...ADMIN });
      const url = await server.ready;

      const client = wsClient(url, await adminToken(url));
      const closed = new Promise<{ code: number; reason: string }>((resolve) =>
        client.on('closed', (event) => resolve(event as { code: number; reason: string })),
      );
      const events: unknown[] = [];
      const subscriptionEnded = new Promise<unknown>((resolve) => {
        client.subscribe(
          { query: 'subscription { itemChanged { id } }' },
          { next: (e) => void events.push(e), error: resolve, complete: () => resolve('complete') },
        );
      });
      // A completed operation on the same client proves the socket is acknowledged and open when the signal comes.
      await new Promise<void>((resolve, reject) =>
        client.subscribe({ query: '{ __typename }' }, { next: () => {}, error: reject, complete: resolve }),
      );

      server.child.kill('SIGTERM');
      const close = await closed;
      expect(close.code).toBe(1001);
      expect(await server.exited).toEqual({ code: 0, signal: null });
      await subscriptionEnded;
      expect(events).toEqual([]);
      expect(server.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['shutting down', 'stopped']));
      expect(server.logs.find((l) => l.msg === 'graceful shutdown timed out')).toBeUndefined();
    },
    PROCESS_TEST_TIMEOUT_MS,
  );
});

describe('/readyz', () => {
  it(
    'is 503 while migrations are missing or the database is closed, 200 in between',
    async () => {
      const database = await openDatabase({ databaseUrl: null, dataDir: null });
      const fastify = Fastify();
      registerHealth(fastify, { database });
      cleanups.push(() => fastify.close());

      const unmigrated = await fastify.inject({ method: 'GET', url: '/readyz' });
      expect(unmigrated.statusCode).toBe(503);
      expect(unmigrated.json()).toEqual({
        status: 'unavailable',
        database: 'pglite',
        checks: { database: { status: 'down', kind: 'pglite' } },
      });
      expect((await fastify.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);

      await database.migrate();
      expect((await fastify.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);

      await database.close();
      const down = await fastify.inject({ method: 'GET', url: '/readyz' });
      expect(down.statusCode).toBe(503);
      expect(down.json()).toEqual({ status: 'unavailable', database: 'pglite', checks: { database: { status: 'down', kind: 'pglite' } } });
    },
    PROCESS_TEST_TIMEOUT_MS,
  );
});
