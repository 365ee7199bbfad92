/**
 * Error masking and operation logs, the same on both transports (acceptance 6): an unexpected error reaches the
 * client as "Internal server error" with the request id, and the log line with that id has the whole error.
 */
import { GraphQLError } from 'graphql';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Topic } from '../../src/pubsub/topics.js';
import { collect, triggerUntilEvent } from '../helpers/subscriptions.js';
import { createUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let token: string;
beforeAll(async () => {
  server = await startServer();
  ({ token } = await createUser(server, { role: 'ADMIN' }));
});
afterAll(() => server?.close());
afterEach(() => vi.restoreAllMocks());

const SECRET = 'secret detail';
const CATALOG = 'query Catalog { items(first: 1) { totalCount } }';

function logsWith(requestId: string) {
  return server.logs.filter((line) => line.requestId === requestId);
}

function unexpectedErrorLog(requestId: string) {
  const line = logsWith(requestId).find((l) => l.msg === 'Unexpected error in a GraphQL operation');
  expect(line, `an error log line for request ${requestId}`).toBeDefined();
  return line!;
}

function operationLog(requestId: string) {
  const lines = logsWith(requestId).filter((l) => l.msg === 'graphql operation');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

/** One graphql-ws operation to completion, returning every result it produced. */
function wsOperation(query: string) {
  const client = server.wsClient({ authorization: `Bearer ${token}` });
  return new Promise<any[]>((resolve, reject) => {
    const results: any[] = [];
    client.subscribe({ query }, { next: (r) => void results.push(r), error: reject, complete: () => resolve(results) });
  });
}

describe('an unexpected resolver error', () => {
  it.each([
    ['a plain Error', () => new Error(SECRET)],
    ['a GraphQLError without a public code', () => new GraphQLError(SECRET)],
  ])('is masked over HTTP when it is %s, and logged in full with the request id', async (_what, makeError) => {
    vi.spyOn(server.app.container.services.items, 'list').mockRejectedValueOnce(makeError());
    const response = await fetch(server.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: CATALOG }),
    });
    const text = await response.text();
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('item.service');
    const body = JSON.parse(text);
    expect(body.data).toBeNull();
    expect(body.errors).toHaveLength(1);
    const [error] = body.errors;
    expect(error.message).toBe('Internal server error');
    expect(error.path).toEqual(['items']);
    expect(Object.keys(error.extensions).sort()).toEqual(['code', 'requestId']);
    expect(error.extensions.code).toBe('INTERNAL_SERVER_ERROR');
    const requestId: string = error.extensions.requestId;
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.headers.get('x-request-id')).toBe(requestId);

    const logged = unexpectedErrorLog(requestId);
    expect(logged.level).toBe(50);
    expect(logged.err.message).toBe(SECRET);
    expect(logged.err.stack).toContain(SECRET);
    expect(logged.err.stack).toMatch(/\n\s+at /);
    expect(operationLog(requestId)).toMatchObject({ operationName: 'Catalog', errorCode: 'INTERNAL_SERVER_ERROR', transport: 'http' });
  });

  it('is masked over graphql-ws and logged in full with the request id', async () => {
    vi.spyOn(server.app.container.services.items, 'list').mockRejectedValueOnce(new Error(SECRET));
    const results = await wsOperation(CATALOG);
    expect(JSON.stringify(results)).not.toContain(SECRET);
    expect(results).toHaveLength(1);
    const [error] = results[0].errors;
    expect(error.message).toBe('Internal server error');
    expect(Object.keys(error.extensions).sort()).toEqual(['code', 'requestId']);
    expect(error.extensions.code).toBe('INTERNAL_SERVER_ERROR');
    const requestId: string = error.extensions.requestId;
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);

    const logged = unexpectedErrorLog(requestId);
    expect(logged.err.message).toBe(SECRET);
    expect(logged.err.stack).toMatch(/\n\s+at /);
    expect(operationLog(requestId)).toMatchObject({ operationName: 'Catalog', errorCode: 'INTERNAL_SERVER_ERROR', transport: 'ws' });
  });

  it('is masked in a subscription event and logged with the subscription request id', async () => {
    const client = server.wsClient({ authorization: `Bearer ${token}` });
    const events = collect(client, { query: 'subscription Changes { itemChanged { id name } }' });
    // An event the resolver cannot handle: its field resolver throws a TypeError carrying internal detail. Published
    // until one arrives, since graphql-ws gives no signal that the subscription is registered.
    await triggerUntilEvent(events, async () => {
      server.app.container.pubsub.publish(Topic.ItemChanged, { change: 'CREATED', item: undefined } as never);
    });
    const [event] = events.events;
    events.dispose();
    expect(event!.data).toBeNull();
    const error = event!.errors![0]!;
    expect(error.message).toBe('Internal server error');
    expect(error.extensions).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', requestId: expect.any(String) });
    const logged = unexpectedErrorLog(error.extensions!.requestId as string);
    expect(logged.err.type).toBe('TypeError');
    expect(logged.err.stack).toMatch(/\n\s+at /);
  });
});

describe('a subscription source that fails', () => {
  it('ends the subscription with a masked error, and nothing escapes as an unhandled rejection', async () => {
    const failing: AsyncIterableIterator<never> = {
      next: () => Promise.reject(new Error(SECRET)),
      return: async () => ({ value: undefined, done: true }),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    vi.spyOn(server.app.container.services.notifications, 'received').mockResolvedValueOnce(failing as never);
    const client = server.wsClient({ authorization: `Bearer ${token}` });
    const stream = collect(client, { query: 'subscription Mine { notificationReceived { id } }' });
    await stream.done();
    expect(JSON.stringify([stream.events, stream.errors])).not.toContain(SECRET);
    expect(stream.errors).toHaveLength(1);
  });
});

describe('public errors', () => {
  it('keep their message and code, with the request id, on both transports', async () => {
    const query = 'query Big { items(first: 101) { totalCount } }';
    const http = await server.gql(query, undefined, { token });
    const [ws] = await wsOperation(query);
    for (const errors of [http.body.errors, ws.errors]) {
      expect(errors[0].message).toBe('"first" must be at most 100, got 101');
      expect(errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', requestId: expect.any(String) });
      expect(errors[0].extensions.stacktrace).toBeUndefined();
      expect(operationLog(errors[0].extensions.requestId)).toMatchObject({ operationName: 'Big', errorCode: 'BAD_USER_INPUT' });
    }
  });
});

describe('operation log lines', () => {
  it('carry requestId, operationName and durationMs on both transports, and no errorCode on success', async () => {
    const http = await fetch(server.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'client-chosen-id-1' },
      body: JSON.stringify({ query: 'query Hello { __typename }' }),
    });
    expect(http.headers.get('x-request-id')).toBe('client-chosen-id-1');
    const httpLine = operationLog('client-chosen-id-1');
    expect(httpLine).toMatchObject({ transport: 'http', operationName: 'Hello', durationMs: expect.any(Number) });
    expect(httpLine).not.toHaveProperty('errorCode');

    const before = server.logs.length;
    await wsOperation('query HelloWs { __typename }');
    const wsLine = server.logs.slice(before).find((l) => l.msg === 'graphql operation' && l.operationName === 'HelloWs');
    expect(wsLine).toMatchObject({ transport: 'ws', requestId: expect.stringMatching(/^[0-9a-f-]{36}$/), durationMs: expect.any(Number) });
    expect(wsLine).not.toHaveProperty('errorCode');
  });

  it('replace a request id that could forge log lines with a fresh one', async () => {
    const response = await fetch(server.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'bad id"\\n{"level":60}' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('carry the error code of a failed validation on both transports', async () => {
    const query = 'query Broken { noSuchField }';
    const http = await server.gql(query);
    expect(http.status).toBe(400);
    expect(operationLog(http.body.errors![0]!.extensions!.requestId)).toMatchObject({
      transport: 'http',
      operationName: 'Broken',
      errorCode: 'GRAPHQL_VALIDATION_FAILED',
    });
    const error = await wsOperation(query).catch((errors: any[]) => errors[0]);
    expect(operationLog(error.extensions.requestId)).toMatchObject({ transport: 'ws', errorCode: 'GRAPHQL_VALIDATION_FAILED' });
  });
});

describe('secrets in logs', () => {
  const TOKEN = 'Bearer leaked-token-value-0123456789';
  const PASSWORD = 'Leaked-Password-9876';

  it('never show the authorization header, connection_init token or passwords sent by clients', async () => {
    const user = await createUser(server, { role: 'USER', password: PASSWORD });
    const secrets = [PASSWORD, user.token, user.refreshToken, 'leaked-token-value'];
    const LOGIN = 'mutation Login($input: LoginInput!) { login(input: $input) { accessToken userErrors { code } } }';

    vi.spyOn(server.app.container.services.items, 'list').mockRejectedValueOnce(new Error(SECRET));
    const failed = await server.gql(CATALOG, { password: PASSWORD }, { token: user.token });
    expect(failed.body.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    expect((await server.gql('{ __typename }', undefined, { headers: { authorization: TOKEN } })).status).toBe(401);
    const wrong = await server.gql(LOGIN, { input: { login: user.username, password: `${PASSWORD}x` } });
    expect(wrong.body.data?.login.accessToken).toBeNull();
    const right = await server.gql(LOGIN, { input: { login: user.username, password: PASSWORD } });
    expect(right.body.data?.login.accessToken).toEqual(expect.any(String));
    secrets.push(right.body.data!.login.accessToken);

    const results = await new Promise<unknown[]>((resolve, reject) => {
      const seen: unknown[] = [];
      server
        .wsClient({ authorization: `Bearer ${user.token}` })
        .subscribe(
          { query: CATALOG, variables: { password: PASSWORD } },
          { next: (r) => void seen.push(r), error: reject, complete: () => resolve(seen) },
        );
    });
    expect(results).toHaveLength(1);
    const refused = await new Promise<unknown>((resolve) => {
      server
        .wsClient({ authorization: TOKEN })
        .subscribe({ query: '{ __typename }' }, { next: () => {}, error: resolve, complete: () => resolve('complete') });
    });
    expect(refused).toMatchObject({ code: 4403 });

    const text = JSON.stringify(server.logs);
    for (const secret of secrets) expect(text).not.toContain(secret);
  });

  it('redact them even where a log call includes headers or variables', () => {
    const before = server.logs.length;
    server.app.fastify.log.info(
      {
        req: { headers: { authorization: TOKEN, cookie: 'session=abc' } },
        variables: { input: { password: PASSWORD }, password: PASSWORD, refreshToken: 'refresh-xyz' },
        input: { password: PASSWORD, accessToken: 'access-xyz' },
      },
      'redaction probe',
    );
    const line = server.logs.slice(before).find((l) => l.msg === 'redaction probe')!;
    expect(JSON.stringify(line)).not.toMatch(/leaked-token-value|session=abc|Leaked-Password|refresh-xyz|access-xyz/);
    expect(line.variables).toEqual({ input: { password: '[redacted]' }, password: '[redacted]', refreshToken: '[redacted]' });
    expect(line.input).toEqual({ password: '[redacted]', accessToken: '[redacted]' });
  });
});
