/**
 * The authentication caches never outlive what they cache. Verified access tokens are remembered until `exp`, and the
 * per-request user + session check for AUTH_CACHE_TTL_MS (set long here, 10 s, so that a missed invalidation would
 * show): a deactivated user, a revoked session, a demoted role and a logout are refused (or narrowed) on the very
 * next request and the next subscription, on the process that made the change and, over Redis, on the other one of
 * a pair (PostgreSQL + Redis, two spawned processes; skipped without DATABASE_URL). A forged, altered or expired
 * token is refused even after the genuine one was cached.
 */
import { randomUUID } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidTokenError, TokenService } from '../../src/auth/tokens.js';
import { loadConfig } from '../../src/config.js';
import { CloseReason } from '../../src/realtime/live-sessions.js';
import { createTestDatabase } from '../helpers/database.js';
import { startServer, TEST_JWT_SECRET, type TestServer } from '../helpers/server.js';
import { gql, spawnServer, stopAll } from '../helpers/spawn.js';
import { ackedSocket, closedWithin, rawSocket, type RawSocket } from '../security/helpers.js';

const onPostgres = Boolean(process.env.DATABASE_URL);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PASSWORD = 'Cach3-Passw0rd';
const LONG_CACHE = { AUTH_CACHE_TTL_MS: '10000' };

const VIEWER = '{ viewer { id } }';
const USERS = '{ users(first: 1) { totalCount } }';
const SET_ROLE = 'mutation($input: SetUserRoleInput!) { setUserRole(input: $input) { user { role } userErrors { message } } }';
const SET_ACTIVE = 'mutation($input: SetUserActiveInput!) { setUserActive(input: $input) { userErrors { message } } }';

const sockets: RawSocket[] = [];
afterAll(() => {
  for (const { socket } of sockets) socket.terminate();
});

/** A process under test, by its GraphQL URL. */
type Url = string;
const wsOf = (url: Url) => ({ wsUrl: url.replace(/^http/, 'ws') }) as TestServer;

let counter = 0;
async function signedInUser(urls: Url[], adminToken: string, role: 'USER' | 'MODERATOR' = 'USER') {
  const username = `cache_${process.pid}_${++counter}`;
  const registered = await gql(
    urls[0]!,
    'mutation($input: RegisterInput!) { register(input: $input) { user { id } userErrors { message } } }',
    {
      input: { username, email: `cache${process.pid}n${counter}@example.com`, password: PASSWORD },
    },
  );
  const id = registered.body.data?.register.user?.id as string;
  if (!id) throw new Error(`register failed: ${JSON.stringify(registered.body)}`);
  if (role !== 'USER') await gql(urls[0]!, SET_ROLE, { input: { userId: id, role } }, adminToken);
  const { body } = await gql(urls[0]!, 'mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken } }', {
    input: { login: username, password: PASSWORD },
  });
  return { id, ...(body.data.login as { accessToken: string; refreshToken: string }) };
}

async function expectSignedIn(url: Url, token: string) {
  const { status, body } = await gql(url, VIEWER, {}, token);
  expect({ status, errors: body.errors }).toEqual({ status: 200, errors: undefined });
}

async function expectRefused(url: Url, token: string) {
  const { status, body } = await gql(url, VIEWER, {}, token);
  expect({ status, code: body.errors?.[0]?.extensions?.code }).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
}

/** A signed-in socket subscribed to `itemChanged`, to watch the revocation reach its process. */
async function subscribed(url: Url, token: string): Promise<RawSocket> {
  const raw = await ackedSocket(wsOf(url), { authorization: `Bearer ${token}` });
  sockets.push(raw);
  raw.send({ id: '1', type: 'subscribe', payload: { query: 'subscription { itemChanged { id } }' } });
  return raw;
}

/** What a new socket with `token` gets: closed (4403) at `connection_init`, or the first answer to `query`. */
async function nextSubscription(url: Url, token: string, query: string): Promise<Record<string, any>> {
  const raw = rawSocket(wsOf(url));
  sockets.push(raw);
  await raw.opened;
  raw.send({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
  const first = await Promise.race([raw.next(30_000), raw.closed]);
  if ('code' in first) return { code: first.code };
  expect(first.type).toBe('connection_ack');
  raw.send({ id: '1', type: 'subscribe', payload: { query } });
  const answer = await Promise.race([raw.next(30_000), raw.closed]);
  raw.socket.close();
  return 'code' in answer ? { code: answer.code } : answer;
}

/**
 * The change is made through `urls[0]`. That process must refuse the next request at once (it invalidated before
 * its mutation returned); every other process once the revocation reached it, which its socket closing shows.
 */
async function afterRevocation(urls: Url[], sockets: RawSocket[], reason: string, check: (url: Url) => Promise<void>) {
  await check(urls[0]!);
  for (const [index, url] of urls.entries()) {
    expect(await closedWithin(sockets[index]!, 30_000)).toEqual({ code: 4403, reason });
    await check(url);
  }
}

/** The four revocations, run against one process or a pair. */
function revocationSuite(setup: () => { urls: Url[]; adminToken: string }) {
  it('a deactivated user is refused on the next request and the next subscription', async () => {
    const { urls, adminToken } = setup();
    const user = await signedInUser(urls, adminToken);
    for (const url of urls) await expectSignedIn(url, user.accessToken);
    const open = await Promise.all(urls.map((url) => subscribed(url, user.accessToken)));
    await gql(urls[0]!, SET_ACTIVE, { input: { userId: user.id, isActive: false } }, adminToken);
    await afterRevocation(urls, open, CloseReason.DEACTIVATED, async (url) => {
      await expectRefused(url, user.accessToken);
      expect(await nextSubscription(url, user.accessToken, 'subscription { itemChanged { id } }')).toEqual({ code: 4403 });
    });
  });

  it('a revoked session is refused on the next request and the next subscription', async () => {
    const { urls, adminToken } = setup();
    const user = await signedInUser(urls, adminToken);
    for (const url of urls) await expectSignedIn(url, user.accessToken);
    const { body } = await gql(urls[0]!, '{ sessions { id current } }', {}, user.accessToken);
    const id = (body.data.sessions as Array<{ id: string; current: boolean }>).find((session) => session.current)!.id;
    const open = await Promise.all(urls.map((url) => subscribed(url, user.accessToken)));
    const revoked = await gql(urls[0]!, 'mutation($id: ID!) { revokeSession(id: $id) { revokedSessions } }', { id }, adminToken);
    expect(revoked.body.data.revokeSession.revokedSessions).toBe(1);
    await afterRevocation(urls, open, CloseReason.SESSION_REVOKED, async (url) => {
      await expectRefused(url, user.accessToken);
      expect(await nextSubscription(url, user.accessToken, 'subscription { itemChanged { id } }')).toEqual({ code: 4403 });
    });
  });

  it('a demoted user keeps only the new role’s scopes on the next request and the next subscription', async () => {
    const { urls, adminToken } = setup();
    const user = await signedInUser(urls, adminToken, 'MODERATOR');
    for (const url of urls) {
      const { body } = await gql(url, USERS, {}, user.accessToken);
      expect(body.errors).toBeUndefined();
    }
    const open = await Promise.all(urls.map((url) => subscribed(url, user.accessToken)));
    const { body } = await gql(urls[0]!, SET_ROLE, { input: { userId: user.id, role: 'USER' } }, adminToken);
    expect(body.data.setUserRole.user.role).toBe('USER');
    await afterRevocation(urls, open, CloseReason.ROLE_CHANGED, async (url) => {
      const { body: users } = await gql(url, USERS, {}, user.accessToken);
      expect(users.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      // orders:read is staff-only: the same token may no longer watch orders being placed.
      const answer = await nextSubscription(url, user.accessToken, 'subscription { orderPlaced { id } }');
      const errors = answer.type === 'error' ? answer.payload : answer.payload?.errors;
      expect({ type: answer.type, code: errors?.[0]?.extensions?.code, data: answer.payload?.data ?? null }).toMatchObject({
        code: 'FORBIDDEN',
        data: null,
      });
    });
  });

  it('after logout the access token is refused on the next request and the next subscription', async () => {
    const { urls, adminToken } = setup();
    const user = await signedInUser(urls, adminToken);
    for (const url of urls) await expectSignedIn(url, user.accessToken);
    const open = await Promise.all(urls.map((url) => subscribed(url, user.accessToken)));
    const { body } = await gql(urls[0]!, 'mutation($t: String!) { logout(refreshToken: $t) }', { t: user.refreshToken }, user.accessToken);
    expect(body.errors).toBeUndefined();
    await afterRevocation(urls, open, CloseReason.LOGGED_OUT, async (url) => {
      await expectRefused(url, user.accessToken);
      expect(await nextSubscription(url, user.accessToken, 'subscription { itemChanged { id } }')).toEqual({ code: 4403 });
    });
  });
}

describe('one process', () => {
  let server: TestServer;
  let adminToken: string;
  beforeAll(async () => {
    server = await startServer(LONG_CACHE);
    await server.app.container.services.users.create({
      username: 'cache_admin',
      email: 'cache-admin@example.com',
      password: PASSWORD,
      role: 'ADMIN',
    });
    const { body } = await server.gql('mutation($input: LoginInput!) { login(input: $input) { accessToken } }', {
      input: { login: 'cache_admin', password: PASSWORD },
    });
    adminToken = body.data!.login.accessToken as string;
  });
  afterAll(() => server?.close());

  revocationSuite(() => ({ urls: [server.httpUrl], adminToken }));

  describe('a token other than the cached one is verified in full', () => {
    const sign = (claims: JWTPayload, header: Record<string, unknown>, secret = TEST_JWT_SECRET) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256', ...header }).sign(new TextEncoder().encode(secret));

    it('forged, altered or re-signed tokens are refused after the genuine token was cached', async () => {
      const user = await signedInUser([server.httpUrl], adminToken);
      const other = await signedInUser([server.httpUrl], adminToken);
      await expectSignedIn(server.httpUrl, user.accessToken);
      const [head, payload, signature] = user.accessToken.split('.') as [string, string, string];
      const claims = decodeJwt(user.accessToken);
      const header = decodeProtectedHeader(user.accessToken);
      const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const flipped = signature.slice(0, -2) + (signature.at(-2) === 'A' ? 'B' : 'A') + signature.at(-1);
      const forged = [
        // Another user's identity under the genuine signature.
        `${head}.${b64({ ...claims, sub: decodeJwt(other.accessToken).sub })}.${signature}`,
        // More scopes under the genuine signature.
        `${head}.${b64({ ...claims, scope: 'admin:read admin:write' })}.${signature}`,
        // The genuine payload with a damaged signature.
        `${head}.${payload}.${flipped}`,
        // `alg: none`.
        `${b64({ ...header, alg: 'none' })}.${payload}.`,
        // Re-signed with another secret.
        await sign({ ...claims }, { kid: header.kid, typ: header.typ }, 'another-secret-that-is-at-least-32-bytes!'),
      ];
      for (const token of forged) await expectRefused(server.httpUrl, token);
      // The genuine token still works: nothing above replaced it in the cache.
      await expectSignedIn(server.httpUrl, user.accessToken);
    });

    it('a cached token is refused once it expires', async () => {
      const user = await signedInUser([server.httpUrl], adminToken);
      const claims = decodeJwt(user.accessToken);
      const header = decodeProtectedHeader(user.accessToken);
      // The same claims, valid for one more second (the server allows 5 s of clock skew on top).
      const shortLived = await sign({ ...claims, exp: Math.floor(Date.now() / 1000) + 1 }, { kid: header.kid, typ: header.typ });
      await expectSignedIn(server.httpUrl, shortLived);
      // Waits for the refusal (a condition, not a duration): it comes once `exp` and the skew allowance are past.
      const deadline = Date.now() + 30_000;
      while ((await gql(server.httpUrl, VIEWER, {}, shortLived)).status !== 401 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      await expectRefused(server.httpUrl, shortLived);
      // The genuine, longer-lived token of the same session is unaffected.
      await expectSignedIn(server.httpUrl, user.accessToken);
    }, 60_000);

    it('one token presented many times at once is verified once: every caller holds the same claims', async () => {
      const tokens = new TokenService(loadConfig({ JWT_SECRET: TEST_JWT_SECRET, DATA_DIR: '' }));
      const { token } = await tokens.signAccessToken({ userId: randomUUID(), sessionId: randomUUID(), scopes: [] });
      // Sockets reconnecting together: one check, one claims object, which the fan-out then checks once per event.
      const claims = await Promise.all(Array.from({ length: 20 }, () => tokens.verifyAccessToken(token)));
      expect(new Set(claims).size).toBe(1);
      expect(claims[0]!.sub).toBe(decodeJwt(token).sub);
      // A bad token shares its in-flight check too, and every caller is refused; nothing of it stays behind.
      const flipped = `${token.slice(0, -2)}${token.at(-2) === 'A' ? 'B' : 'A'}${token.at(-1)}`;
      const refused = await Promise.allSettled(Array.from({ length: 5 }, () => tokens.verifyAccessToken(flipped)));
      expect(refused.map((outcome) => outcome.status)).toEqual(Array(5).fill('rejected'));
      await expect(tokens.verifyAccessToken(flipped)).rejects.toBeInstanceOf(InvalidTokenError);
      // Later callers get the cached object, the same one.
      expect(await tokens.verifyAccessToken(token)).toBe(claims[0]);
    });
  });
});

describe.skipIf(!onPostgres)('two processes on one Redis', () => {
  const ADMIN = { email: 'cache-pair-admin@example.com', password: 'Adm1n-Passw0rd' };
  const cleanups: Array<() => unknown> = [];
  let urls: Url[];
  let adminToken: string;

  beforeAll(async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const env = {
      ...LONG_CACHE,
      DATABASE_URL: database.url!,
      REDIS_URL,
      REDIS_PREFIX: `opshub-test-${randomUUID()}:`,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
    };
    // The first process migrates the database and creates the admin; the second starts on the finished database.
    const a = await spawnServer(env).ready;
    const b = await spawnServer(env).ready;
    urls = [a, b];
    const { body } = await gql(a, 'mutation($input: LoginInput!) { login(input: $input) { accessToken } }', {
      input: { login: ADMIN.email, password: ADMIN.password },
    });
    adminToken = body.data.login.accessToken as string;
  }, 120_000);

  afterAll(async () => {
    await stopAll();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  describe('the change made on the first process', () => {
    revocationSuite(() => ({ urls, adminToken }));
  });
  describe('the change made on the second process', () => {
    revocationSuite(() => ({ urls: [...urls].reverse(), adminToken }));
  });
});
