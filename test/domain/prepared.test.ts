/**
 * Hot statements are prepared (src/schema/shared/prepared.ts): built once, one statement for every batch size, still
 * counted, traced and cancelled like any other; and the rows a mutation already holds prime the request's loaders.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { rowsOf, openDatabase, type DatabaseHandle } from '../../src/db/client.js';
import { ClientGone, operationStatements, StatementCancelledError, withCancellation } from '../../src/db/cancellation.js';
import { newSqlStats } from '../../src/db/sql-stats.js';
import { scopedDatabase, type StatementScope } from '../../src/db/statement-scope.js';
import { operationViews } from '../../src/schema/shared/operation-views.js';
import { itemSort, ItemRepo } from '../../src/schema/item/item.repo.js';
import { SortDirection } from '../../src/schema/shared/connection.js';
import { once, rowMapper } from '../../src/schema/shared/prepared.js';
import { items, jobs, users } from '../../src/db/tables.js';
import { PostRepo } from '../../src/schema/post/post.repo.js';
import { UserRepo } from '../../src/schema/user/user.repo.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { ok, statements } from './fixtures.js';

let server: TestServer;
let alice: TestUser;

beforeAll(async () => {
  server = await startServer();
  alice = await createUser(server);
});
afterAll(() => server?.close());

describe('prepared statements', () => {
  let database: TestDatabase;
  let handle: DatabaseHandle;
  let repo: ItemRepo;
  const ids: string[] = [];
  /** The repository as one operation with `scope` sees it (the container's view, src/schema/shared/operation-views.ts). */
  const operationRepo = (scope: StatementScope) => operationViews(handle.db, [repo])(scopedDatabase(handle.db, scope))(repo);

  beforeAll(async () => {
    database = await createTestDatabase();
    // One pooled connection: pg_prepared_statements lists that connection's named statements.
    handle = await openDatabase({ databaseUrl: database.url, dataDir: null, poolSize: 1 });
    await handle.migrate();
    repo = new ItemRepo(handle.db);
    for (const [index, sku] of ['PS0001', 'PS0002', 'PS0003'].entries()) {
      ids.push((await repo.insert({ sku, name: `Prepared ${index}`, priceCents: 100, category: 'HOME' })).id);
    }
  });
  afterAll(async () => {
    await handle?.close();
    await database?.drop();
  });

  it('answers lookups of any batch size with one statement, prepared once on PostgreSQL', async () => {
    expect((await repo.findByIds([ids[0]!])).map((row) => row.sku)).toEqual(['PS0001']);
    const three = await repo.findByIds([ids[2]!, ids[0]!, ids[1]!, '00000000-0000-4000-8000-000000000000']);
    expect(three.map((row) => row.sku).sort()).toEqual(['PS0001', 'PS0002', 'PS0003']);
    if (handle.kind !== 'postgres') return;
    const prepared = rowsOf<{ statement: string }>(
      await handle.db.execute(sql`select statement from pg_prepared_statements where statement like '%from "items"%'`),
    );
    // Both batch sizes ran the one named statement with an array parameter, not `in ($1, …)` per size.
    expect(prepared).toHaveLength(1);
    expect(prepared[0]!.statement).toMatch(/= any\(\$1::uuid\[\]\)/);
  });

  it('prepares an insert once for the rows of one shape, with the defaults of the columns it leaves out', async () => {
    const row = await repo.insert({ sku: 'PS0004', name: 'Prepared 3', priceCents: 250, category: 'BOOKS', tags: ['a', 'b c'] });
    expect(row).toMatchObject({ sku: 'PS0004', priceCents: 250, tags: ['a', 'b c'], stock: 0, description: null });
    expect(row.createdAt).toBeInstanceOf(Date);
    await repo.delete(row.id);
    if (handle.kind !== 'postgres') return;
    const inserts = rowsOf<{ statement: string }>(
      await handle.db.execute(sql`select statement from pg_prepared_statements where statement like 'insert into "items"%'`),
    );
    // The three items of beforeAll and this one (with tags) make two shapes.
    expect(inserts).toHaveLength(2);
  });

  it('shares one page statement between filter values of the same shape', async () => {
    const page = { limit: 10, backward: false, after: null, before: null };
    const byName = itemSort('name', SortDirection.ASC);
    const home = await repo.page({ categories: ['HOME'], minPriceCents: 50 }, byName, page);
    const none = await repo.page({ categories: ['BOOKS'], minPriceCents: 1 }, byName, page);
    expect(home.map((row) => row.sku)).toEqual(['PS0001', 'PS0002', 'PS0003']);
    expect(none).toEqual([]);
    if (handle.kind !== 'postgres') return;
    const prepared = rowsOf<{ statement: string }>(
      await handle.db.execute(sql`select statement from pg_prepared_statements where statement like '%"price_cents" >= %'`),
    );
    expect(prepared).toHaveLength(1);
  });

  it('counts a prepared statement in the statistics of the operation that runs it, and only there', async () => {
    const stats = newSqlStats();
    const view = operationRepo({ stats });
    await view.findByIds(ids);
    expect(stats.statements).toBe(1);
    // The statement the view ran is the repository's own: the process's repository still runs it uncounted.
    await repo.findByIds(ids);
    expect(stats.statements).toBe(1);
    await view.findByIds(ids);
    expect(stats.statements).toBe(2);
  });

  it('refuses a prepared statement of an operation whose client went away (PostgreSQL)', async () => {
    if (handle.kind !== 'postgres') return;
    const controller = new AbortController();
    controller.abort();
    const error = await operationRepo({ cancellation: operationStatements(controller.signal) })
      .findByIds(ids)
      .catch((caught: unknown) => caught);
    // Drizzle wraps the driver's error; the refusal is its cause.
    expect((error as { cause?: unknown }).cause).toBeInstanceOf(StatementCancelledError);
  });

  it('cancels the running statement of an HTTP request whose client went away (ClientGone, PostgreSQL)', async () => {
    if (handle.kind !== 'postgres') return;
    const gone = new ClientGone();
    const cancellation = operationStatements(gone);
    const db = scopedDatabase(handle.db, { cancellation });
    const started = performance.now();
    // Handed over as it is: a Drizzle query that starts only when awaited is still the operation's.
    const running = withCancellation(cancellation, () => db.execute(sql`select pg_sleep(20)`)).catch((caught: unknown) => caught);
    setTimeout(() => gone.abort(), 200);
    const error = (await running) as { cause?: { code?: string } };
    expect(error.cause?.code).toBe('57014'); // query_canceled, from PostgreSQL
    // Well before DB_STATEMENT_TIMEOUT_MS (10 s), which would end it with the same code.
    expect(performance.now() - started).toBeLessThan(8_000);
    // Afterwards nothing else of that operation reaches the database.
    const refusal = (await operationRepo({ cancellation })
      .findByIds(ids)
      .catch((caught: unknown) => caught)) as { cause?: unknown };
    expect(refusal.cause).toBeInstanceOf(StatementCancelledError);
  });

  it('keeps a statement one operation built for every other: not counted with it, not cancelled with it', async () => {
    const gone = new ClientGone();
    const first = newSqlStats();
    const page = { limit: 10, backward: false, after: null, before: null };
    // A shape no other test runs: the first operation builds its statement.
    const byPrice = itemSort('priceCents', SortDirection.DESC);
    const built = await operationRepo({ stats: first, cancellation: operationStatements(gone) }).page({}, byPrice, page);
    expect(built.length).toBeGreaterThan(0);
    expect(first.statements).toBe(1);
    gone.abort();
    const second = newSqlStats();
    // The cached statement now runs for another operation and for the process, neither refused nor counted as the first's.
    expect(await operationRepo({ stats: second }).page({}, byPrice, page)).toEqual(built);
    expect(await repo.page({}, byPrice, page)).toEqual(built);
    expect([first.statements, second.statements]).toEqual([1, 1]);
  });

  it('counts and cancels the statements of a transaction on the operation database', async () => {
    const stats = newSqlStats();
    const gone = new ClientGone();
    const cancellation = operationStatements(gone);
    const db = scopedDatabase(handle.db, { stats, cancellation });
    await db.transaction(async (tx) => {
      await tx.select({ id: items.id }).from(items).limit(1);
      await new ItemRepo(tx).findByIds(ids);
    });
    // The two statements inside; BEGIN and COMMIT are the driver's own, on both drivers.
    expect(stats.statements).toBe(2);
    if (handle.kind !== 'postgres') return;
    gone.abort();
    const error = await db.transaction((tx) => tx.select().from(items).limit(1)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StatementCancelledError);
  });

  it('loads users, and joins authors to posts and comments, without the password hash', async () => {
    const [user] = await handle.db
      .insert(users)
      .values({ username: 'prepared_author', email: 'prepared_author@example.com', passwordHash: 'scrypt$x' })
      .returning();
    const posts = new PostRepo(handle.db);
    const post = await posts.insert({ authorId: user!.id, title: 'Prepared', body: 'Joined' });
    await posts.insertComment({ postId: post.id, authorId: user!.id, body: 'Joined too' });
    const page = { limit: 5, backward: false, after: null, before: null };
    const loaded = await new UserRepo(handle.db).findByIds([user!.id]);
    const [pageRow] = await posts.page(user!.id, page);
    const [window] = await posts.commentsByPosts([post.id], page);
    for (const profile of [loaded[0], pageRow?.author, window?.author]) {
      expect(profile).toMatchObject({ id: user!.id, username: 'prepared_author', role: 'USER', isActive: true });
      expect(Object.keys(profile!)).not.toContain('passwordHash');
      expect(Object.keys(profile!)).not.toContain('updatedAt');
    }
    expect(window).toMatchObject({ body: 'Joined too', parentId: post.id, total: 1 });
    if (handle.kind !== 'postgres') return;
    const selects = rowsOf<{ statement: string }>(
      await handle.db.execute(sql`select statement from pg_prepared_statements where statement like 'select%"users"%'`),
    );
    expect(selects.length).toBeGreaterThanOrEqual(3);
    for (const { statement } of selects) expect(statement).not.toContain('password_hash');
  });

  it('maps rows as Drizzle does: decoders, nested objects, and a joined table that matched no row', async () => {
    const db = handle.db;
    await db.insert(jobs).values({ kind: 'mapper.test', params: { a: [1, 'two'] }, scopes: ['item:read', 'item:write'] });
    const other = alias(items, 'other');
    const queries = {
      // Flat rows: uuid, text, integer, enum, timestamps.
      items: db.select().from(items).orderBy(items.sku),
      // jsonb (an object and a null), text[], boolean, timestamps with time zone, nulls.
      jobs: db.select().from(jobs).where(eq(jobs.kind, 'mapper.test')),
      // A left join that finds no row (the object is null), one that does, and typed SQL fields.
      joined: db
        .select({
          item: items,
          missing: other,
          found: { sku: other.sku, createdAt: other.createdAt },
          rank: sql<number>`row_number() over (order by ${items.sku})`.mapWith(Number),
          label: sql<string>`upper(${items.name})`,
        })
        .from(items)
        .leftJoin(other, and(eq(other.id, items.id), sql`false`))
        .orderBy(items.sku),
      matched: db
        .select({ item: { sku: items.sku }, twin: other })
        .from(items)
        .leftJoin(other, eq(other.id, items.id))
        .orderBy(items.sku),
    };
    for (const [name, query] of Object.entries(queries)) {
      const drizzle = await query.prepare(`mapper_drizzle_${name}`).execute();
      const statement = query.prepare(`mapper_ours_${name}`) as unknown as {
        fields: Parameters<typeof rowMapper>[0];
        joinsNotNullableMap?: Record<string, boolean>;
        customResultMapper?: unknown;
        execute(): Promise<unknown[]>;
      };
      statement.customResultMapper = rowMapper(statement.fields, statement.joinsNotNullableMap);
      const ours = await statement.execute();
      expect(ours.length, name).toBeGreaterThan(0);
      // The same values of the same types (Dates, numbers, objects, nulls), and the same keys in the same order.
      expect(ours, name).toStrictEqual(drizzle);
      expect(JSON.stringify(ours), name).toBe(JSON.stringify(drizzle));
    }
    const joined = (await queries.joined.prepare('mapper_check').execute())[0]!;
    expect(joined.missing).toBeNull();
    expect(joined.found).toBeNull();
  });

  it('gives the statements repositories prepare the row mapper', async () => {
    const statement = once(() => handle.db.select().from(items).prepare('mapper_once'))(handle.db) as unknown as {
      customResultMapper?: unknown;
    };
    expect(typeof statement.customResultMapper).toBe('function');
    expect((await repo.findByIds([ids[0]!]))[0]).toMatchObject({ sku: 'PS0001', createdAt: expect.any(Date) as Date });
  });
});

describe('loaders primed by mutations', () => {
  it('answers Comment.post of addComment from the post the mutation read, without another statement', async () => {
    const { createPost } = await ok(server, alice, 'mutation { createPost(input: { title: "Primed", body: "x" }) { post { id } } }');
    const comment = (withPost: boolean) =>
      server.gql(
        `mutation($input: AddCommentInput!) { addComment(input: $input) { comment { id ${withPost ? 'post { id title }' : ''} } userErrors { message } } }`,
        { input: { postId: createPost.post.id, body: 'Nice' } },
        { token: alice.token },
      );
    const without = await comment(false);
    const withPost = await comment(true);
    expect(withPost.body.errors).toBeUndefined();
    expect(withPost.body.data!.addComment.comment.post).toEqual({ id: createPost.post.id, title: 'Primed' });
    expect(statements(withPost)).toBe(statements(without));
  });
});
