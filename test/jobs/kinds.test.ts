/** The built-in job kinds, who may start them, and who sees which jobs. */
import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailOutbox, items, orders, sessions } from '../../src/db/tables.js';
import { fromGlobalId } from '../../src/schema/shared/global-id.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { collect } from '../helpers/subscriptions.js';

const START = /* GraphQL */ `
  mutation Start($input: StartJobInput!) {
    startJob(input: $input) {
      job { id kind status }
      userErrors { field message code }
    }
  }
`;

let server: TestServer;
let admin: TestUser;
let user: TestUser;
/** Reads orders but holds no analytics:read. */
let clerk: TestUser;

beforeAll(async () => {
  server = await startServer({ JOB_POLL_INTERVAL_MS: '50' });
  [admin, user, clerk] = await Promise.all([
    createUser(server, { role: 'ADMIN' }),
    createUser(server),
    createUser(server, { role: 'MODERATOR', scopes: ['orders:read', 'jobs:write'] }),
  ]);
});

afterAll(async () => {
  await server?.close();
});

async function start(as: TestUser, kind: string, params: unknown) {
  const { body } = await server.gql(START, { input: { kind, params } }, { token: as.token });
  expect(body.errors).toBeUndefined();
  return body.data!.startJob as { job: { id: string; kind: string; status: string } | null; userErrors: unknown[] };
}

/** Waits for the job's final state through jobUpdated. */
async function finished(as: TestUser, id: string) {
  const watcher = collect(server.wsClient({ authorization: `Bearer ${as.token}` }), {
    query: 'subscription($id: ID!) { jobUpdated(id: $id) { status error result } }',
    variables: { id },
  });
  await watcher.done(20_000);
  return watcher.events.at(-1)!.data!.jobUpdated as { status: string; error: string | null; result: any };
}

describe('SEND_EMAIL', () => {
  it('is refused to a user without email sending permissions', async () => {
    expect(await start(user, 'SEND_EMAIL', { to: 'a@example.com', subject: 'Hi', body: 'Text' })).toEqual({
      job: null,
      userErrors: [{ field: ['input', 'kind'], message: 'User does not have email sending permissions', code: 'FORBIDDEN' }],
    });
  });

  it('names the bad field of its parameters', async () => {
    const { userErrors } = await start(admin, 'SEND_EMAIL', { to: ['ok@example.com', 'nope'], body: 'Text' });
    expect(userErrors).toEqual([
      { field: ['input', 'params', 'to'], message: 'Invalid email address: nope', code: 'INVALID' },
      { field: ['input', 'params', 'subject'], message: 'Subject is required', code: 'INVALID' },
    ]);
  });

  it('writes one outbox row per recipient', async () => {
    const { job } = await start(admin, 'SEND_EMAIL', {
      to: ['Ann@Example.com', 'bo@example.com', 'ann@example.com'],
      subject: 'Hours',
      body: 'Open at 9.',
    });
    const final = await finished(admin, job!.id);
    expect(final).toMatchObject({ status: 'COMPLETED', result: { recipients: 2 } });
    const rows = await server.app.container.db
      .select()
      .from(emailOutbox)
      .where(eq(emailOutbox.jobId, fromGlobalId(job!.id, 'Job')));
    expect(rows.map((row) => [row.recipient, row.subject, row.body]).sort()).toEqual([
      ['ann@example.com', 'Hours', 'Open at 9.'],
      ['bo@example.com', 'Hours', 'Open at 9.'],
    ]);
  });
});

describe('SALES_REPORT', () => {
  beforeAll(async () => {
    const db = server.app.container.db;
    const [book, lamp] = await db
      .insert(items)
      .values([
        { sku: 'SR0001', name: 'Atlas', priceCents: 2_000, category: 'BOOKS' },
        { sku: 'SR0002', name: 'Lamp', priceCents: 4_550, category: 'HOME' },
      ])
      .returning();
    const order = (itemId: string, quantity: number, totalCents: number, createdAt: string, status: 'PAID' | 'CANCELLED' = 'PAID') => ({
      itemId,
      placedBy: user.rowId,
      quantity,
      unitPriceCents: totalCents / quantity,
      totalCents,
      status,
      createdAt: new Date(createdAt),
    });
    await db
      .insert(orders)
      .values([
        order(book!.id, 2, 4_000, '2026-03-01T08:00:00Z'),
        order(book!.id, 1, 2_000, '2026-03-01T23:59:59Z'),
        order(lamp!.id, 1, 4_550, '2026-03-01T12:00:00Z'),
        order(lamp!.id, 3, 13_650, '2026-03-02T00:00:00Z'),
        order(lamp!.id, 5, 22_750, '2026-03-02T10:00:00Z', 'CANCELLED'),
        order(book!.id, 9, 18_000, '2026-03-04T10:00:00Z'),
      ]);
  });

  it('totals orders by day and category, with revenue for analytics:read holders', async () => {
    const { job } = await start(admin, 'SALES_REPORT', { from: '2026-03-01', to: '2026-03-02' });
    const { result } = await finished(admin, job!.id);
    expect(result).toEqual({
      from: '2026-03-01',
      to: '2026-03-02',
      revenueIncluded: true,
      rows: [
        { day: '2026-03-01', category: 'BOOKS', orders: 2, units: 3, revenue: 60 },
        { day: '2026-03-01', category: 'HOME', orders: 1, units: 1, revenue: 45.5 },
        { day: '2026-03-02', category: 'HOME', orders: 1, units: 3, revenue: 136.5 },
      ],
      totals: { orders: 4, units: 7, revenue: 242 },
    });
  });

  it('leaves revenue out for a holder of orders:read without analytics:read', async () => {
    const { job } = await start(clerk, 'SALES_REPORT', { from: '2026-03-01', to: '2026-03-01' });
    const { result } = await finished(clerk, job!.id);
    expect(result).toEqual({
      from: '2026-03-01',
      to: '2026-03-01',
      revenueIncluded: false,
      rows: [
        { day: '2026-03-01', category: 'BOOKS', orders: 2, units: 3 },
        { day: '2026-03-01', category: 'HOME', orders: 1, units: 1 },
      ],
      totals: { orders: 3, units: 4 },
    });
  });

  it('rejects a range that ends before it starts', async () => {
    const { userErrors } = await start(admin, 'SALES_REPORT', { from: '2026-03-02', to: '2026-03-01' });
    expect(userErrors).toEqual([{ field: ['input', 'params', 'to'], message: 'To must not be before from', code: 'INVALID' }]);
  });
});

describe('CLEANUP', () => {
  it('deletes expired sessions', async () => {
    const db = server.app.container.db;
    const [expired] = await db
      .insert(sessions)
      .values({
        familyId: randomUUID(),
        userId: user.rowId,
        tokenHash: `expired-${randomUUID()}`,
        scopes: [],
        expiresAt: new Date(Date.now() - 60_000),
      })
      .returning();
    const { job } = await start(admin, 'CLEANUP', {});
    const final = await finished(admin, job!.id);
    expect(final.status).toBe('COMPLETED');
    expect(final.result.deleted.sessions).toBeGreaterThanOrEqual(1);
    expect(await db.select().from(sessions).where(eq(sessions.id, expired!.id))).toEqual([]);
  });

  it('is refused without system:write', async () => {
    expect((await start(user, 'CLEANUP', {})).userErrors).toEqual([
      { field: ['input', 'kind'], message: 'Insufficient permissions', code: 'FORBIDDEN' },
    ]);
  });
});

describe('who sees which jobs', () => {
  it("lists a user's own jobs only, and everyone's to a jobs:read holder; node(id) hides other people's", async () => {
    const own = (await start(user, 'EXPORT_ITEMS', {})).job!.id;
    const others = (await start(admin, 'EXPORT_ITEMS', {})).job!.id;
    const list = async (as: TestUser) => {
      const { body } = await server.gql('{ jobs(first: 100) { totalCount nodes { id } } }', {}, { token: as.token });
      return (body.data!.jobs.nodes as Array<{ id: string }>).map((job) => job.id);
    };
    const mine = await list(user);
    expect(mine).toContain(own);
    expect(mine).not.toContain(others);
    expect(await list(admin)).toEqual(expect.arrayContaining([own, others]));

    const node = async (as: TestUser, id: string) =>
      (await server.gql('query($id: ID!) { node(id: $id) { ... on Job { id kind } } }', { id }, { token: as.token })).body.data!.node;
    expect(await node(user, own)).toEqual({ id: own, kind: 'EXPORT_ITEMS' });
    expect(await node(user, others)).toBeNull();
    expect(await node(admin, own)).toEqual({ id: own, kind: 'EXPORT_ITEMS' });

    await finished(user, own);
    const { body } = await server.gql('{ jobs(first: 100, status: COMPLETED) { nodes { id status } } }', {}, { token: user.token });
    expect(body.data!.jobs.nodes).toContainEqual({ id: own, status: 'COMPLETED' });
    expect((body.data!.jobs.nodes as Array<{ status: string }>).every((job) => job.status === 'COMPLETED')).toBe(true);
  });
});
