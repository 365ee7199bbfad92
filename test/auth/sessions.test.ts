/** Acceptance 2: refresh-token rotation, reuse detection, sessions, logout and logoutAll. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, login, TEST_PASSWORD } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server?.close());

const REFRESH = /* GraphQL */ `
  mutation Refresh($refreshToken: String!) {
    refreshSession(refreshToken: $refreshToken) {
      accessToken refreshToken expiresIn scopes
      user { username email }
      userErrors { field message code }
    }
  }
`;

async function refresh(refreshToken: string) {
  const { body } = await server.gql(REFRESH, { refreshToken });
  expect(body.errors).toBeUndefined();
  return body.data!.refreshSession as {
    accessToken: string | null;
    refreshToken: string | null;
    scopes: string[] | null;
    user: { username: string; email: string } | null;
    userErrors: Array<{ field: string[] | null; message: string; code: string }>;
  };
}

const SESSIONS = `{ sessions { id createdAt expiresAt current } }`;

describe('refreshSession', () => {
  it('rotates A → B; presenting A again is refused and revokes B too', async () => {
    const user = await createUser(server, { scopes: ['items:read', 'posts:read'] });
    const b = await refresh(user.refreshToken);
    expect(b.userErrors).toEqual([]);
    expect(b.refreshToken).not.toBe(user.refreshToken);
    expect(b.scopes).toEqual(['posts:read', 'items:read']);
    expect(b.user).toEqual({ username: user.username, email: user.email });
    const viewer = await server.gql('{ viewer { username } }', undefined, { token: b.accessToken! });
    expect(viewer.body.data).toEqual({ viewer: { username: user.username } });

    const reuse = await refresh(user.refreshToken);
    expect(reuse).toMatchObject({
      accessToken: null,
      refreshToken: null,
      userErrors: [{ field: ['refreshToken'], message: 'Refresh token already used; the session has been revoked', code: 'INVALID' }],
    });
    const afterReuse = await refresh(b.refreshToken!);
    expect(afterReuse).toMatchObject({
      accessToken: null,
      userErrors: [{ field: ['refreshToken'], message: 'Token revoked', code: 'INVALID' }],
    });
    // The family's access tokens stop working too.
    expect((await server.gql('{ viewer { username } }', undefined, { token: b.accessToken! })).status).toBe(401);
  });

  it('lets exactly one of two concurrent refreshes with the same token win', async () => {
    const user = await createUser(server);
    const results = await Promise.all([refresh(user.refreshToken), refresh(user.refreshToken)]);
    expect(results.filter((result) => result.accessToken !== null)).toHaveLength(1);
    // The loser counts as a reuse, so the winner's new token is dead as well.
    const winner = results.find((result) => result.accessToken !== null)!;
    expect((await refresh(winner.refreshToken!)).accessToken).toBeNull();
  });

  it('refuses an unknown refresh token and an inactive user', async () => {
    expect((await refresh('ohr_not-a-token')).userErrors).toEqual([
      { field: ['refreshToken'], message: 'Invalid refresh token', code: 'INVALID' },
    ]);
    const user = await createUser(server);
    await server.app.container.services.users.setActive(user.rowId, false);
    expect((await refresh(user.refreshToken)).userErrors).toEqual([{ field: null, message: 'Inactive user', code: 'FORBIDDEN' }]);
    const { body } = await server.gql(`mutation($input: LoginInput!) { login(input: $input) { accessToken userErrors { code message } } }`, {
      input: { login: user.username, password: TEST_PASSWORD },
    });
    expect(body.data!.login).toEqual({ accessToken: null, userErrors: [{ code: 'FORBIDDEN', message: 'Inactive user' }] });
  });

  it("narrows a refreshed token's scopes to the user's current role", async () => {
    const user = await createUser(server, { role: 'MODERATOR' });
    expect(user.scopes).toContain('user:read');
    await server.app.container.services.users.setRole(user.rowId, 'USER');
    // The existing access token loses the scope at once; the refreshed one is issued without it.
    const users = await server.gql('{ users { totalCount } }', undefined, { token: user.token });
    expect(users.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', missingScopes: ['user:read'] });
    const next = await refresh(user.refreshToken);
    expect(next.scopes).not.toContain('user:read');
  });
});

describe('sessions, logout and logoutAll', () => {
  it('lists live sessions with the current one marked, and logout ends one', async () => {
    const user = await createUser(server);
    const second = await login(server, user.username, TEST_PASSWORD);
    const { body } = await server.gql(SESSIONS, undefined, { token: user.token });
    expect(body.data!.sessions).toHaveLength(2);
    expect(body.data!.sessions.filter((s: { current: boolean }) => s.current)).toHaveLength(1);
    // Rotation keeps the session (its id is stable).
    const rotated = await refresh(second.refreshToken);
    const after = await server.gql(SESSIONS, undefined, { token: rotated.accessToken! });
    const current = after.body.data!.sessions.find((s: { current: boolean }) => s.current);
    expect(after.body.data!.sessions).toHaveLength(2);
    expect(body.data!.sessions.map((s: { id: string }) => s.id)).toContain(current.id);

    const out = await server.gql(`mutation($t: String!) { logout(refreshToken: $t) }`, { t: rotated.refreshToken });
    expect(out.body.data).toEqual({ logout: true });
    const again = await server.gql(`mutation($t: String!) { logout(refreshToken: $t) }`, { t: rotated.refreshToken });
    expect(again.body.data).toEqual({ logout: false });
    const left = await server.gql(SESSIONS, undefined, { token: user.token });
    expect(left.body.data!.sessions).toEqual([expect.objectContaining({ current: true })]);
  });

  it('logoutAll returns the number of sessions revoked and every refresh token stops working', async () => {
    const user = await createUser(server);
    const others = await Promise.all([login(server, user.username, TEST_PASSWORD), login(server, user.email, TEST_PASSWORD)]);
    const rotated = await refresh(others[0].refreshToken);
    const { body } = await server.gql('mutation { logoutAll }', undefined, { token: user.token });
    expect(body).toEqual({ data: { logoutAll: 3 }, extensions: expect.anything() });
    for (const token of [user.refreshToken, rotated.refreshToken!, others[1].refreshToken]) {
      expect((await refresh(token)).accessToken).toBeNull();
    }
    expect((await server.gql(SESSIONS, undefined, { token: user.token })).status).toBe(401);
  });

  it('cleans up expired session rows, after which their refresh tokens are unknown', async () => {
    const user = await createUser(server);
    const rows = server.app.container.repos.sessions;
    expect(await rows.deleteExpired(new Date(Date.now() + 8 * 24 * 3_600_000), user.rowId)).toBe(1);
    expect((await refresh(user.refreshToken)).userErrors[0]?.message).toBe('Invalid refresh token');
  });
});

describe('scopes', () => {
  it('lists every scope of the catalogue with its description, anonymously', async () => {
    const { body } = await server.gql('{ scopes { name description } }');
    const names = body.data!.scopes.map((scope: { name: string }) => scope.name);
    for (const resource of ['user', 'profile', 'posts', 'files', 'admin', 'items', 'orders', 'tasks', 'chat', 'notifications', 'jobs']) {
      expect(names).toContain(`${resource}:read`);
      expect(names).toContain(`${resource}:write`);
    }
    expect(names).toContain('analytics:read');
    expect(names).toContain('system:write');
    expect(body.data!.scopes).toContainEqual({ name: 'user:delete', description: 'Delete users' });
    expect(body.data!.scopes.every((scope: { description: string }) => scope.description.length > 0)).toBe(true);
  });
});

describe('users', () => {
  it('pages through accounts for user:read holders', async () => {
    const admin = await createUser(server, { role: 'ADMIN' });
    const { body } = await server.gql('{ users(first: 2) { totalCount nodes { username email } pageInfo { hasNextPage } } }', undefined, {
      token: admin.token,
    });
    expect(body.errors).toBeUndefined();
    expect(body.data!.users.nodes).toHaveLength(2);
    expect(body.data!.users.pageInfo.hasNextPage).toBe(true);
    expect(body.data!.users.nodes.every((node: { email: string | null }) => node.email !== null)).toBe(true);
  });
});
