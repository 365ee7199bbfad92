/** An export's `resultUrl`: the signed-URL mechanism of files, so the CSV opens in a browser without a header. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { items } from '../../src/db/tables.js';
import { decodeGlobalId } from '../../src/schema/shared/global-id.js';
import { UrlSigner } from '../../src/storage/signing.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { collect } from '../helpers/subscriptions.js';

const SECRET = 'export-url-secret-of-at-least-32-bytes';

let server: TestServer;
let owner: TestUser;

beforeAll(async () => {
  server = await startServer({ FILE_URL_SECRET: SECRET, JOB_POLL_INTERVAL_MS: '50' });
  owner = await createUser(server);
  await server.app.container.db.insert(items).values([{ sku: 'EX0001', name: 'Desk lamp', priceCents: 1999, category: 'HOME' }]);
});

afterAll(async () => {
  await server?.close();
});

describe('Job.resultUrl', () => {
  it('is null until the export completes, then a signed URL that downloads the CSV without a header until it expires', async () => {
    const { body } = await server.gql(
      'mutation { startJob(input: { kind: EXPORT_ITEMS, params: {} }) { job { id resultUrl } userErrors { message } } }',
      {},
      { token: owner.token },
    );
    const job = body.data!.startJob.job;
    expect(job.resultUrl).toBeNull();
    const watcher = collect(server.wsClient({ authorization: `Bearer ${owner.token}` }), {
      query: 'subscription($id: ID!) { jobUpdated(id: $id) { status resultUrl result } }',
      variables: { id: job.id },
    });
    await watcher.done(30_000);
    const last = watcher.events.at(-1)!.data!.jobUpdated;
    expect(last.status).toBe('COMPLETED');
    expect(last.resultUrl).toMatch(new RegExp(`^/exports/${job.id}\\?expires=\\d+&sig=[A-Za-z0-9_-]{43}$`));

    const csv = await fetch(`${server.url}${last.resultUrl}`);
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(await csv.text()).toContain('EX0001,Desk lamp');

    const rowId = decodeGlobalId(job.id)!.id;
    const expired = new UrlSigner(SECRET).sign(`/exports/${job.id}`, { action: 'export', method: 'GET', id: rowId }, 60, Date.now() - 61_000);
    expect((await fetch(`${server.url}${expired.url}`)).status).toBe(403);
    const tampered = last.resultUrl.replace(/sig=./, (match: string) => (match.endsWith('A') ? 'sig=B' : 'sig=A'));
    expect((await fetch(`${server.url}${tampered}`)).status).toBe(403);
    // A URL signed for a file does not open an export with the same id.
    const wrongAction = new UrlSigner(SECRET).sign(`/exports/${job.id}`, { action: 'file', method: 'GET', id: rowId }, 60);
    expect((await fetch(`${server.url}${wrongAction.url}`)).status).toBe(403);
    // The plain URL in `result` still needs the owner's token.
    expect((await fetch(`${server.url}${last.result.url}`)).status).toBe(401);
  });
});
