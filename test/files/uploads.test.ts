/**
 * Staged uploads on the PostgreSQL backend: the flow (acceptance 1 without processing), the refusals (acceptance 2),
 * what another user cannot do (acceptance 3) and the cross-site rules (acceptance 4).
 */
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storageChunks, uploads } from '../../src/db/tables.js';
import { UrlSigner } from '../../src/storage/signing.js';
import { decodeGlobalId } from '../../src/schema/shared/global-id.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { absolute, blob, completeUpload, createUpload, FILE_FIELDS, noisePng, sendBytes, sha256, uploadFile } from './helpers.js';

const SECRET = 'file-url-secret-of-at-least-32-bytes!';

let server: TestServer;
let owner: TestUser;
let other: TestUser;
let png: Buffer;

beforeAll(async () => {
  server = await startServer({ FILE_URL_SECRET: SECRET, FILE_MAX_BYTES: String(10 * 1024 * 1024) });
  [owner, other] = await Promise.all([createUser(server), createUser(server)]);
  png = await noisePng(1000, 1000);
});

afterAll(async () => {
  await server?.close();
});

const chunkRows = async () => {
  const [row] = await server.app.container.db.select({ n: sql<number>`count(*)::int` }).from(storageChunks);
  return row!.n;
};
const uploadRows = async () => {
  const [row] = await server.app.container.db.select({ n: sql<number>`count(*)::int` }).from(uploads);
  return row!.n;
};

describe('the staged upload flow', () => {
  it('stores a 3 MB PNG sent with PUT: the File has its real size and SHA-256, and its signed URL serves the same bytes and ranges', async () => {
    expect(png.length).toBeGreaterThan(3_000_000);
    const file = await uploadFile(server, owner.token, { filename: 'shelf photo.png', contentType: 'image/png', purpose: 'ITEM_IMAGE' }, png);
    expect(file).toMatchObject({
      filename: 'shelf photo.png',
      displayName: 'shelf photo.png',
      purpose: 'ITEM_IMAGE',
      contentType: 'image/png',
      byteSize: png.length,
      sha256: sha256(png),
      uploadedBy: { id: owner.id },
    });

    // No Authorization header: the URL is the capability, as an <img> uses it.
    const whole = await fetch(absolute(server, file.url));
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-type')).toBe('image/png');
    expect(whole.headers.get('x-content-type-options')).toBe('nosniff');
    expect(whole.headers.get('content-disposition')).toBe(`inline; filename="shelf photo.png"; filename*=UTF-8''shelf%20photo.png`);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await whole.arrayBuffer()).equals(png)).toBe(true);

    // A slice across a chunk boundary (chunks are 256 KiB), and a suffix.
    const start = 262_000;
    const end = 600_123;
    const slice = await fetch(absolute(server, file.url), { headers: { range: `bytes=${start}-${end}` } });
    expect(slice.status).toBe(206);
    expect(slice.headers.get('content-range')).toBe(`bytes ${start}-${end}/${png.length}`);
    expect(Buffer.from(await slice.arrayBuffer()).equals(png.subarray(start, end + 1))).toBe(true);
    const suffix = await fetch(absolute(server, file.url), { headers: { range: 'bytes=-100' } });
    expect(suffix.status).toBe(206);
    expect(Buffer.from(await suffix.arrayBuffer()).equals(png.subarray(png.length - 100))).toBe(true);
    const beyond = await fetch(absolute(server, file.url), { headers: { range: `bytes=${png.length}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${png.length}`);

    // The same URL signed to have expired a second ago, and one whose expiry was moved: both refused.
    const rowId = decodeGlobalId(file.id)!.id;
    const expired = new UrlSigner(SECRET).sign(
      `/files/${file.id}/content`,
      { action: 'file', method: 'GET', id: rowId },
      60,
      Date.now() - 61_000,
    );
    expect((await fetch(absolute(server, expired.url))).status).toBe(403);
    const moved = file.url.replace(/expires=(\d+)/, (_: string, n: string) => `expires=${Number(n) + 3600}`);
    expect((await fetch(absolute(server, moved))).status).toBe(403);
  });

  it('takes a multipart POST when the upload asked for one, and keeps the original name for display only', async () => {
    const text = Buffer.from('sku,name\nAB1234,Lamp\n');
    const file = await uploadFile(
      server,
      owner.token,
      { filename: 'C:\\reports\\stock:"list".csv', contentType: 'text/csv', purpose: 'ATTACHMENT', method: 'POST' },
      text,
    );
    expect(file).toMatchObject({ filename: 'stock__list_.csv', displayName: 'C:\\reports\\stock:"list".csv', contentType: 'text/csv' });
    const download = await fetch(absolute(server, file.url));
    expect(download.headers.get('content-type')).toBe('text/csv');
    expect(download.headers.get('content-disposition')).toMatch(/^attachment; filename="stock__list_.csv"/);
    expect(await download.text()).toBe(text.toString());
  });
});

describe('refusals leave nothing stored', () => {
  it('refuses a declaration over the size limit, a PDF as an avatar and a path as a filename, with the field of each', async () => {
    const before = await uploadRows();
    const tooBig = await createUpload(server, owner.token, {
      filename: 'big.png',
      contentType: 'image/png',
      byteSize: 11 * 1024 * 1024,
      purpose: 'ITEM_IMAGE',
    });
    expect(tooBig).toEqual({
      upload: null,
      userErrors: [{ field: ['input', 'byteSize'], message: 'File must be at most 10485760 bytes', code: 'LIMIT_EXCEEDED' }],
    });
    const pdfAvatar = await createUpload(server, owner.token, {
      filename: 'me.pdf',
      contentType: 'application/pdf',
      byteSize: 1000,
      purpose: 'AVATAR',
    });
    expect(pdfAvatar.upload).toBeNull();
    expect(pdfAvatar.userErrors).toEqual([
      expect.objectContaining({
        field: ['input', 'contentType'],
        code: 'INVALID',
        message: expect.stringMatching(/^Content type application\/pdf is not allowed for AVATAR/),
      }),
    ]);
    for (const filename of ['../../etc/passwd', 'CON.png', ' ', 'a/../b.png']) {
      const refused = await createUpload(server, owner.token, { filename, contentType: 'image/png', byteSize: 10, purpose: 'ITEM_IMAGE' });
      expect(refused.upload, filename).toBeNull();
      expect(
        refused.userErrors.map((error) => error.field),
        filename,
      ).toEqual([['input', 'filename']]);
    }
    expect(await uploadRows()).toBe(before);
  });

  it('refuses HTML renamed .png and declared as image/png, from its bytes, and deletes what arrived', async () => {
    const html = Buffer.from('<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>');
    const { upload } = await createUpload(server, owner.token, {
      filename: 'cat.png',
      contentType: 'image/png',
      byteSize: html.length,
      purpose: 'ITEM_IMAGE',
    });
    expect((await sendBytes(server, upload!, html)).status).toBe(200);
    const chunksBefore = await chunkRows();
    const completed = await completeUpload(server, owner.token, upload!.id);
    expect(completed).toEqual({
      file: null,
      userErrors: [{ field: ['id'], message: 'The bytes are of type text/html, not image/png', code: 'INVALID' }],
    });
    expect(await chunkRows()).toBe(chunksBefore - 1);
    const again = await completeUpload(server, owner.token, upload!.id);
    expect(again.userErrors).toEqual([{ field: ['id'], message: 'Upload not found', code: 'NOT_FOUND' }]);
  });

  it('refuses a byteSize that lies: more bytes stop the transfer with 413, fewer fail completeUpload', async () => {
    const chunksBefore = await chunkRows();
    const more = await createUpload(server, owner.token, {
      filename: 'a.png',
      contentType: 'image/png',
      byteSize: 1000,
      purpose: 'ITEM_IMAGE',
    });
    expect((await sendBytes(server, more.upload!, png.subarray(0, 300_000))).status).toBe(413);
    expect((await completeUpload(server, owner.token, more.upload!.id)).userErrors[0]).toMatchObject({ code: 'NOT_FOUND' });

    const fewer = await createUpload(server, owner.token, {
      filename: 'b.png',
      contentType: 'image/png',
      byteSize: png.length,
      purpose: 'ITEM_IMAGE',
    });
    expect((await sendBytes(server, fewer.upload!, png.subarray(0, 1000))).status).toBe(200);
    const completed = await completeUpload(server, owner.token, fewer.upload!.id);
    expect(completed.userErrors).toEqual([
      { field: ['id'], message: `The upload has 1000 bytes, not the ${png.length} declared`, code: 'INVALID' },
    ]);
    expect(await chunkRows()).toBe(chunksBefore);
  });

  it('refuses an upload URL used twice, used after it expired, or signed for another method', async () => {
    const small = png.subarray(0, 100);
    const { upload } = await createUpload(server, owner.token, {
      filename: 'x.png',
      contentType: 'image/png',
      byteSize: 100,
      purpose: 'ITEM_IMAGE',
    });
    expect((await sendBytes(server, upload!, small)).status).toBe(200);
    const reused = await sendBytes(server, upload!, small);
    expect(reused.status).toBe(410);

    const second = await createUpload(server, owner.token, {
      filename: 'y.png',
      contentType: 'image/png',
      byteSize: 100,
      purpose: 'ITEM_IMAGE',
    });
    const rowId = decodeGlobalId(second.upload!.id)!.id;
    const path = `/files/uploads/${second.upload!.id}`;
    const expired = new UrlSigner(SECRET).sign(path, { action: 'upload', method: 'PUT', id: rowId }, 60, Date.now() - 61_000);
    const late = await fetch(absolute(server, expired.url), { method: 'PUT', headers: second.upload!.headers, body: blob(small) });
    expect(late.status).toBe(403);
    expect(await late.json()).toEqual({ error: 'Upload URL expired' });
    // The PUT URL as a multipart POST: the signature names the method.
    const form = new FormData();
    form.append('file', blob(small), 'y.png');
    expect((await fetch(absolute(server, second.upload!.url), { method: 'POST', body: form })).status).toBe(403);
    // Nothing of either reached storage, and the untouched upload still works.
    expect(
      await server.app.container.db
        .select()
        .from(storageChunks)
        .where(eq(storageChunks.key, `files/${rowId}`)),
    ).toEqual([]);
    expect((await sendBytes(server, second.upload!, small)).status).toBe(200);
  });

  it("refuses another user's upload id in completeUpload, and leaves the upload to its owner", async () => {
    const { upload } = await createUpload(server, owner.token, {
      filename: 'z.png',
      contentType: 'image/png',
      byteSize: png.length,
      purpose: 'ITEM_IMAGE',
    });
    expect((await sendBytes(server, upload!, png)).status).toBe(200);
    const stolen = await completeUpload(server, other.token, upload!.id);
    expect(stolen).toEqual({ file: null, userErrors: [{ field: ['id'], message: 'Upload not found', code: 'NOT_FOUND' }] });
    expect((await completeUpload(server, owner.token, upload!.id)).file).toMatchObject({ byteSize: png.length });
  });

  it('refuses uploads past the per-user quota', async () => {
    const quotaServer = await startServer({ FILE_USER_QUOTA_BYTES: '5000' });
    try {
      const user = await createUser(quotaServer);
      await uploadFile(
        quotaServer,
        user.token,
        { filename: 'a.txt', contentType: 'text/plain', purpose: 'ATTACHMENT' },
        Buffer.alloc(4000, 'a'),
      );
      const over = await createUpload(quotaServer, user.token, {
        filename: 'b.txt',
        contentType: 'text/plain',
        byteSize: 2000,
        purpose: 'ATTACHMENT',
      });
      expect(over.userErrors).toEqual([
        { field: ['input', 'byteSize'], message: 'Storage quota of 5000 bytes exceeded', code: 'LIMIT_EXCEEDED' },
      ]);
      // Uploads in flight count toward the quota too.
      const second = await createUser(quotaServer);
      const pending = await createUpload(quotaServer, second.token, {
        filename: 'c.txt',
        contentType: 'text/plain',
        byteSize: 3000,
        purpose: 'ATTACHMENT',
      });
      expect(pending.userErrors).toEqual([]);
      const more = await createUpload(quotaServer, second.token, {
        filename: 'd.txt',
        contentType: 'text/plain',
        byteSize: 3000,
        purpose: 'ATTACHMENT',
      });
      expect(more.userErrors.map((error) => error.code)).toEqual(['LIMIT_EXCEEDED']);
    } finally {
      await quotaServer.close();
    }
  });
});

describe('other users', () => {
  it('cannot read or delete a file they may not see; staff can', async () => {
    const file = await uploadFile(server, owner.token, { filename: 'mine.png', contentType: 'image/png', purpose: 'ITEM_IMAGE' }, png);
    const query = `query($id: ID!) { node(id: $id) { ... on File { ${FILE_FIELDS} } } }`;
    const hidden = await server.gql(query, { id: file.id }, { token: other.token });
    expect(hidden.body.errors).toBeUndefined();
    expect(hidden.body.data).toEqual({ node: null });
    expect((await server.gql(query, { id: file.id }, { token: owner.token })).body.data!.node).toMatchObject({ id: file.id });
    const moderator = await createUser(server, { role: 'MODERATOR' });
    expect((await server.gql(query, { id: file.id }, { token: moderator.token })).body.data!.node).toMatchObject({ id: file.id });

    const DELETE = 'mutation($id: ID!) { deleteFile(id: $id) { deletedId userErrors { field message code } } }';
    expect((await server.gql(DELETE, { id: file.id }, { token: other.token })).body.data!.deleteFile).toEqual({
      deletedId: null,
      userErrors: [{ field: ['id'], message: 'File not found', code: 'NOT_FOUND' }],
    });
    expect((await server.gql(DELETE, { id: file.id }, { token: owner.token })).body.data!.deleteFile).toEqual({
      deletedId: file.id,
      userErrors: [],
    });
    expect((await fetch(absolute(server, file.url))).status).toBe(404);
  });

  it('needs files:write to upload', async () => {
    const reader = await createUser(server, { scopes: ['files:read'] });
    const { body } = await server.gql(
      'mutation($input: CreateUploadInput!) { createUpload(input: $input) { upload { id } } }',
      { input: { filename: 'a.png', contentType: 'image/png', byteSize: 10, purpose: 'ITEM_IMAGE' } },
      { token: reader.token },
    );
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', missingScopes: ['files:write'] });
  });
});

describe('cross-site', () => {
  it('still refuses a multipart POST to /graphql', async () => {
    const form = new FormData();
    form.append('operations', JSON.stringify({ query: 'mutation { createUpload(input: {}) { upload { id } } }' }));
    form.append('0', new Blob(['x']), 'a.png');
    const response = await fetch(server.httpUrl, { method: 'POST', body: form, headers: { authorization: `Bearer ${owner.token}` } });
    expect(response.status).toBe(415);
  });

  it('refuses a form POST or a PUT to the upload route without the signature, before storing a byte', async () => {
    const { upload } = await createUpload(server, owner.token, {
      filename: 'f.png',
      contentType: 'image/png',
      byteSize: 100,
      purpose: 'ITEM_IMAGE',
    });
    const bare = absolute(server, upload!.url.split('?')[0]!);
    const form = new FormData();
    form.append('file', blob(png.subarray(0, 100)), 'f.png');
    const forged = await fetch(bare, { method: 'POST', body: form, headers: { origin: 'https://evil.example' } });
    expect(forged.status).toBe(403);
    const put = await fetch(`${bare}?expires=9999999999&sig=${'A'.repeat(43)}`, { method: 'PUT', body: blob(png.subarray(0, 100)) });
    expect(put.status).toBe(403);
    // A browser would preflight the cross-site PUT; the preflight does not allow it.
    const preflight = await fetch(bare, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'PUT' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect((await sendBytes(server, upload!, png.subarray(0, 100))).status).toBe(200);
  });
});
