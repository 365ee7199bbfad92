/**
 * Acceptance 2 with the real entry point as two child processes on one PostgreSQL database and one Redis: logoutAll,
 * a reused refresh token, deactivation, demotion and revokeSession, each done through one process, close the user's
 * sockets on both processes with 4403 within a second; the owner then opens new sockets on both. PostgreSQL only
 * (two processes cannot share an embedded PGlite directory).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseReason } from '../../src/realtime/live-sessions.js';
import { createTestDatabase } from '../helpers/database.js';
import type { TestServer } from '../helpers/server.js';
import { gql, loginToken, spawnServer, stopAll } from '../helpers/spawn.js';
import { ackedSocket, closedWithin, type RawSocket } from '../security/helpers.js';

const onPostgres = Boolean(process.env.DATABASE_URL);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ADMIN = { email: 'live-admin@example.com', password: 'Adm1n-Passw0rd' };
const PASSWORD = 'Us3r-Passw0rd';

const cleanups: Array<() => unknown> = [];
const sockets: RawSocket[] = [];
let urls: [string, string];
let adminToken: string;

beforeAll(async () => {
  if (!onPostgres) return;
  const database = await createTestDatabase();
  cleanups.push(() => database.drop());
  const env = { DATABASE_URL: database.url!, REDIS_URL, ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password };
  // The first process migrates the database and creates the admin; the second starts on the finished database.
  const first = spawnServer(env);
  const a = await first.ready;
  const b = await spawnServer(env).ready;
  urls = [a, b];
  adminToken = await loginToken(a, ADMIN.email, ADMIN.password);
}, 120_000);

afterAll(async () => {
  for (const { socket } of sockets) socket.terminate();
  await stopAll();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function open(url: string, token: string): Promise<RawSocket> {
  const raw = await ackedSocket({ wsUrl: url.replace(/^http/, 'ws') } as TestServer, { authorization: `Bearer ${token}` });
  sockets.push(raw);
  return raw;
}

let counter = 0;
async function registerUser(): Promise<{ id: string; username: string }> {
  const username = `live_${process.pid}_${++counter}`;
  const { body } = await gql(urls[0], 'mutation($input: RegisterInput!) { register(input: $input) { user { id } userErrors { message } } }', {
    input: { username, email: `p${process.pid}n${counter}@example.com`, password: PASSWORD },
  });
  const id = body.data?.register.user?.id as string | undefined;
  if (!id) throw new Error(`register failed: ${JSON.stringify(body)}`);
  return { id, username };
}

async function signIn(username: string, url = urls[0]) {
  const { body } = await gql(url, 'mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken } }', {
    input: { login: username, password: PASSWORD },
  });
  return body.data.login as { accessToken: string; refreshToken: string };
}

/** One socket of the session on each process, both closed by `revoke` with `reason`; then new sockets open on both. */
async function closesOnBoth(token: string, revoke: () => Promise<void>, reason: string, owner: string) {
  const raws = [await open(urls[0], token), await open(urls[1], token)];
  await revoke();
  for (const raw of raws) expect(await closedWithin(raw)).toEqual({ code: 4403, reason });
  const fresh = await signIn(owner, urls[1]);
  for (const url of urls) (await open(url, fresh.accessToken)).socket.close();
}

describe.skipIf(!onPostgres)('a revocation on one process closes the sockets on both', () => {
  it('logoutAll', async () => {
    const user = await registerUser();
    const session = await signIn(user.username);
    await closesOnBoth(
      session.accessToken,
      async () => void (await gql(urls[0], 'mutation { logoutAll }', {}, session.accessToken)),
      CloseReason.LOGGED_OUT_EVERYWHERE,
      user.username,
    );
  });

  it('a reused refresh token', async () => {
    const user = await registerUser();
    const session = await signIn(user.username);
    const refresh = 'mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken userErrors { message } } }';
    const rotated = await gql(urls[1], refresh, { t: session.refreshToken });
    const token = rotated.body.data.refreshSession.accessToken as string;
    await closesOnBoth(
      token,
      async () => void (await gql(urls[0], refresh, { t: session.refreshToken })),
      CloseReason.REFRESH_REUSED,
      user.username,
    );
  });

  it('deactivation', async () => {
    const user = await registerUser();
    const session = await signIn(user.username);
    const setActive = 'mutation($input: SetUserActiveInput!) { setUserActive(input: $input) { userErrors { message } } }';
    const raws = [await open(urls[0], session.accessToken), await open(urls[1], session.accessToken)];
    await gql(urls[0], setActive, { input: { userId: user.id, isActive: false } }, adminToken);
    for (const raw of raws) expect(await closedWithin(raw)).toEqual({ code: 4403, reason: CloseReason.DEACTIVATED });
    await gql(urls[1], setActive, { input: { userId: user.id, isActive: true } }, adminToken);
    const fresh = await signIn(user.username, urls[1]);
    for (const url of urls) (await open(url, fresh.accessToken)).socket.close();
  });

  it('demotion', async () => {
    const user = await registerUser();
    const setRole = 'mutation($input: SetUserRoleInput!) { setUserRole(input: $input) { user { role } userErrors { message } } }';
    await gql(urls[0], setRole, { input: { userId: user.id, role: 'MODERATOR' } }, adminToken);
    const session = await signIn(user.username);
    await closesOnBoth(
      session.accessToken,
      async () => {
        const { body } = await gql(urls[1], setRole, { input: { userId: user.id, role: 'USER' } }, adminToken);
        expect(body.data.setUserRole).toEqual({ user: { role: 'USER' }, userErrors: [] });
      },
      CloseReason.ROLE_CHANGED,
      user.username,
    );
  });

  it('revokeSession', async () => {
    const user = await registerUser();
    const session = await signIn(user.username);
    const { body } = await gql(urls[0], '{ sessions { id current } }', {}, session.accessToken);
    const id = (body.data.sessions as Array<{ id: string; current: boolean }>).find((entry) => entry.current)!.id;
    await closesOnBoth(
      session.accessToken,
      async () => {
        const revoked = await gql(urls[1], 'mutation($id: ID!) { revokeSession(id: $id) { revokedSessions } }', { id }, adminToken);
        expect(revoked.body.data.revokeSession.revokedSessions).toBe(1);
      },
      CloseReason.SESSION_REVOKED,
      user.username,
    );
  });
});
