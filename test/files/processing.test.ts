/**
 * Acceptance 1's processing half: after completeUpload, FILE_PROCESSING measures the image and makes a thumbnail,
 * with progress on jobUpdated; and the clean-up job removes uploads never completed and files attached to nothing.
 */
import { eq } from 'drizzle-orm';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { files, storageChunks, uploads } from '../../src/db/tables.js';
import { decodeGlobalId } from '../../src/schema/shared/global-id.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { collect } from '../helpers/subscriptions.js';
import { absolute, createUpload, noisePng, sendBytes, sha256, uploadFile } from './helpers.js';

let server: TestServer;
let owner: TestUser;
let admin: TestUser;

beforeAll(async () => {
  server = await startServer({ JOB_POLL_INTERVAL_MS: '50', FILE_ORPHAN_GRACE_MS: '0', HTTP_REQUEST_TIMEOUT_MS: '5000' });
  [owner, admin] = await Promise.all([createUser(server), createUser(server, { role: 'ADMIN' })]);
});

afterAll(async () => {
  await server?.close();
});

const WATCH = 'subscription($id: ID!) { jobUpdated(id: $id) { id kind status progress result error } }';

async function runCleanup(): Promise<Record<string, any>> {
  const { body } = await server.gql(
    'mutation { startJob(input: { kind: CLEANUP }) { job { id } userErrors { message } } }',
    {},
    { token: admin.token },
  );
  const id = body.data!.startJob.job.id;
  const watcher = collect(server.wsClient({ authorization: `Bearer ${admin.token}` }), { query: WATCH, variables: { id } });
  await watcher.done(30_000);
  const last = watcher.events.at(-1)!.data!.jobUpdated;
  expect(last).toMatchObject({ status: 'COMPLETED' });
  return last.result;
}

describe('FILE_PROCESSING', () => {
  it('gives a 3 MB PNG its dimensions and a working WebP thumbnail, with progress on jobUpdated', async () => {
    const png = await noisePng(1000, 1000);
    const { upload } = await createUpload(server, owner.token, {
      filename: 'big.png',
      contentType: 'image/png',
      byteSize: png.length,
      purpose: 'ITEM_IMAGE',
    });
    expect((await sendBytes(server, upload!, png)).status).toBe(200);
    const { body } = await server.gql(
      `mutation($id: ID!) { completeUpload(id: $id) { file { id width height thumbnailUrl } processingJob { id kind status } userErrors { message } } }`,
      { id: upload!.id },
      { token: owner.token },
    );
    const completed = body.data!.completeUpload;
    expect(completed.file).toMatchObject({ width: null, height: null, thumbnailUrl: null });
    expect(completed.processingJob).toMatchObject({ kind: 'FILE_PROCESSING' });

    const watcher = collect(server.wsClient({ authorization: `Bearer ${owner.token}` }), {
      query: WATCH,
      variables: { id: completed.processingJob.id },
    });
    await watcher.done(60_000);
    const states = watcher.events.map((event) => event.data!.jobUpdated);
    expect(states.at(-1)).toMatchObject({
      status: 'COMPLETED',
      progress: 100,
      result: { fileId: completed.file.id, processingType: 'image', result: { width: 1000, height: 1000 } },
    });
    const progress = states.map((state) => state.progress);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));

    const node = await server.gql(
      'query($id: ID!) { node(id: $id) { ... on File { byteSize sha256 width height url thumbnailUrl } } }',
      { id: completed.file.id },
      { token: owner.token },
    );
    const file = node.body.data!.node;
    expect(file).toMatchObject({ byteSize: png.length, sha256: sha256(png), width: 1000, height: 1000 });
    const thumbnail = await fetch(absolute(server, file.thumbnailUrl));
    expect(thumbnail.status).toBe(200);
    expect(thumbnail.headers.get('content-type')).toBe('image/webp');
    const metadata = await sharp(Buffer.from(await thumbnail.arrayBuffer())).metadata();
    expect(metadata).toMatchObject({ format: 'webp', width: 256, height: 256 });
    const original = await fetch(absolute(server, file.url));
    expect(Buffer.from(await original.arrayBuffer()).equals(png)).toBe(true);
  });

  it('is refused, as the seed says, for a file the user does not own', async () => {
    const mine = await uploadFile(
      server,
      owner.token,
      { filename: 'a.png', contentType: 'image/png', purpose: 'ITEM_IMAGE' },
      await noisePng(10, 10),
    );
    const other = await createUser(server);
    const { body } = await server.gql(
      'mutation($input: StartJobInput!) { startJob(input: $input) { job { id } userErrors { message } } }',
      { input: { kind: 'FILE_PROCESSING', params: { fileId: mine.id } } },
      { token: other.token },
    );
    const watcher = collect(server.wsClient({ authorization: `Bearer ${other.token}` }), {
      query: WATCH,
      variables: { id: body.data!.startJob.job.id },
    });
    await watcher.done(30_000);
    expect(watcher.events.at(-1)!.data!.jobUpdated).toMatchObject({ status: 'FAILED', error: 'User does not have access to this file' });
  });
});

describe('CLEANUP', () => {
  it('removes uploads never completed once their URL expired, and files attached to nothing, with their bytes', async () => {
    const db = server.app.container.db;
    const png = await noisePng(20, 20);
    // A file never attached (the grace period is 0 here), an upload that received its bytes but was never completed,
    // and a file attached to an item: only the last survives.
    const orphan = await uploadFile(server, owner.token, { filename: 'o.png', contentType: 'image/png', purpose: 'ITEM_IMAGE' }, png);
    const { upload } = await createUpload(server, owner.token, {
      filename: 'u.png',
      contentType: 'image/png',
      byteSize: png.length,
      purpose: 'ITEM_IMAGE',
    });
    expect((await sendBytes(server, upload!, png)).status).toBe(200);
    const item = await server.gql(
      'mutation { createItem(input: { sku: "CL0001", name: "Kept", price: 1, category: HOME }) { item { id } } }',
      {},
      { token: admin.token },
    );
    const kept = await uploadFile(server, admin.token, { filename: 'k.png', contentType: 'image/png', purpose: 'ITEM_IMAGE' }, png);
    const attached = await server.gql(
      'mutation($input: AttachFileInput!) { attachFile(input: $input) { userErrors { message } } }',
      { input: { fileId: kept.id, targetId: item.body.data!.createItem.item.id } },
      { token: admin.token },
    );
    expect(attached.body.data!.attachFile.userErrors).toEqual([]);
    const keyOf = async (fileId: string) =>
      (
        await db
          .select({ key: files.storageKey })
          .from(files)
          .where(eq(files.id, decodeGlobalId(fileId)!.id))
      )[0]!.key;
    const orphanKey = await keyOf(orphan.id);
    const keptKey = await keyOf(kept.id);
    // The upload's URL expired longer ago than a request may take (HTTP_REQUEST_TIMEOUT_MS).
    const uploadRowId = decodeGlobalId(upload!.id)!.id;
    await db
      .update(uploads)
      .set({ expiresAt: new Date(Date.now() - 6_000) })
      .where(eq(uploads.id, uploadRowId));

    const result = await runCleanup();
    expect(result.deleted).toMatchObject({ uploads: 1 });
    expect(result.deleted.files).toBeGreaterThanOrEqual(1);
    const remaining = (await db.select({ id: files.id }).from(files)).map((row) => row.id);
    expect(remaining).toContain(decodeGlobalId(kept.id)!.id);
    expect(remaining).not.toContain(decodeGlobalId(orphan.id)!.id);
    expect(await db.select().from(uploads).where(eq(uploads.id, uploadRowId))).toEqual([]);
    const keys = await db.select({ key: storageChunks.key }).from(storageChunks).groupBy(storageChunks.key);
    expect(keys.map((row) => row.key)).not.toContain(`files/${uploadRowId}`);
    expect(keys.map((row) => row.key)).not.toContain(orphanKey);
    expect(keys.map((row) => row.key)).toContain(keptKey);
    expect((await fetch(absolute(server, orphan.url))).status).toBe(404);
    const kept2 = await fetch(absolute(server, kept.url));
    expect(Buffer.from(await kept2.arrayBuffer()).equals(png)).toBe(true);
  });
});
