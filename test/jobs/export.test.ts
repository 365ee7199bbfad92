/**
 * Acceptance 1: an export of 10,000 items, watched over jobUpdated, downloadable by its owner only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { items } from '../../src/db/tables.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { collect } from '../helpers/subscriptions.js';

const START = /* GraphQL */ `
  mutation Start($input: StartJobInput!) {
    startJob(input: $input) {
      job { id kind status progress }
      userErrors { field message code }
    }
  }
`;

const WATCH = /* GraphQL */ `
  subscription Watch($id: ID!) {
    jobUpdated(id: $id) { id kind status progress result error }
  }
`;

let server: TestServer;
let owner: TestUser;
let other: TestUser;

beforeAll(async () => {
  server = await startServer({ JOB_POLL_INTERVAL_MS: '50' });
  [owner, other] = await Promise.all([createUser(server), createUser(server)]);
  const db = server.app.container.db;
  for (let batch = 0; batch < 10; batch += 1) {
    await db.insert(items).values(
      Array.from({ length: 1_000 }, (_, i) => {
        const n = batch * 1_000 + i;
        return {
          sku: `XA${String(n).padStart(4, '0')}`,
          name: n % 7 === 0 ? `=Formula "quoted", item ${n}` : `Item ${n}`,
          priceCents: 100 + (n % 5_000),
          category: (['ELECTRONICS', 'BOOKS', 'CLOTHING', 'HOME'] as const)[n % 4]!,
          tags: ['bulk'],
          stock: n % 3,
        };
      }),
    );
  }
});

afterAll(async () => {
  await server?.close();
});

async function download(url: string, token?: string) {
  return fetch(`${server.url}${url}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
}

describe('EXPORT_ITEMS', () => {
  it('streams progress to a subscriber and ends COMPLETED with a CSV of 10,001 lines that only the owner can download', async () => {
    const started = await server.gql(START, { input: { kind: 'EXPORT_ITEMS', params: {} } }, { token: owner.token });
    expect(started.body.errors).toBeUndefined();
    expect(started.body.data!.startJob.userErrors).toEqual([]);
    const id = started.body.data!.startJob.job.id as string;

    const watcher = collect(server.wsClient({ authorization: `Bearer ${owner.token}` }), { query: WATCH, variables: { id } });
    await watcher.done(60_000);
    expect(watcher.errors).toEqual([]);
    const states = watcher.events.map((event) => {
      expect(event.errors).toBeUndefined();
      return event.data!.jobUpdated as { status: string; progress: number; result: any };
    });
    const progress = states.map((state) => state.progress);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    const last = states.at(-1)!;
    expect(last).toMatchObject({ status: 'COMPLETED', progress: 100, error: null });
    expect(last.result).toMatchObject({ rows: 10_000, contentType: 'text/csv; charset=utf-8' });

    const response = await download(last.result.url, owner.token);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(response.headers.get('content-disposition')).toMatch(/^attachment; filename="items-.*\.csv"$/);
    const csv = await response.text();
    const lines = csv.split('\r\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(10_001);
    expect(lines[0]).toBe('sku,name,description,price,category,tags,stock,createdAt');
    expect(new Set(lines.slice(1).map((line) => line.slice(0, 6))).size).toBe(10_000);
    // Formula-looking text is neutralised and quoted cells keep their commas and quotes.
    expect(lines.find((line) => line.startsWith('XA0007,'))).toMatch(/^XA0007,"'=Formula ""quoted"", item 7",,1\.07,HOME,bulk,1,\d{4}-/);

    expect((await download(last.result.url, other.token)).status).toBe(404);
    expect((await download(last.result.url)).status).toBe(401);
  });

  it('applies the filter of its parameters', async () => {
    const started = await server.gql(
      START,
      { input: { kind: 'EXPORT_ITEMS', params: { categories: ['BOOKS'], minPrice: 10, maxPrice: 20, inStock: true } } },
      { token: owner.token },
    );
    const id = started.body.data!.startJob.job.id as string;
    const watcher = collect(server.wsClient({ authorization: `Bearer ${owner.token}` }), { query: WATCH, variables: { id } });
    await watcher.done(30_000);
    const last = watcher.events.at(-1)!.data!.jobUpdated;
    expect(last.status).toBe('COMPLETED');
    const csv = await (await download(last.result.url, owner.token)).text();
    const rows = csv.trimEnd().split('\r\n').slice(1);
    // Items n with n % 4 == 1 (BOOKS), price 1000..2000 cents, stock n % 3 > 0.
    const expected = Array.from({ length: 10_000 }, (_, n) => n).filter(
      (n) => n % 4 === 1 && 100 + (n % 5_000) >= 1_000 && 100 + (n % 5_000) <= 2_000 && n % 3 > 0,
    );
    expect(rows).toHaveLength(expected.length);
    expect(last.result.rows).toBe(expected.length);
  });

  it('rejects invalid parameters with a user error naming the field', async () => {
    const { body } = await server.gql(
      START,
      { input: { kind: 'EXPORT_ITEMS', params: { minPrice: -1, colour: 'red' } } },
      { token: owner.token },
    );
    expect(body.data!.startJob.job).toBeNull();
    expect(body.data!.startJob.userErrors).toEqual(
      expect.arrayContaining([
        { field: ['input', 'params', 'minPrice'], message: 'Minimum price must be at least 0', code: 'INVALID' },
        { field: ['input', 'params', 'colour'], message: 'Unknown parameter "colour"', code: 'INVALID' },
      ]),
    );
  });

  it("does not show another user's job to a subscriber", async () => {
    const started = await server.gql(
      START,
      { input: { kind: 'EXPORT_ITEMS', params: { search: 'nothing-matches' } } },
      { token: owner.token },
    );
    const id = started.body.data!.startJob.job.id as string;
    const watcher = collect(server.wsClient({ authorization: `Bearer ${other.token}` }), { query: WATCH, variables: { id } });
    await watcher.done();
    expect(watcher.events).toHaveLength(1);
    expect(watcher.events[0]!.data ?? null).toBeNull();
    expect(watcher.events[0]!.errors).toEqual([
      expect.objectContaining({ message: 'Job not found', extensions: expect.objectContaining({ code: 'NOT_FOUND' }) }),
    ]);
  });
});
