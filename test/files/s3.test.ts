/**
 * Acceptance 1 on the S3-compatible backend: the same staged flow with a presigned PUT straight to the bucket (a
 * local s3rver started here on port 0, in a temporary directory), processing, signed downloads with ranges and
 * expiry, and the refusals leaving nothing in the bucket.
 */
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UrlSigner } from '../../src/storage/signing.js';
import { decodeGlobalId } from '../../src/schema/shared/global-id.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { tempDataDir } from '../helpers/spawn.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { collect } from '../helpers/subscriptions.js';
import { absolute, blob, completeUpload, createUpload, noisePng, sendBytes, sha256 } from './helpers.js';

const SECRET = 's3-test-file-url-secret-of-32-bytes!';
const BUCKET = 'opshub-files';

let s3: S3rver;
let bucketDir: ReturnType<typeof tempDataDir>;
let client: S3Client;
let server: TestServer;
let owner: TestUser;
let png: Buffer;

beforeAll(async () => {
  bucketDir = tempDataDir();
  s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: bucketDir.dir, configureBuckets: [{ name: BUCKET }] });
  const { port } = await s3.run();
  const endpoint = `http://127.0.0.1:${port}`;
  client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  server = await startServer({
    FILE_STORAGE: 's3',
    S3_BUCKET: BUCKET,
    S3_ENDPOINT: endpoint,
    S3_REGION: 'us-east-1',
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
    S3_FORCE_PATH_STYLE: 'true',
    FILE_URL_SECRET: SECRET,
    JOB_POLL_INTERVAL_MS: '50',
  });
  owner = await createUser(server);
  png = await noisePng(1000, 1000);
});

afterAll(async () => {
  await server?.close();
  client?.destroy();
  await s3?.close();
  bucketDir?.remove();
});

async function objectKeys(): Promise<string[]> {
  const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET }));
  return (listed.Contents ?? []).map((object) => object.Key!).sort();
}

describe('the S3 backend', () => {
  it('takes a 3 MB PNG through a presigned PUT; the File is measured, processed and served with ranges, and its URL expires', async () => {
    const { upload } = await createUpload(server, owner.token, {
      filename: 'shelf.png',
      contentType: 'image/png',
      byteSize: png.length,
      purpose: 'ITEM_IMAGE',
    });
    expect(upload!.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/${BUCKET}/files/`));
    expect((await sendBytes(server, upload!, png)).status).toBe(200);
    const { body } = await server.gql(
      'mutation($id: ID!) { completeUpload(id: $id) { file { id byteSize sha256 contentType url } processingJob { id } userErrors { message } } }',
      { id: upload!.id },
      { token: owner.token },
    );
    const { file, processingJob } = body.data!.completeUpload;
    expect(file).toMatchObject({ byteSize: png.length, sha256: sha256(png), contentType: 'image/png' });

    const watcher = collect(server.wsClient({ authorization: `Bearer ${owner.token}` }), {
      query: 'subscription($id: ID!) { jobUpdated(id: $id) { status progress } }',
      variables: { id: processingJob.id },
    });
    await watcher.done(60_000);
    expect(watcher.events.at(-1)!.data!.jobUpdated).toEqual({ status: 'COMPLETED', progress: 100 });
    const node = await server.gql(
      'query($id: ID!) { node(id: $id) { ... on File { width height url thumbnailUrl } } }',
      { id: file.id },
      { token: owner.token },
    );
    const processed = node.body.data!.node;
    expect(processed).toMatchObject({ width: 1000, height: 1000 });
    const thumbnail = await fetch(absolute(server, processed.thumbnailUrl));
    expect(thumbnail.headers.get('content-type')).toBe('image/webp');
    expect((await thumbnail.arrayBuffer()).byteLength).toBeGreaterThan(0);

    const whole = await fetch(absolute(server, processed.url));
    expect(whole.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await whole.arrayBuffer()).equals(png)).toBe(true);
    const slice = await fetch(absolute(server, processed.url), { headers: { range: 'bytes=1000000-1999999' } });
    expect(slice.status).toBe(206);
    expect(Buffer.from(await slice.arrayBuffer()).equals(png.subarray(1_000_000, 2_000_000))).toBe(true);
    const rowId = decodeGlobalId(file.id)!.id;
    const expired = new UrlSigner(SECRET).sign(
      `/files/${file.id}/content`,
      { action: 'file', method: 'GET', id: rowId },
      60,
      Date.now() - 61_000,
    );
    expect((await fetch(absolute(server, expired.url))).status).toBe(403);

    // The presigned PUT still works until it expires, but the file reads its own verified copy.
    const html = Buffer.from('<html><script>alert(1)</script></html>');
    await fetch(upload!.url, { method: 'PUT', headers: upload!.headers, body: blob(html) });
    const again = await fetch(absolute(server, processed.url), { headers: { range: 'bytes=0-7' } });
    expect(Buffer.from(await again.arrayBuffer()).equals(png.subarray(0, 8))).toBe(true);
  });

  it('refuses HTML declared as image/png and a byteSize that lies, leaving nothing in the bucket', async () => {
    const before = await objectKeys();
    const html = Buffer.from('<!doctype html><h1>not a picture</h1>');
    const { upload } = await createUpload(server, owner.token, {
      filename: 'x.png',
      contentType: 'image/png',
      byteSize: html.length,
      purpose: 'ITEM_IMAGE',
    });
    expect((await sendBytes(server, upload!, html)).status).toBe(200);
    expect((await completeUpload(server, owner.token, upload!.id)).userErrors).toEqual([
      { field: ['id'], message: 'The bytes are of type text/html, not image/png', code: 'INVALID' },
    ]);
    const lying = await createUpload(server, owner.token, {
      filename: 'y.png',
      contentType: 'image/png',
      byteSize: 5000,
      purpose: 'ITEM_IMAGE',
    });
    const short = png.subarray(0, 4000);
    // The presigned PUT is signed for content-type; s3rver takes a shorter body, and completeUpload measures it.
    await fetch(lying.upload!.url, { method: 'PUT', headers: lying.upload!.headers, body: blob(short) });
    expect((await completeUpload(server, owner.token, lying.upload!.id)).userErrors).toEqual([
      { field: ['id'], message: 'The upload has 4000 bytes, not the 5000 declared', code: 'INVALID' },
    ]);
    expect(await objectKeys()).toEqual(before);
  });

  it('takes a multipart POST through OpsHub into the bucket', async () => {
    const text = Buffer.from('hello, bucket\n');
    const { upload } = await createUpload(server, owner.token, {
      filename: 'note.txt',
      contentType: 'text/plain',
      byteSize: text.length,
      purpose: 'ATTACHMENT',
      method: 'POST',
    });
    expect(upload!.url).toMatch(/^\/files\/uploads\//);
    expect((await sendBytes(server, upload!, text, 'note.txt')).status).toBe(200);
    const { file } = await completeUpload(server, owner.token, upload!.id);
    expect(await (await fetch(absolute(server, file!.url))).text()).toBe('hello, bucket\n');
  });
});
