/**
 * Log hygiene: a realistic session — registrations (one refused by the database itself, one racing another for the
 * same e-mail), logins right and wrong, refreshes with good, reused and bogus tokens, forged bearer tokens, a
 * credential in a URL — and not one log line, at any level, holds a password, a password hash, a token or the value
 * of a SQL parameter. The statement text of a failed query is still there for whoever debugs it.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggerOptions } from '../../src/log.js';
import { startServer, type TestServer } from '../helpers/server.js';

const REGISTER = /* GraphQL */ `
  mutation Register($input: RegisterInput!) {
    register(input: $input) {
      accessToken
      refreshToken
      userErrors { field message code }
    }
  }
`;
const LOGIN = /* GraphQL */ `
  mutation Login($input: LoginInput!) {
    login(input: $input) {
      accessToken
      refreshToken
      userErrors { field message code }
    }
  }
`;
const REFRESH = /* GraphQL */ `
  mutation Refresh($refreshToken: String!) {
    refreshSession(refreshToken: $refreshToken) {
      accessToken
      refreshToken
      userErrors { field message code }
    }
  }
`;
const VIEWER = '{ viewer { id } }';

/** What src/auth/passwords.ts stores (`scrypt$N$r$p$salt$hash`), and the other common hash formats besides. */
const PASSWORD_HASH = /scrypt\$|\$argon2|\$2[aby]\$/;
/** A constraint the test adds so that the database itself refuses one registration. */
const REFUSED_USERNAME = 'log_scan_refused';

const tag = () => randomBytes(4).toString('hex');

let server: TestServer;
/** Every string that must never appear in a log line. */
const secrets: string[] = [];
const secret = <T extends string | null | undefined>(value: T): T => {
  if (value) secrets.push(value);
  return value;
};

/** Every line the server logged, as written. */
const lines = () => server.logs.map((line) => JSON.stringify(line));

async function register(input: { username: string; email: string; password: string; fullName?: string }) {
  // Every value of the INSERT is a SQL parameter.
  for (const value of Object.values(input)) secret(value);
  const { body } = await server.gql(REGISTER, { input });
  const payload = body.data?.register;
  secret(payload?.accessToken);
  secret(payload?.refreshToken);
  return { body, payload };
}

beforeAll(async () => {
  server = await startServer({ LOG_LEVEL: 'trace' });

  const username = `scan_${tag()}`;
  const email = `scan.${tag()}@example.com`;
  const password = `Scan-${tag()}-Pw1`;
  const first = await register({ username, email, password });
  expect(first.payload.userErrors).toEqual([]);

  // The same e-mail again, and two registrations racing for one new e-mail (the database's unique index decides).
  const again = await register({ username: `scan_${tag()}`, email, password: `Again-${tag()}-Pw1` });
  expect(again.payload.userErrors).toMatchObject([{ field: ['input', 'email'], code: 'TAKEN' }]);
  const contested = `race.${tag()}@example.com`;
  const race = await Promise.all([1, 2].map(() => register({ username: `race_${tag()}`, email: contested, password: `Race-${tag()}-Pw1` })));
  expect(race.filter(({ payload }) => payload.userErrors.length === 0)).toHaveLength(1);

  // Validation failures: a weak password, a malformed e-mail.
  const weak = await register({ username: `weak_${tag()}`, email: `weak.${tag()}@example.com`, password: `weak${tag()}` });
  expect(weak.payload.userErrors.length).toBeGreaterThan(0);
  await register({ username: `mail_${tag()}`, email: `not-an-email-${tag()}`, password: `Mail-${tag()}-Pw1` });

  // A registration the database refuses (a check constraint Drizzle's error reports with every parameter).
  await server.app.container.db.execute(
    sql.raw(`alter table users add constraint log_scan_refuses check (username <> '${REFUSED_USERNAME}')`),
  );
  const refused = await register({
    username: REFUSED_USERNAME,
    email: `refused.${tag()}@example.com`,
    password: `Refused-${tag()}-Pw1`,
    fullName: `Sentinel ${tag()}`,
  });
  expect(refused.body.errors).toMatchObject([{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }]);
  await server.app.container.db.execute(sql.raw('alter table users drop constraint log_scan_refuses'));

  // Logins: right, wrong, unknown.
  const login = await server.gql(LOGIN, { input: { login: username, password } });
  const session = login.body.data?.login;
  expect(session.accessToken).toEqual(expect.any(String));
  secret(session.accessToken);
  secret(session.refreshToken);
  await server.gql(LOGIN, { input: { login: username, password: secret(`Wrong-${tag()}-Pw1`) } });
  await server.gql(LOGIN, { input: { login: `nobody_${tag()}`, password: secret(`Nobody-${tag()}-Pw1`) } });

  // Refreshes: good, the same token again (a reuse, which revokes the session), bogus.
  const refreshed = await server.gql(REFRESH, { refreshToken: session.refreshToken });
  expect(refreshed.body.data?.refreshSession.accessToken).toEqual(expect.any(String));
  secret(refreshed.body.data?.refreshSession.accessToken);
  secret(refreshed.body.data?.refreshSession.refreshToken);
  const reused = await server.gql(REFRESH, { refreshToken: session.refreshToken });
  expect(reused.body.data?.refreshSession.userErrors).not.toEqual([]);
  await server.gql(REFRESH, { refreshToken: secret(`bogus-${tag()}${tag()}`) });

  // Bearer tokens: a valid one, a forged one, a revoked session's, garbage.
  await server.gql(VIEWER, {}, { token: first.payload.accessToken });
  const forged = secret(`${session.accessToken.split('.').slice(0, 2).join('.')}.${randomBytes(32).toString('base64url')}`);
  expect((await server.gql(VIEWER, {}, { token: forged })).status).toBe(401);
  await server.gql(VIEWER, {}, { token: session.accessToken });
  await server.gql(VIEWER, {}, { token: secret(`garbage-${tag()}`) });

  // Credentials in a URL: a mutation over GET (refused with 405) and a query's variables.
  const inUrl = secret(`InUrl-${tag()}-Pw1`);
  const mutation = `mutation { login(input: { login: "${username}", password: "${inUrl}" }) { accessToken } }`;
  await fetch(`${server.httpUrl}?query=${encodeURIComponent(mutation)}`, { headers: { 'apollo-require-preflight': 'true' } });
  const variables = JSON.stringify({ token: secret(`UrlToken-${tag()}`) });
  await fetch(
    `${server.httpUrl}?query=${encodeURIComponent('query Q($token: String) { __typename }')}&variables=${encodeURIComponent(variables)}`,
    {
      headers: { 'apollo-require-preflight': 'true' },
    },
  );
});
afterAll(() => server?.close());

describe('the log of a realistic session', () => {
  it('was written at every level, HTTP requests and the refused registration included', () => {
    expect(server.logs.some((line) => line.msg === 'incoming request')).toBe(true);
    expect(server.logs.filter((line) => line.msg === 'graphql operation').length).toBeGreaterThan(15);
    expect(secrets.length).toBeGreaterThan(20);
  });

  it('holds no password, token or SQL parameter value', () => {
    const leaks = lines().flatMap((line) => secrets.filter((value) => line.includes(value)).map((value) => ({ value, line })));
    expect(leaks).toEqual([]);
  });

  it('holds no password hash', () => {
    expect(lines().filter((line) => PASSWORD_HASH.test(line))).toEqual([]);
  });

  it('keeps the failed statement text, without its parameters or the row PostgreSQL quotes', () => {
    const failed = server.logs.filter((line) => line.msg === 'Unexpected error in a GraphQL operation');
    expect(failed).toHaveLength(1);
    const { err } = failed[0]!;
    expect(err.message).toMatch(/^Failed query: insert into "users"/);
    expect(err.message).toContain('log_scan_refuses');
    expect(err.message).not.toMatch(/params:/);
    expect(err.stack).toMatch(/\n\s+at /);
    for (const field of ['params', 'parameters', 'detail', 'queryOptions']) expect(err).not.toHaveProperty(field);
  });

  it('names the query parameters of a URL without their values', () => {
    const urls = server.logs.filter((line) => line.msg === 'incoming request' && line.req.method === 'GET').map((line) => line.req.url);
    expect(urls).toEqual(['/graphql?query', '/graphql?query&variables']);
  });
});

describe('the logger', () => {
  it('censors credentials under their usual names at any depth, in objects, arrays, errors and child bindings', () => {
    const written: string[] = [];
    const log = pino(loggerOptions('info'), { write: (line: string) => void written.push(line) });
    const error = Object.assign(new Error('boom'), { config: { headers: { Authorization: 'Bearer leak-e' } } });
    log.info(
      {
        password: 'leak-p0',
        variables: { input: { password: 'leak-p1', PasswordHash: 'leak-h1', sessions: [{ refreshToken: 'leak-r1', token: 'leak-t1' }] } },
        a: { b: { c: { d: { e: { accessToken: 'leak-a1', cookie: 'leak-c1', secret: 'leak-s1', params: ['leak-v1'] } } } } },
      },
      'nested',
    );
    log.error({ err: error }, 'failed');
    log.child({ token: 'leak-t2' }).info('child');
    const [nested, failed, child] = written.map((line) => JSON.parse(line));
    expect(nested).toMatchObject({
      password: '[redacted]',
      variables: {
        input: { password: '[redacted]', PasswordHash: '[redacted]', sessions: [{ refreshToken: '[redacted]', token: '[redacted]' }] },
      },
      a: { b: { c: { d: { e: { accessToken: '[redacted]', cookie: '[redacted]', secret: '[redacted]', params: '[redacted]' } } } } },
    });
    expect(failed.err).toMatchObject({ message: 'boom', config: { headers: { Authorization: '[redacted]' } } });
    expect(child.token).toBe('[redacted]');
    expect(written.join('')).not.toContain('leak-');
  });
});
