/**
 * Trusted documents (TRUSTED_DOCUMENTS): only the manifest's operations run, named by hash, on both transports; a
 * raw query or an unknown hash is refused before anything is parsed. Apollo's automatic persisted queries without a
 * manifest are in http.test.ts (that server has none).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256, TrustedDocuments } from '../../src/server/trusted-documents.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { wsFor, wsRun, type OperationResult } from './helpers.js';

const TYPENAME = 'query Typename { __typename }';
const STATUS = 'query Status { rateLimit { limit } }';

let dir: string;
let server: TestServer;
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'opshub-trusted-'));
  const manifest = path.join(dir, 'manifest.json');
  writeFileSync(manifest, JSON.stringify({ [sha256(TYPENAME)]: TYPENAME, [sha256(STATUS)]: STATUS }));
  server = await startServer({ TRUSTED_DOCUMENTS: manifest });
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Request {
  query?: string;
  documentId?: string;
  extensions?: Record<string, unknown>;
}

const apq = (hash: string) => ({ persistedQuery: { version: 1, sha256Hash: hash } });

async function run(transport: 'http' | 'ws', request: Request): Promise<OperationResult & { status?: number }> {
  if (transport === 'http') {
    const response = await fetch(server.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
    });
    return { ...((await response.json()) as OperationResult), status: response.status };
  }
  // graphql-ws requires a `query` string in every subscribe message: a hash-only client sends an empty one.
  return wsRun(wsFor(server), { ...request, query: request.query ?? '' });
}

describe.each(['http', 'ws'] as const)('trusted documents over %s', (transport) => {
  it('runs a manifest operation named by extensions.persistedQuery.sha256Hash', async () => {
    const result = await run(transport, { extensions: apq(sha256(TYPENAME)) });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ __typename: 'Query' });
  });

  it('runs a manifest operation named by documentId, with or without the sha256: prefix', async () => {
    expect((await run(transport, { documentId: sha256(STATUS) })).data).toEqual({ rateLimit: { limit: 1_000 } });
    expect((await run(transport, { documentId: `sha256:${sha256(TYPENAME)}` })).data).toEqual({ __typename: 'Query' });
  });

  it('refuses a raw query, saying only trusted documents run', async () => {
    const result = await run(transport, { query: '{ __typename }' });
    expect(result.data ?? null).toBeNull();
    expect(result.errors![0]!.message).toMatch(/^Only trusted documents are allowed/);
    expect(result.errors![0]!.extensions!.code).toBe('BAD_REQUEST');
    if (transport === 'http') expect(result.status).toBe(400);
  });

  it('refuses an unknown hash with PERSISTED_QUERY_NOT_FOUND, even with the matching query text', async () => {
    const query = '{ scopes { name } }';
    for (const request of [{ extensions: apq(sha256(query)) }, { query, extensions: apq(sha256(query)) }, { documentId: 'f'.repeat(64) }]) {
      const result = await run(transport, request);
      expect(result.data ?? null).toBeNull();
      expect(result.errors![0]!.extensions!.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    }
  });

  it('runs the manifest’s text for a known hash, whatever query text comes with it', async () => {
    const result = await run(transport, { query: '{ scopes { name } }', extensions: apq(sha256(TYPENAME)) });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ __typename: 'Query' });
  });
});

describe('trusted documents over HTTP GET', () => {
  it('runs a manifest operation named in the extensions or documentId parameter', async () => {
    const headers = { 'apollo-require-preflight': 'true' };
    const byExtensions = await fetch(`${server.httpUrl}?extensions=${encodeURIComponent(JSON.stringify(apq(sha256(TYPENAME))))}`, {
      headers,
    });
    expect(await byExtensions.json()).toMatchObject({ data: { __typename: 'Query' } });
    const byId = await fetch(`${server.httpUrl}?documentId=${sha256(TYPENAME)}`, { headers });
    expect(await byId.json()).toMatchObject({ data: { __typename: 'Query' } });
    const raw = await fetch(`${server.httpUrl}?query=${encodeURIComponent('{ __typename }')}`, { headers });
    expect(raw.status).toBe(400);
  });
});

describe('the manifest', () => {
  it('is refused at start-up when a key is not the SHA-256 of its document', () => {
    const file = path.join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ ['0'.repeat(64)]: TYPENAME }));
    expect(() => TrustedDocuments.load(file)).toThrow(/is not the SHA-256 of its document/);
  });

  it('may be an Apollo persisted-query manifest', () => {
    const file = path.join(dir, 'apollo.json');
    writeFileSync(
      file,
      JSON.stringify({
        format: 'apollo-persisted-query-manifest',
        version: 1,
        operations: [{ id: sha256(STATUS), name: 'Status', type: 'query', body: STATUS }],
      }),
    );
    expect(TrustedDocuments.load(file).get(sha256(STATUS))).toBe(STATUS);
  });
});
