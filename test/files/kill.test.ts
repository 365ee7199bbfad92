/**
 * Acceptance 5, with the real entry point as child processes: a server killed while an upload streams in leaves no
 * file and nothing attached; the next process's clean-up job removes the half-written upload and the orphans.
 */
import { request } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { files, storageChunks, uploads } from '../../src/db/tables.js';
import { gql, loginToken, spawnedStorage, spawnServer, stopAll, wsClient } from '../helpers/spawn.js';
import { collect } from '../helpers/subscriptions.js';
import { noisePng } from './helpers.js';

const ADMIN = { email: 'files-admin@example.com', password: 'Adm1n-Passw0rd' };

const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  await stopAll();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const CREATE =
  'mutation($input: CreateUploadInput!) { createUpload(input: $input) { upload { id url headers expiresAt } userErrors { message } } }';
const COMPLETE = 'mutation($id: ID!) { completeUpload(id: $id) { file { id } userErrors { field message } } }';

async function upload(base: string, url: string, token: string, bytes: Buffer, filename: string): Promise<string> {
  const { body } = await gql(
    url,
    CREATE,
    { input: { filename, contentType: 'image/png', byteSize: bytes.length, purpose: 'ITEM_IMAGE' } },
    token,
  );
  const staged = body.data.createUpload.upload;
  const sent = await fetch(`${base}${staged.url}`, { method: 'PUT', headers: staged.headers, body: new Blob([new Uint8Array(bytes)]) });
  expect(sent.status).toBe(200);
  const completed = await gql(url, COMPLETE, { id: staged.id }, token);
  return completed.body.data.completeUpload.file.id;
}

describe('a server killed during an upload', () => {
  it('leaves no file and nothing half-attached, and the clean-up removes what the upload wrote and the orphans', async () => {
    const store = await spawnedStorage(cleanups);
    const env = {
      ...store.env,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      FILE_URL_SECRET: 'a-file-url-secret-of-32-bytes-or-more',
      UPLOAD_URL_TTL_SECONDS: '3',
      HTTP_REQUEST_TIMEOUT_MS: '3000',
      FILE_ORPHAN_GRACE_MS: '0',
      JOB_POLL_INTERVAL_MS: '100',
    };
    const first = spawnServer(env);
    const url = await first.ready;
    const base = url.replace(/\/graphql$/, '');
    const token = await loginToken(url, ADMIN.email, ADMIN.password);
    const png = await noisePng(600, 600);

    const item = await gql(
      url,
      'mutation { createItem(input: { sku: "KL0001", name: "Lamp", price: 5, category: HOME }) { item { id } } }',
      {},
      token,
    );
    const itemId = item.body.data.createItem.item.id as string;
    const kept = await upload(base, url, token, png, 'kept.png');
    const attach = await gql(
      url,
      'mutation($input: AttachFileInput!) { attachFile(input: $input) { userErrors { message } } }',
      { input: { fileId: kept, targetId: itemId } },
      token,
    );
    expect(attach.body.data.attachFile.userErrors).toEqual([]);
    await upload(base, url, token, png, 'orphan.png');

    // Half of the bytes, then the process is killed while the request is still open.
    const { body } = await gql(
      url,
      CREATE,
      { input: { filename: 'cut.png', contentType: 'image/png', byteSize: png.length, purpose: 'ITEM_IMAGE' } },
      token,
    );
    const staged = body.data.createUpload.upload;
    const target = new URL(`${base}${staged.url}`);
    const put = request(target, { method: 'PUT', headers: { ...staged.headers, 'content-length': String(png.length) } });
    put.on('error', () => {});
    put.write(png.subarray(0, Math.floor(png.length / 2)));
    await until(
      () => first.logs.some((line) => line.msg === 'incoming request' && String(line.req?.url).startsWith('/files/uploads/')),
      10_000,
      'the upload request',
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await first.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    put.destroy();

    const second = spawnServer(env);
    const url2 = await second.ready;
    const token2 = await loginToken(url2, ADMIN.email, ADMIN.password);
    const completed = await gql(url2, COMPLETE, { id: staged.id }, token2);
    expect(completed.body.data.completeUpload).toEqual({
      file: null,
      userErrors: [{ field: ['id'], message: 'The upload has not received its bytes yet' }],
    });
    const images = await gql(url2, 'query($id: ID!) { node(id: $id) { ... on Item { images { nodes { id } } } } }', { id: itemId }, token2);
    expect(images.body.data.node.images.nodes).toEqual([{ id: kept }]);

    // Once the URL expired and a request could no longer be running, the clean-up job takes the upload and the orphan.
    await until(() => Date.now() > new Date(staged.expiresAt).getTime() + 3_500, 20_000, 'the upload to be abandoned');
    const started = await gql(url2, 'mutation { startJob(input: { kind: CLEANUP }) { job { id } } }', {}, token2);
    const client = wsClient(url2, token2);
    cleanups.push(() => client.dispose());
    const watcher = collect(client, {
      query: 'subscription($id: ID!) { jobUpdated(id: $id) { status result } }',
      variables: { id: started.body.data.startJob.job.id },
    });
    await watcher.done(60_000);
    const final = watcher.events.at(-1)!.data!.jobUpdated as { status: string; result: { deleted: Record<string, number> } };
    expect(final).toMatchObject({ status: 'COMPLETED', result: { deleted: { uploads: 1, files: 1 } } });
    expect(await second.stop()).toEqual({ code: 0, signal: null });

    const database = await store.open();
    try {
      expect(await database.db.select().from(uploads)).toEqual([]);
      const rows = await database.db.select({ key: files.storageKey, thumbnail: files.thumbnailKey }).from(files);
      expect(rows).toHaveLength(1);
      const keys = new Set((await database.db.select({ key: storageChunks.key }).from(storageChunks)).map((row) => row.key));
      expect([...keys].sort()).toEqual([rows[0]!.key, rows[0]!.thumbnail].filter(Boolean).sort());
    } finally {
      await database.close();
    }
  }, 180_000);
});
