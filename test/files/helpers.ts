/** The staged upload flow as a client runs it: createUpload, send the bytes to the signed URL, completeUpload. */
import { createHash, randomBytes } from 'node:crypto';
import sharp from 'sharp';
import type { TestServer } from '../helpers/server.js';

export const FILE_FIELDS = /* GraphQL */ `
  id filename displayName purpose contentType byteSize sha256 width height url thumbnailUrl createdAt uploadedBy { id }
`;

export const CREATE_UPLOAD = /* GraphQL */ `
  mutation CreateUpload($input: CreateUploadInput!) {
    createUpload(input: $input) {
      upload { id url method headers expiresAt }
      userErrors { field message code }
    }
  }
`;

export const COMPLETE_UPLOAD = /* GraphQL */ `
  mutation CompleteUpload($id: ID!) {
    completeUpload(id: $id) {
      file { ${FILE_FIELDS} }
      userErrors { field message code }
    }
  }
`;

export interface Declared {
  filename: string;
  contentType: string;
  byteSize: number;
  purpose: 'AVATAR' | 'ITEM_IMAGE' | 'ATTACHMENT';
  method?: 'PUT' | 'POST';
}

export interface StagedUpload {
  id: string;
  url: string;
  method: 'PUT' | 'POST';
  headers: Record<string, string>;
  expiresAt: string;
}

/** An absolute URL: relative ones are on the test server. */
export const absolute = (server: TestServer, url: string) => (url.startsWith('/') ? `${server.url}${url}` : url);

export async function createUpload(server: TestServer, token: string, input: Declared) {
  const { body } = await server.gql(CREATE_UPLOAD, { input }, { token });
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data!.createUpload as { upload: StagedUpload | null; userErrors: Array<{ field: string[]; message: string; code: string }> };
}

/** Sends bytes to a staged upload's URL the way its `method` says. */
export async function sendBytes(server: TestServer, upload: StagedUpload, bytes: Uint8Array, filename = 'upload.bin'): Promise<Response> {
  const target = absolute(server, upload.url);
  if (upload.method === 'PUT') {
    return fetch(target, { method: 'PUT', headers: upload.headers, body: blob(bytes) });
  }
  const form = new FormData();
  form.append('file', blob(bytes), filename);
  return fetch(target, { method: 'POST', headers: upload.headers, body: form });
}

export async function completeUpload(server: TestServer, token: string, id: string) {
  const { body } = await server.gql(COMPLETE_UPLOAD, { id }, { token });
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data!.completeUpload as {
    file: Record<string, any> | null;
    userErrors: Array<{ field: string[]; message: string; code: string }>;
  };
}

/** The whole flow; throws unless every step succeeds. */
export async function uploadFile(server: TestServer, token: string, declared: Omit<Declared, 'byteSize'>, bytes: Uint8Array) {
  const created = await createUpload(server, token, { ...declared, byteSize: bytes.length });
  if (!created.upload) throw new Error(JSON.stringify(created.userErrors));
  const sent = await sendBytes(server, created.upload, bytes, declared.filename);
  if (sent.status !== 200) throw new Error(`upload answered ${sent.status}: ${await sent.text()}`);
  const completed = await completeUpload(server, token, created.upload.id);
  if (!completed.file) throw new Error(JSON.stringify(completed.userErrors));
  return completed.file;
}

/** A PNG of random pixels: noise does not compress, so `width × height × 3` is about its size (1000 × 1000 ≈ 3 MB). */
export async function noisePng(width: number, height: number): Promise<Buffer> {
  return sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toBuffer();
}

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Bytes as a fetch body or form part. */
export const blob = (bytes: Uint8Array) => new Blob([new Uint8Array(bytes)]);
