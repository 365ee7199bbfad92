/**
 * Database guards: DB_STATEMENT_TIMEOUT_MS cancels a statement that runs too long, with a TIMEOUT error the client can
 * read, and a client that hangs up gets its statements cancelled (src/db/cancellation.ts), so abandoned requests
 * cannot hold the pool.
 *
 * The slow statement is a real one, through the API: a catalog of names of 190 `a`s and a number, searched for 99 `a`s
 * and a `b` (within the search's length limit). ILIKE tries the pattern at every position of every name and fails
 * only at its last character, so each row costs PostgreSQL thousands of comparisons: ~70 µs, ~7 s for the 100,000
 * rows of the patient server on one idle core.
 */
import { randomBytes } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { operationStatements, withCancellation, StatementCancelledError } from '../../src/db/cancellation.js';
import { scopedDatabase } from '../../src/db/statement-scope.js';
import { isQueryCanceled } from '../../src/db/errors.js';
import { items } from '../../src/db/tables.js';
import { FILTER_TEXT_MAX } from '../../src/schema/shared/validation.js';
import { createUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';

const SLOW_SEARCH = `${'a'.repeat(FILTER_TEXT_MAX - 1)}b`;
const SLOW_QUERY = /* GraphQL */ `
  query SlowSearch($search: String!) {
    items(first: 1, filter: { search: $search }) {
      nodes { id }
    }
  }
`;

describe('DB_STATEMENT_TIMEOUT_MS', () => {
  it('defaults to 10 s, accepts 0 (no timeout) and refuses a negative value', () => {
    expect(loadConfig({}).statementTimeoutMs).toBe(10_000);
    expect(loadConfig({ DB_STATEMENT_TIMEOUT_MS: '0' }).statementTimeoutMs).toBe(0);
    expect(loadConfig({ DB_STATEMENT_TIMEOUT_MS: '200' }).statementTimeoutMs).toBe(200);
    expect(() => loadConfig({ DB_STATEMENT_TIMEOUT_MS: '-1' })).toThrow(/DB_STATEMENT_TIMEOUT_MS/);
  });
});

interface GuardedServer {
  server: TestServer;
  token: string;
  /** A connection of the test's own to the server's database: seeding and pg_stat_activity. */
  admin: postgres.Sql;
}

async function guardedServer(env: Record<string, string>, catalogRows: number): Promise<GuardedServer> {
  const server = await startServer(env);
  const admin = postgres(server.config.databaseUrl!, { max: 1, onnotice: () => {} });
  await admin`
    insert into items (sku, name, price_cents, category)
    select lpad(g::text, 6, '0'), repeat('a', 190) || lpad(g::text, 10, '0'), 100, 'BOOKS' from generate_series(1, ${catalogRows}) g
  `;
  await admin`analyze items`;
  const { token } = await createUser(server);
  return { server, token, admin };
}

/** The server's statements that PostgreSQL is running right now for the slow search. */
async function runningSearches(admin: postgres.Sql): Promise<number> {
  const [row] = await admin<{ count: number }[]>`
    select count(*)::int as count from pg_stat_activity
    where datname = current_database() and application_name = 'opshub' and state = 'active' and query ilike '%ilike%'
  `;
  return row!.count;
}

async function runningSleeps(admin: postgres.Sql): Promise<number> {
  const [row] = await admin<{ count: number }[]>`
    select count(*)::int as count from pg_stat_activity
    where datname = current_database() and application_name = 'opshub' and state = 'active' and query like '%pg_sleep%'
  `;
  return row!.count;
}

/** Sends the slow search and hangs up once PostgreSQL is running it. */
async function abandonSlowSearch(guarded: GuardedServer, transport: 'http' | 'sse', requestId: string): Promise<void> {
  const client = new AbortController();
  const sent = fetch(guarded.server.httpUrl, {
    method: 'POST',
    headers: {
      accept: transport === 'sse' ? 'text/event-stream' : 'application/json',
      'content-type': 'application/json',
      authorization: `Bearer ${guarded.token}`,
      'x-request-id': requestId,
    },
    body: JSON.stringify({ query: SLOW_QUERY, variables: { search: SLOW_SEARCH } }),
    signal: client.signal,
  }).then((response) => response.text());
  await vi.waitFor(async () => expect(await runningSearches(guarded.admin)).toBeGreaterThan(0), { timeout: 10_000, interval: 20 });
  client.abort();
  await expect(sent).rejects.toThrow();
}

/** The one `graphql operation` line of a request. */
function operationLine(server: TestServer, requestId: string) {
  return server.logs.find((line) => line.requestId === requestId && line.msg === 'graphql operation');
}

/** Not a seeded sku (those are digits only). */
const uniqueSku = () => `Z${randomBytes(3).toString('hex').slice(0, 5)}`;

describe.skipIf(!process.env.DATABASE_URL)(
  'on PostgreSQL (PGlite runs statements inside this process: it has no statement_timeout and nothing can cancel a statement)',
  () => {
    let timed: GuardedServer;
    let patient: GuardedServer;

    beforeAll(async () => {
      [timed, patient] = await Promise.all([
        // A search over 20,000 rows takes ~1.4 s: seven times the timeout.
        guardedServer({ DB_STATEMENT_TIMEOUT_MS: '200' }, 20_000),
        // A search takes ~7 s, more than twice the test's wait for it to be gone once its client hung up.
        // No job poll while a test fills the pool: its statements would take a connection the test counts on.
        guardedServer({ DB_STATEMENT_TIMEOUT_MS: '120000', JOB_POLL_INTERVAL_MS: '60000' }, 100_000),
      ]);
    });
    afterAll(async () => {
      await Promise.all(
        [timed, patient].filter(Boolean).map(async ({ server, admin }) => {
          await admin.end();
          await server.close();
        }),
      );
    });

    it('answers a statement that runs past the timeout with TIMEOUT and its message, not a masked error', async () => {
      const { status, body } = await timed.server.gql(SLOW_QUERY, { search: SLOW_SEARCH }, { token: timed.token });
      expect(status).toBe(200);
      expect(body.data).toBeNull();
      expect(body.errors).toEqual([
        {
          message: 'The operation took too long and was cancelled',
          locations: [{ line: 3, column: 5 }],
          path: ['items'],
          extensions: { code: 'TIMEOUT', requestId: expect.any(String) },
        },
      ]);
      const requestId = body.errors![0]!.extensions!.requestId as string;
      expect(operationLine(timed.server, requestId)).toMatchObject({ operationName: 'SlowSearch', errorCode: 'TIMEOUT' });
      expect(timed.server.logs.filter((line) => line.requestId === requestId && line.level >= 50)).toEqual([]);
      expect(await runningSearches(timed.admin)).toBe(0);
    });

    it('applies the timeout inside transactions, which roll back', async () => {
      const sku = uniqueSku();
      const { db } = timed.server.app.container;
      const failure = await db
        .transaction(async (tx) => {
          await tx.insert(items).values({ sku, name: 'Half-written', priceCents: 100, category: 'BOOKS' });
          await tx.execute(sql`select pg_sleep(5)`);
        })
        .catch((error: unknown) => error);
      expect(isQueryCanceled(failure)).toBe(true);
      expect(await db.select().from(items).where(eq(items.sku, sku))).toEqual([]);
    });

    it.each(['http', 'sse'] as const)(
      'cancels the statement of a client that hangs up over %s, long before it would have finished',
      async (transport) => {
        const requestId = `abandoned-${transport}-${randomBytes(4).toString('hex')}`;
        await abandonSlowSearch(patient, transport, requestId);
        await vi.waitFor(async () => expect(await runningSearches(patient.admin)).toBe(0), { timeout: 3_000, interval: 20 });
        // Cancelled, not finished: over HTTP the operation's line records PostgreSQL's query_canceled (SSE writes its
        // line when the stream closes, before the result is in).
        const ended = transport === 'http' ? { errorCode: 'TIMEOUT', transport } : { transport };
        await vi.waitFor(() => expect(operationLine(patient.server, requestId)).toMatchObject(ended));
      },
    );

    it('releases the pool from a dozen abandoned requests: the server keeps answering', async () => {
      const clients = Array.from({ length: 12 }, () => new AbortController());
      const send = (client: AbortController) =>
        fetch(patient.server.httpUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${patient.token}` },
          body: JSON.stringify({ query: SLOW_QUERY, variables: { search: SLOW_SEARCH } }),
          signal: client.signal,
        }).catch(() => undefined);
      // One at a time until the pool's ten connections all run the search: sent together, a search can queue behind
      // another on a busy connection (src/db/client.ts) while a connection that was busy a moment goes idle. The
      // other two requests then wait for a connection.
      const sent: Promise<unknown>[] = [];
      for (const [index, client] of clients.entries()) {
        sent.push(send(client));
        const running = Math.min(index + 1, 10);
        await vi.waitFor(async () => expect(await runningSearches(patient.admin)).toBe(running), { timeout: 10_000, interval: 20 });
      }
      for (const client of clients) client.abort();
      await Promise.all(sent);
      await vi.waitFor(async () => expect(await runningSearches(patient.admin)).toBe(0), { timeout: 3_000, interval: 20 });

      const ready = await fetch(`${patient.server.url}/readyz`);
      expect(ready.status).toBe(200);
      const { body } = await patient.server.gql('{ items(first: 1) { totalCount } }', {}, { token: patient.token });
      expect(body).toMatchObject({ data: { items: { totalCount: 100_000 } } });
      expect(body.errors).toBeUndefined();
    });

    it('rolls back a transaction whose statement is cancelled because the client left, and runs nothing after', async () => {
      const sku = uniqueSku();
      const { db } = patient.server.app.container;
      const client = new AbortController();
      const started: string[] = [];
      const cancellation = operationStatements(client.signal);
      const operation = withCancellation(cancellation, () =>
        scopedDatabase(db, { cancellation }).transaction(async (tx) => {
          await tx.insert(items).values({ sku, name: 'Half-written', priceCents: 100, category: 'BOOKS' });
          started.push('sleep');
          await tx
            .execute(sql`select pg_sleep(60)`)
            .catch((error: unknown) => started.push(`sleep failed: ${String(isQueryCanceled(error))}`));
          // A resolver that carries on after the cancel: its next statement never reaches PostgreSQL.
          await tx.update(items).set({ stock: 1 }).where(eq(items.sku, sku));
        }),
      ).catch((error: unknown) => error);
      await vi.waitFor(async () => expect(await runningSleeps(patient.admin)).toBe(1), { timeout: 10_000, interval: 20 });
      client.abort();
      const failure = await operation;
      expect(started).toEqual(['sleep', 'sleep failed: true']);
      expect((failure as { cause?: unknown }).cause).toBeInstanceOf(StatementCancelledError);
      expect(isQueryCanceled(failure)).toBe(true);
      expect(await runningSleeps(patient.admin)).toBe(0);
      expect(await db.select().from(items).where(eq(items.sku, sku))).toEqual([]);
      // The pool is whole again.
      expect(await db.select({ sku: items.sku }).from(items).limit(1)).toHaveLength(1);
    });
  },
);
