/**
 * One admission table, run over all three transports (HTTP, graphql-ws, GraphQL over SSE): every case goes through
 * the operation core's steps and comes back with the same code and message on each, having run nothing. The
 * transports differ only in framing: HTTP and SSE answer with a status, graphql-ws with an `error` message (and
 * closes the socket with 4403 where HTTP says 401).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CloseReason } from '../../src/realtime/live-sessions.js';
import { sha256 } from '../../src/server/trusted-documents.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { sseRun } from '../helpers/sse.js';
import { ackedSocket, costly, deepQuery, rawSocket, repeat, wsFor, wsRun, type OperationResult } from './helpers.js';

const TRANSPORTS = ['http', 'ws', 'sse'] as const;
type Transport = (typeof TRANSPORTS)[number];

const USER_BUDGET = 6;
const CATALOG = 'query Catalog { items(first: 1) { totalCount } }';
const TYPENAME = 'query Typename { __typename }';

let server: TestServer;
let trustedServer: TestServer;
let dir: string;
let admin: TestUser;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'opshub-admission-'));
  const manifest = path.join(dir, 'manifest.json');
  writeFileSync(manifest, JSON.stringify({ [sha256(TYPENAME)]: TYPENAME }));
  [server, trustedServer] = await Promise.all([
    startServer({ RATE_LIMIT_USER: String(USER_BUDGET) }),
    startServer({ TRUSTED_DOCUMENTS: manifest }),
  ]);
  admin = await createUser(server, { role: 'ADMIN' });
});
afterAll(async () => {
  await Promise.all([server?.close(), trustedServer?.close()]);
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => vi.restoreAllMocks());

interface Request {
  query?: string;
  variables?: Record<string, unknown>;
  extensions?: Record<string, unknown>;
}

interface Outcome extends OperationResult {
  /** HTTP status (HTTP and SSE). */
  status?: number;
}

async function run(on: TestServer, transport: Transport, request: Request, token?: string): Promise<Outcome> {
  if (transport === 'http') {
    const response = await fetch(on.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(request),
    });
    return { ...((await response.json()) as OperationResult), status: response.status };
  }
  if (transport === 'sse') {
    const outcome = await sseRun(on, request, token);
    return { ...outcome.results[0], status: outcome.status };
  }
  return wsRun(wsFor(on, token), { ...request, query: request.query ?? '' });
}

interface Case {
  name: string;
  query: string;
  code: string;
  message: RegExp;
  status: number;
  limit?: string;
}

const limitCases: Case[] = [
  { name: 'a query 13 levels deep', query: deepQuery(13), code: 'GRAPHQL_VALIDATION_FAILED', limit: 'depth', message: /depth/i, status: 400 },
  {
    name: 'a query with 31 aliases',
    query: `{ ${repeat(31, (i) => `a${i}: __typename`)} }`,
    code: 'GRAPHQL_VALIDATION_FAILED',
    limit: 'aliases',
    message: /aliases/i,
    status: 400,
  },
  {
    name: 'a document of more than 5,000 tokens',
    query: `{ ${repeat(5_000, () => '__typename')} }`,
    code: 'GRAPHQL_VALIDATION_FAILED',
    limit: 'tokens',
    message: /^Token limit of 5000 exceeded/,
    status: 400,
  },
  {
    name: 'a query costing more than 50,000',
    query: costly(3),
    code: 'GRAPHQL_VALIDATION_FAILED',
    limit: 'cost',
    message: /^Query cost limit of 50000 exceeded, found 50100/,
    status: 400,
  },
];

describe.each(TRANSPORTS)('admission over %s', (transport) => {
  it.each(limitCases)('refuses $name with the same code, message and limit', async ({ query, code, limit, message, status }) => {
    const list = vi.spyOn(server.app.container.services.posts, 'list');
    const result = await run(server, transport, { query }, admin.token);
    expect(list).not.toHaveBeenCalled();
    expect(result.data ?? null).toBeNull();
    const error = result.errors?.[0];
    expect(error?.message).toMatch(message);
    expect(error?.extensions).toMatchObject({ code, limit, requestId: expect.any(String) });
    if (transport !== 'ws') expect(result.status).toBe(status);
  });

  it('refuses a raw query in trusted mode and an unknown hash, and runs a manifest operation by hash', async () => {
    const raw = await run(trustedServer, transport, { query: '{ __typename }' });
    expect(raw.errors?.[0]).toMatchObject({ message: /^Only trusted documents are allowed/, extensions: { code: 'BAD_REQUEST' } });
    const unknown = await run(trustedServer, transport, {
      extensions: { persistedQuery: { version: 1, sha256Hash: sha256('{ viewer { id } }') } },
    });
    expect(unknown.errors?.[0]).toMatchObject({ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } });
    if (transport !== 'ws') expect([raw.status, unknown.status]).toEqual([400, 400]);
    const known = await run(trustedServer, transport, { extensions: { persistedQuery: { version: 1, sha256Hash: sha256(TYPENAME) } } });
    expect(known).toMatchObject({ data: { __typename: 'Query' } });
    expect(known.errors).toBeUndefined();
  });

  it('refuses a session revoked after sign-in with UNAUTHENTICATED and runs nothing', async () => {
    const user = await createUser(server);
    if (transport === 'ws') {
      // graphql-ws authenticates at connection_init; a socket open when its session ends is closed at once
      // (test/realtime/live-sessions.test.ts), and a new one with the revoked token is refused at connection_init.
      const open = await ackedSocket(server, { authorization: `Bearer ${user.token}` });
      await server.app.container.services.auth.logout(user.refreshToken);
      expect(await open.closed).toEqual({ code: 4403, reason: CloseReason.LOGGED_OUT });
      const list = vi.spyOn(server.app.container.services.items, 'list');
      await expect(run(server, transport, { query: CATALOG }, user.token)).rejects.toThrow('socket closed: 4403');
      expect(list).not.toHaveBeenCalled();
      return;
    }
    await server.app.container.services.auth.logout(user.refreshToken);
    const list = vi.spyOn(server.app.container.services.items, 'list');
    const result = await run(server, transport, { query: CATALOG }, user.token);
    expect(list).not.toHaveBeenCalled();
    expect(result.data ?? null).toBeNull();
    expect(result.errors).toEqual([
      { message: 'Could not validate credentials', extensions: { code: 'UNAUTHENTICATED', requestId: expect.any(String) } },
    ]);
    expect(result.status).toBe(401);
  });

  it('refuses an over-budget caller with RATE_LIMITED and the budget it has left', async () => {
    const user = await createUser(server);
    for (let spent = 0; spent < USER_BUDGET; spent++)
      expect((await run(server, 'http', { query: CATALOG }, user.token)).errors).toBeUndefined();
    const list = vi.spyOn(server.app.container.services.items, 'list');
    const result = await run(server, transport, { query: CATALOG }, user.token);
    expect(list).not.toHaveBeenCalled();
    expect(result.data ?? null).toBeNull();
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]!.message).toMatch(/^Rate limit exceeded: this operation costs 1 point and 0 of 6 remain until /);
    expect(result.errors![0]!.extensions).toMatchObject({
      code: 'RATE_LIMITED',
      limit: USER_BUDGET,
      remaining: 0,
      cost: 1,
      retryAfter: expect.any(Number),
    });
    if (transport !== 'ws') expect(result.status).toBe(429);
  });

  it('answers a field that needs sign-in, asked anonymously, with UNAUTHENTICATED (HTTP 401 with a challenge)', async () => {
    const result = await run(server, transport, { query: 'query Mine { orders(first: 1) { totalCount } }' });
    expect(result.data ?? null).toBeNull();
    expect(result.errors).toEqual([
      {
        message: 'Authentication required',
        locations: [{ line: 1, column: 14 }],
        path: ['orders'],
        extensions: { code: 'UNAUTHENTICATED', requestId: expect.any(String) },
      },
    ]);
    if (transport === 'http') expect(result.status).toBe(401);
  });

  it('masks an unexpected resolver error as "Internal server error" with the request id, and logs it in full', async () => {
    vi.spyOn(server.app.container.services.items, 'list').mockRejectedValueOnce(new Error('secret detail'));
    const result = await run(server, transport, { query: CATALOG }, admin.token);
    expect(result.data).toBeNull();
    expect(result.errors).toEqual([
      {
        message: 'Internal server error',
        locations: [{ line: 1, column: 17 }],
        path: ['items'],
        extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: expect.any(String) },
      },
    ]);
    expect(JSON.stringify(result)).not.toContain('secret detail');
    const requestId = result.errors![0]!.extensions!.requestId as string;
    const logged = server.logs.find((line) => line.requestId === requestId && line.msg === 'Unexpected error in a GraphQL operation');
    expect(logged?.err?.message).toBe('secret detail');
    if (transport !== 'ws') expect(result.status).toBe(200);
  });
});

describe('a forged token', () => {
  // A well-formed HS256 JWT signed with another key.
  const forged = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4Iiwic2NvcGUiOiJhZG1pbjp3cml0ZSJ9.c2lnbmVkLXdpdGgtYW5vdGhlci1rZXk';

  it.each(['http', 'sse'] as const)('is refused over %s with 401 UNAUTHENTICATED and a WWW-Authenticate challenge', async (transport) => {
    const result = await run(server, transport, { query: TYPENAME }, forged);
    expect(result.status).toBe(401);
    expect(result.errors).toEqual([
      { message: 'Could not validate credentials', extensions: { code: 'UNAUTHENTICATED', requestId: expect.any(String) } },
    ]);
  });

  it('closes a graphql-ws connection with 4403 at connection_init', async () => {
    const raw = rawSocket(server);
    await raw.opened;
    raw.send({ type: 'connection_init', payload: { authorization: `Bearer ${forged}` } });
    expect((await raw.closed).code).toBe(4403);
  });
});
