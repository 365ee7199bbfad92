/**
 * HTTP protections: the CORS allow-list, CSRF prevention, the 1 MB body limit, no mutations over GET, no batching,
 * every refusal in the accepted media type with its request id, and security headers on every response, with a
 * Content-Security-Policy under which GraphiQL still works. The graphql-ws side of the same rules (the upgrade's
 * Origin check, the 1 MB frame limit) is in ws-protocol.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRAPHIQL_CSP } from '../../src/server/security.js';
import { sha256 } from '../../src/server/trusted-documents.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';

const ALLOWED_ORIGIN = 'https://app.example.com';
const CHROMIUM = '/usr/bin/chromium';

/** A USER's budget: the 429 row asks for more than this in one operation. */
const USER_BUDGET = 5;

let server: TestServer;
beforeAll(async () => {
  server = await startServer({
    CORS_ORIGINS: `${ALLOWED_ORIGIN},https://admin.example.com`,
    GRAPHIQL: 'true',
    RATE_LIMIT_USER: String(USER_BUDGET),
  });
});
afterAll(() => server?.close());

const post = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  fetch(server.httpUrl, { method: 'POST', headers, body });

async function errorsOf(response: Response) {
  return ((await response.json()) as { errors: Array<{ message: string; extensions: Record<string, unknown> }> }).errors;
}

describe('CORS', () => {
  it('answers a preflight from an allowed origin with that origin, credentials and the headers clients send', async () => {
    const response = await fetch(server.httpUrl, {
      method: 'OPTIONS',
      headers: {
        origin: ALLOWED_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,authorization',
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    expect(response.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(response.headers.get('access-control-allow-headers')).toContain('apollo-require-preflight');
    expect(response.headers.get('access-control-allow-methods')).toBe('GET, POST, OPTIONS');
  });

  it('gives an origin outside CORS_ORIGINS no CORS headers, so browsers block it', async () => {
    const preflight = await fetch(server.httpUrl, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example.net', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const response = await post('{"query":"{ __typename }"}', { 'content-type': 'application/json', origin: 'https://evil.example.net' });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('lets an allowed origin read the response and the request-id and rate-limit headers', async () => {
    const response = await post('{"query":"{ __typename }"}', { 'content-type': 'application/json', origin: ALLOWED_ORIGIN });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
    expect(response.headers.get('access-control-expose-headers')).toContain('x-request-id');
    expect(response.headers.get('access-control-expose-headers')).toContain('x-ratelimit-remaining');
    expect(response.headers.get('vary')).toContain('Origin');
  });
});

describe('CSRF prevention', () => {
  it('refuses a GET query without a preflight-forcing header', async () => {
    const response = await fetch(`${server.httpUrl}?query=${encodeURIComponent('{ __typename }')}`);
    expect(response.status).toBe(400);
    expect((await errorsOf(response))[0]!.message).toMatch(/CSRF/);
  });

  it('runs a GET query sent with apollo-require-preflight', async () => {
    const response = await fetch(`${server.httpUrl}?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { data: unknown }).data).toEqual({ __typename: 'Query' });
  });

  it('runs a GET query that carries only a bearer Authorization header (a browser preflights that cross-origin)', async () => {
    const user = await createUser(server);
    const response = await fetch(`${server.httpUrl}?query=${encodeURIComponent('{ viewer { username } }')}`, {
      headers: { authorization: `Bearer ${user.token}` },
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { data: unknown }).data).toEqual({ viewer: { username: user.username } });
  });

  it('refuses a GET with the Authorization a browser attaches by itself (cached Basic credentials) with 401', async () => {
    const response = await fetch(`${server.httpUrl}?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { authorization: `Basic ${Buffer.from('someone:secret').toString('base64')}` },
    });
    expect(response.status).toBe(401);
    const body = (await response.json()) as { data?: unknown; errors: Array<{ extensions: Record<string, unknown> }> };
    expect(body.data).toBeUndefined();
    expect(body.errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
  });

  it('refuses a POST a browser form could send (text/plain)', async () => {
    const response = await post('{"query":"{ __typename }"}', { 'content-type': 'text/plain' });
    expect(response.status).toBe(400);
    expect((await errorsOf(response))[0]!.message).toMatch(/CSRF/);
  });
});

describe('request shape', () => {
  it('refuses a body over 1 MB with 413 in the GraphQL error shape', async () => {
    const response = await post(JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(1_048_576) } }));
    expect(response.status).toBe(413);
    const [error] = await errorsOf(response);
    expect(error!.extensions).toMatchObject({ code: 'BAD_REQUEST' });
    expect(typeof error!.extensions.requestId).toBe('string');
  });

  it('refuses a mutation over GET with 405 and Allow: POST', async () => {
    const query = 'mutation { login(input: { login: "x", password: "y" }) { accessToken } }';
    const response = await fetch(`${server.httpUrl}?query=${encodeURIComponent(query)}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    expect((await errorsOf(response))[0]!.message).toMatch(/GET requests only support query operations/);
  });

  it('refuses a batch (an array of operations) with 400', async () => {
    const response = await post(JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]));
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/batching/i);
  });
});

describe('automatic persisted queries (no TRUSTED_DOCUMENTS)', () => {
  it('registers a query with its hash, then runs it from the hash alone', async () => {
    const query = 'query Persisted { __typename rateLimit { limit } }';
    const extensions = { persistedQuery: { version: 1, sha256Hash: sha256(query) } };
    const miss = await post(JSON.stringify({ extensions }));
    expect((await errorsOf(miss))[0]!.extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    const register = await post(JSON.stringify({ query, extensions }));
    expect(((await register.json()) as { data: unknown }).data).toEqual({ __typename: 'Query', rateLimit: { limit: 1_000 } });
    const hit = await post(JSON.stringify({ extensions }));
    expect(((await hit.json()) as { data: unknown }).data).toEqual({ __typename: 'Query', rateLimit: { limit: 1_000 } });
  });

  it('refuses to register a query under a hash that is not its own', async () => {
    const response = await post(
      JSON.stringify({ query: '{ __typename }', extensions: { persistedQuery: { version: 1, sha256Hash: sha256('{ viewer { id } }') } } }),
    );
    expect(response.status).toBe(400);
    expect((await errorsOf(response))[0]!.message).toBe('provided sha does not match query');
  });
});

describe('security headers', () => {
  const strict = (headers: Headers) => {
    expect(headers.get('content-security-policy')).toBe("default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    expect(headers.get('x-content-type-options')).toBe('nosniff');
    expect(headers.get('x-frame-options')).toBe('DENY');
    expect(headers.get('referrer-policy')).toBe('no-referrer');
    expect(headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
    expect(headers.get('cross-origin-opener-policy')).toBe('same-origin');
  };

  it('puts a strict policy on API responses, errors, health checks and unknown paths', async () => {
    strict((await post('{"query":"{ __typename }"}')).headers);
    strict((await post('{"query":"{ nope }"}')).headers);
    strict((await post('not json')).headers);
    strict((await fetch(`${server.url}/health`)).headers);
    strict((await fetch(`${server.url}/nowhere`)).headers);
  });

  it('gives the GraphiQL page a policy that allows only its own scripts, styles and connections', async () => {
    const response = await fetch(server.httpUrl, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toBe(GRAPHIQL_CSP);
    expect(GRAPHIQL_CSP).toContain("script-src 'self';");
    expect(GRAPHIQL_CSP).not.toContain('unsafe-eval');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it.skipIf(!existsSync(CHROMIUM))('runs GraphiQL in a browser under that policy without a violation', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
    try {
      const page = await browser.newPage();
      const violations: string[] = [];
      await page.exposeFunction('reportViolation', (text: string) => violations.push(text));
      await page.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (event) =>
          (window as unknown as { reportViolation(text: string): void }).reportViolation(`${event.violatedDirective} ${event.blockedURI}`),
        );
      });
      page.on('console', (message) => {
        if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
      });
      await page.goto(server.httpUrl);
      await page.locator('.graphiql-container').waitFor();
      const editor = page.locator('.graphiql-query-editor .CodeMirror').first();
      await editor.evaluate((element) =>
        (element as unknown as { CodeMirror: { setValue(v: string): void } }).CodeMirror.setValue('{ __typename }'),
      );
      await page.locator('.graphiql-execute-button').click();
      await expect
        .poll(() => page.locator('.graphiql-response .CodeMirror-code').first().innerText(), { timeout: 15_000 })
        .toContain('"Query"');
      expect(violations).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

describe('refusals', () => {
  const GRAPHQL_RESPONSE = 'application/graphql-response+json';
  const JSON_TYPE = 'application/json';
  const json = { 'content-type': 'application/json' };
  const get = (query: string) => `${server.httpUrl}?query=${encodeURIComponent(query)}`;
  /** Six pages of 100 items: 600, six points, more than a USER's whole budget. */
  const COSTLY = `{ ${Array.from({ length: 6 }, (_, i) => `p${i}: items(first: 100) { nodes { id } }`).join(' ')} }`;
  let spender: TestUser;
  beforeAll(async () => {
    spender = await createUser(server);
  });

  interface Row {
    kind: string;
    status: number;
    /** The request (GET when there is no body); `accept` and `x-request-id` are added. */
    request: () => { url?: string; method?: string; headers?: Record<string, string>; body?: string };
  }
  const rows: Row[] = [
    { kind: 'malformed JSON', status: 400, request: () => ({ method: 'POST', headers: json, body: '{ "not json' }) },
    { kind: 'an empty JSON body', status: 400, request: () => ({ method: 'POST', headers: json }) },
    {
      kind: 'an unsupported content type',
      status: 415,
      request: () => ({ method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<query/>' }),
    },
    {
      kind: 'a form content type',
      status: 415,
      request: () => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'query=x' }),
    },
    {
      kind: 'a GET with a content type other than JSON',
      status: 415,
      request: () => ({ url: get('{ __typename }'), headers: { 'content-type': 'application/xml', 'apollo-require-preflight': '1' } }),
    },
    {
      kind: 'CSRF prevention (a text/plain POST)',
      status: 400,
      request: () => ({ method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"query":"{ __typename }"}' }),
    },
    { kind: 'CSRF prevention (a plain GET)', status: 400, request: () => ({ url: get('{ __typename }') }) },
    { kind: 'a batch', status: 400, request: () => ({ method: 'POST', headers: json, body: '[{"query":"{ __typename }"}]' }) },
    { kind: 'a query that is not a string', status: 400, request: () => ({ method: 'POST', headers: json, body: '{"query":1}' }) },
    {
      kind: 'a mutation over GET',
      status: 405,
      request: () => ({ url: get('mutation { logoutAll }'), headers: { 'apollo-require-preflight': '1' } }),
    },
    {
      kind: 'a body over 1 MiB',
      status: 413,
      request: () => ({ method: 'POST', headers: json, body: JSON.stringify({ query: '{ __typename }', pad: 'x'.repeat(1_048_576) }) }),
    },
    {
      kind: 'a document over LIMIT_DOCUMENT_BYTES',
      status: 413,
      request: () => ({ method: 'POST', headers: json, body: JSON.stringify({ query: `{ __typename ${' '.repeat(110_000)}}` }) }),
    },
    {
      kind: 'an invalid token',
      status: 401,
      request: () => ({ method: 'POST', headers: { ...json, authorization: 'Bearer not-a-token' }, body: '{"query":"{ __typename }"}' }),
    },
    {
      kind: 'an operation over the rate-limit budget',
      status: 429,
      request: () => ({
        method: 'POST',
        headers: { ...json, authorization: `Bearer ${spender.token}` },
        body: JSON.stringify({ query: COSTLY }),
      }),
    },
    { kind: 'a validation error', status: 400, request: () => ({ method: 'POST', headers: json, body: '{"query":"{ nope }"}' }) },
    {
      kind: 'a subscription over plain HTTP',
      status: 400,
      request: () => ({ method: 'POST', headers: json, body: '{"query":"subscription { notificationReceived { id } }"}' }),
    },
  ];

  let sequence = 0;
  async function send(request: ReturnType<Row['request']>, accept: string) {
    const requestId = `refusal-${++sequence}`;
    const response = await fetch(request.url ?? server.httpUrl, {
      method: request.method ?? 'GET',
      headers: { ...request.headers, accept, 'x-request-id': requestId },
      body: request.body,
    });
    const body = (await response.json()) as { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
    return { response, body, requestId };
  }

  describe.each([GRAPHQL_RESPONSE, JSON_TYPE])('accepting %s', (accept) => {
    it.each(rows)('answers $kind with $status in that type, each error carrying the x-request-id', async ({ request, status }) => {
      const { response, body, requestId } = await send(request(), accept);
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toBe(`${accept}; charset=utf-8`);
      expect(response.headers.get('x-request-id')).toBe(requestId);
      expect(body.data).toBeUndefined();
      expect(body.errors?.length).toBeGreaterThan(0);
      for (const error of body.errors!) expect(error.extensions?.requestId).toBe(requestId);
    });
  });

  it('answers the type listed first among equals, and the one of higher quality', async () => {
    const row = rows.find((r) => r.kind === 'an invalid token')!;
    const both = await send(row.request(), `${GRAPHQL_RESPONSE}, ${JSON_TYPE}`);
    expect(both.response.headers.get('content-type')).toBe(`${GRAPHQL_RESPONSE}; charset=utf-8`);
    const weighted = await send(row.request(), `${GRAPHQL_RESPONSE};q=0.5, ${JSON_TYPE}`);
    expect(weighted.response.headers.get('content-type')).toBe(`${JSON_TYPE}; charset=utf-8`);
    const none = await send(row.request(), '');
    expect(none.response.headers.get('content-type')).toBe(`${JSON_TYPE}; charset=utf-8`);
  });

  it('refuses a request that accepts no GraphQL response type with 406 before running it', async () => {
    const username = `u_${randomBytes(6).toString('hex')}`;
    const register = {
      method: 'POST',
      headers: json,
      body: JSON.stringify({
        query: 'mutation R($input: RegisterInput!) { register(input: $input) { user { username } userErrors { message } } }',
        variables: { input: { username, email: `m${randomBytes(6).toString('hex')}@example.com`, password: 'Corr3ct-Horse' } },
      }),
    };
    const refused = await send(register, 'text/xml');
    expect(refused.response.status).toBe(406);
    expect(refused.response.headers.get('content-type')).toBe(`${JSON_TYPE}; charset=utf-8`);
    expect(refused.body.errors?.[0]?.extensions?.requestId).toBe(refused.requestId);
    // Nothing ran: the same registration still succeeds.
    const accepted = await send(register, JSON_TYPE);
    expect(accepted.body).toMatchObject({ data: { register: { user: { username }, userErrors: [] } } });
  });
});
