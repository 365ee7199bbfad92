/**
 * User administration through the API, per role (anonymous, USER, MODERATOR, ADMIN) and per seed rule: profiles,
 * passwords, roles, activation, sessions, deletion and the directory. Each change that ends a user's sessions closes
 * their live sockets with 4403 and its reason.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messages, posts, users as usersTable } from '../../src/db/tables.js';
import { CloseReason } from '../../src/realtime/live-sessions.js';
import { toGlobalId } from '../../src/schema/shared/global-id.js';
import { createUser, login, TEST_PASSWORD, type TestRole, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { collect } from '../helpers/subscriptions.js';
import { ackedSocket, closedWithin, type RawSocket } from '../security/helpers.js';

let server: TestServer;
const sockets: RawSocket[] = [];
let byRole: Record<TestRole, TestUser>;

beforeAll(async () => {
  server = await startServer({ CHAT_MESSAGE_LIMIT: '1000' });
  const [USER, MODERATOR, ADMIN] = await Promise.all([
    createUser(server),
    createUser(server, { role: 'MODERATOR' }),
    createUser(server, { role: 'ADMIN' }),
  ]);
  byRole = { USER: USER!, MODERATOR: MODERATOR!, ADMIN: ADMIN! };
});

afterAll(async () => {
  for (const { socket } of sockets) socket.terminate();
  await server?.close();
});

async function open(token: string): Promise<RawSocket> {
  const raw = await ackedSocket(server, { authorization: `Bearer ${token}` });
  sockets.push(raw);
  return raw;
}

const UPDATE_PROFILE = `mutation($input: UpdateProfileInput!) {
  updateProfile(input: $input) { user { fullName bio phone birthDate } userErrors { field message code } }
}`;
const CHANGE_PASSWORD = `mutation($input: ChangePasswordInput!) {
  changePassword(input: $input) { user { id } revokedSessions userErrors { field message code } }
}`;
const SET_ROLE = `mutation($input: SetUserRoleInput!) { setUserRole(input: $input) { user { role } userErrors { field message code } } }`;
const SET_ACTIVE = `mutation($input: SetUserActiveInput!) {
  setUserActive(input: $input) { user { isActive } userErrors { field message code } }
}`;
const REVOKE_SESSION = 'mutation($id: ID!) { revokeSession(id: $id) { revokedSessions userErrors { field message code } } }';
const REVOKE_USER = 'mutation($id: ID!) { revokeUserSessions(userId: $id) { revokedSessions userErrors { field message code } } }';
const DELETE_USER = 'mutation($id: ID!) { deleteUser(id: $id) { deletedId userErrors { field message code } } }';
const USERS = `query($filter: UserFilter, $orderBy: UserOrder, $first: Int) {
  users(filter: $filter, orderBy: $orderBy, first: $first) { totalCount nodes { id username role isActive } }
}`;
const SESSIONS = '{ sessions { id current openSockets lastActivityAt } }';

const gqlAs = (user: TestUser | null, query: string, variables?: Record<string, unknown>) =>
  server.gql(query, variables, user ? { token: user.token } : {});

describe('who may call each operation', () => {
  const cases: Array<{ name: string; admin: boolean; run: (as: TestUser | null) => ReturnType<typeof gqlAs> }> = [
    { name: 'updateProfile', admin: false, run: (as) => gqlAs(as, UPDATE_PROFILE, { input: { bio: 'Hello' } }) },
    {
      name: 'changePassword',
      admin: false,
      run: (as) => gqlAs(as, CHANGE_PASSWORD, { input: { currentPassword: 'Wrong-passw0rd', newPassword: 'Another-passw0rd' } }),
    },
    {
      name: 'revokeSession',
      admin: false,
      run: (as) => gqlAs(as, REVOKE_SESSION, { id: toGlobalId('Session', '00000000-0000-4000-8000-000000000000') }),
    },
    { name: 'setUserRole', admin: true, run: (as) => gqlAs(as, SET_ROLE, { input: { userId: byRole.USER.id, role: 'USER' } }) },
    { name: 'setUserActive', admin: true, run: (as) => gqlAs(as, SET_ACTIVE, { input: { userId: byRole.USER.id, isActive: true } }) },
    {
      name: 'revokeUserSessions',
      admin: true,
      run: (as) => gqlAs(as, REVOKE_USER, { id: toGlobalId('User', '00000000-0000-4000-8000-000000000000') }),
    },
    {
      name: 'deleteUser',
      admin: true,
      run: (as) => gqlAs(as, DELETE_USER, { id: toGlobalId('User', '00000000-0000-4000-8000-000000000000') }),
    },
  ];
  for (const { name, admin, run } of cases) {
    it(`${name}: anonymous is UNAUTHENTICATED, ${admin ? 'USER and MODERATOR are FORBIDDEN, ADMIN runs it' : 'every role runs it'}`, async () => {
      expect((await run(null)).body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      for (const role of ['USER', 'MODERATOR', 'ADMIN'] as const) {
        const { body } = await run(byRole[role]);
        if (admin && role !== 'ADMIN') expect(body.errors?.[0]?.extensions?.code, role).toBe('FORBIDDEN');
        else expect(body.errors, role).toBeUndefined();
      }
    });
  }

  it('users: anonymous is UNAUTHENTICATED, USER is FORBIDDEN, MODERATOR and ADMIN read the directory', async () => {
    expect((await gqlAs(null, USERS)).body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await gqlAs(byRole.USER, USERS)).body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', missingScopes: ['user:read'] });
    for (const role of ['MODERATOR', 'ADMIN'] as const)
      expect((await gqlAs(byRole[role], USERS)).body.data?.users.totalCount).toBeGreaterThan(2);
  });
});

describe('updateProfile', () => {
  it('changes the viewer’s own fields; absent fields stay, null clears', async () => {
    const user = await createUser(server);
    const first = await gqlAs(user, UPDATE_PROFILE, {
      input: { fullName: 'Ada Lovelace', bio: 'Engines', phone: '+14155550123', birthDate: '1990-12-10' },
    });
    expect(first.body.data?.updateProfile).toEqual({
      user: { fullName: 'Ada Lovelace', bio: 'Engines', phone: '+14155550123', birthDate: '1990-12-10' },
      userErrors: [],
    });
    const second = await gqlAs(user, UPDATE_PROFILE, { input: { phone: null } });
    expect(second.body.data?.updateProfile.user).toEqual({ fullName: 'Ada Lovelace', bio: 'Engines', phone: null, birthDate: '1990-12-10' });
    // Phone and birth date are private: another USER reads null.
    const seen = await gqlAs(byRole.USER, 'query($id: ID!) { node(id: $id) { ... on User { bio phone birthDate } } }', { id: user.id });
    expect(seen.body.data?.node).toEqual({ bio: 'Engines', phone: null, birthDate: null });
  });

  it('reports each seed rule as a user error on its field and changes nothing', async () => {
    const user = await createUser(server);
    const tooYoung = new Date();
    tooYoung.setUTCFullYear(tooYoung.getUTCFullYear() - 12);
    const { body } = await gqlAs(user, UPDATE_PROFILE, {
      input: { fullName: 'A', phone: '12-34', birthDate: tooYoung.toISOString().slice(0, 10), bio: 'x'.repeat(501) },
    });
    expect(body.data?.updateProfile.user).toBeNull();
    expect(body.data?.updateProfile.userErrors).toEqual([
      { field: ['input', 'fullName'], message: 'Full name must be at least 2 characters', code: 'INVALID' },
      { field: ['input', 'bio'], message: 'Bio must be at most 500 characters', code: 'INVALID' },
      { field: ['input', 'phone'], message: 'Invalid phone number format', code: 'INVALID' },
      { field: ['input', 'birthDate'], message: 'Must be at least 13 years old', code: 'INVALID' },
    ]);
    const invalidDate = await gqlAs(user, UPDATE_PROFILE, { input: { birthDate: '2001-02-30' } });
    expect(invalidDate.body.data?.updateProfile.userErrors[0]).toMatchObject({
      field: ['input', 'birthDate'],
      message: 'Invalid date: use YYYY-MM-DD',
    });
    const row = await server.app.container.repos.users.findById(user.rowId);
    expect(row).toMatchObject({ fullName: null, phone: null, birthDate: null, bio: null });
  });
});

describe('changePassword', () => {
  it('needs the current password and a policy-conform new one', async () => {
    const user = await createUser(server);
    const wrong = await gqlAs(user, CHANGE_PASSWORD, { input: { currentPassword: 'Wrong-passw0rd', newPassword: 'Another-passw0rd' } });
    expect(wrong.body.data?.changePassword.userErrors).toEqual([
      { field: ['input', 'currentPassword'], message: 'Incorrect password', code: 'INVALID_CREDENTIALS' },
    ]);
    const weak = await gqlAs(user, CHANGE_PASSWORD, { input: { currentPassword: TEST_PASSWORD, newPassword: 'short' } });
    expect(weak.body.data?.changePassword.userErrors.map((error: { message: string }) => error.message)).toEqual([
      'Password must be at least 8 characters',
      'Password must contain at least one uppercase letter',
      'Password must contain at least one digit',
    ]);
    await login(server, user.username, TEST_PASSWORD);
  });

  it("ends the user's other sessions and closes their sockets; the session that asked keeps working", async () => {
    const user = await createUser(server);
    const other = await login(server, user.username, TEST_PASSWORD);
    const otherSocket = await open(other.accessToken);
    const ownSocket = await open(user.token);
    const { body } = await gqlAs(user, CHANGE_PASSWORD, { input: { currentPassword: TEST_PASSWORD, newPassword: 'Brand-new-passw0rd' } });
    expect(body.data?.changePassword).toMatchObject({ revokedSessions: 1, userErrors: [] });
    expect(await closedWithin(otherSocket)).toEqual({ code: 4403, reason: CloseReason.PASSWORD_CHANGED });
    ownSocket.send({ type: 'ping' });
    expect(await ownSocket.next()).toEqual({ type: 'pong' });
    expect((await gqlAs(user, '{ viewer { id } }')).body.data?.viewer.id).toBe(user.id);
    await expect(login(server, user.username, TEST_PASSWORD)).rejects.toThrow(/Incorrect username or password/);
    await login(server, user.username, 'Brand-new-passw0rd');
  });
});

describe('setUserRole and setUserActive', () => {
  it('changes the role and closes the user\'s sockets with 4403 "role changed"; the user reconnects with the new scopes', async () => {
    const target = await createUser(server, { role: 'MODERATOR' });
    const raw = await open(target.token);
    const { body } = await gqlAs(byRole.ADMIN, SET_ROLE, { input: { userId: target.id, role: 'USER' } });
    expect(body.data?.setUserRole).toEqual({ user: { role: 'USER' }, userErrors: [] });
    expect(await closedWithin(raw)).toEqual({ code: 4403, reason: CloseReason.ROLE_CHANGED });
    // The demotion holds at once for the old token too: its user:read is gone.
    expect((await gqlAs(target, USERS)).body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const again = await open(target.token);
    again.socket.close();
  });

  it("deactivation closes the user's sockets with 4403 and the user can no longer sign in; reactivation lets them back", async () => {
    const target = await createUser(server);
    const raw = await open(target.token);
    const { body } = await gqlAs(byRole.ADMIN, SET_ACTIVE, { input: { userId: target.id, isActive: false } });
    expect(body.data?.setUserActive).toEqual({ user: { isActive: false }, userErrors: [] });
    expect(await closedWithin(raw)).toEqual({ code: 4403, reason: CloseReason.DEACTIVATED });
    await expect(login(server, target.username, TEST_PASSWORD)).rejects.toThrow(/Inactive user/);
    await gqlAs(byRole.ADMIN, SET_ACTIVE, { input: { userId: target.id, isActive: true } });
    await login(server, target.username, TEST_PASSWORD);
  });

  it('reports an unknown user as NOT_FOUND', async () => {
    const { body } = await gqlAs(byRole.ADMIN, SET_ROLE, {
      input: { userId: toGlobalId('User', '00000000-0000-4000-8000-000000000000'), role: 'USER' },
    });
    expect(body.data?.setUserRole).toEqual({
      user: null,
      userErrors: [{ field: ['input', 'userId'], message: 'User not found', code: 'NOT_FOUND' }],
    });
  });
});

describe('sessions', () => {
  it('shows open sockets and last activity per session; revokeSession ends an own session and closes its socket', async () => {
    const user = await createUser(server);
    const other = await login(server, user.username, TEST_PASSWORD);
    const raws = [await open(other.accessToken), await open(other.accessToken)];
    const { body } = await gqlAs(user, SESSIONS);
    const listed = body.data?.sessions as Array<{ id: string; current: boolean; openSockets: number; lastActivityAt: string }>;
    expect(listed).toHaveLength(2);
    const mine = listed.find((session) => session.current)!;
    const theirs = listed.find((session) => !session.current)!;
    expect(mine.openSockets).toBe(0);
    expect(theirs.openSockets).toBe(2);
    expect(Date.parse(mine.lastActivityAt)).toBeGreaterThan(Date.now() - 60_000);

    // Another user's session is not found for a USER; an ADMIN may end it.
    const stranger = await gqlAs(byRole.USER, REVOKE_SESSION, { id: theirs.id });
    expect(stranger.body.data?.revokeSession.userErrors[0]).toMatchObject({ code: 'NOT_FOUND' });
    const revoked = await gqlAs(user, REVOKE_SESSION, { id: theirs.id });
    expect(revoked.body.data?.revokeSession).toEqual({ revokedSessions: 1, userErrors: [] });
    for (const raw of raws) expect(await closedWithin(raw)).toEqual({ code: 4403, reason: CloseReason.SESSION_REVOKED });
    expect((await gqlAs(user, SESSIONS)).body.data?.sessions).toHaveLength(1);
  });

  it('revokeUserSessions (ADMIN) ends every session of a user and closes all their sockets', async () => {
    const target = await createUser(server);
    const second = await login(server, target.username, TEST_PASSWORD);
    const raws = [await open(target.token), await open(second.accessToken)];
    const { body } = await gqlAs(byRole.ADMIN, REVOKE_USER, { id: target.id });
    expect(body.data?.revokeUserSessions).toEqual({ revokedSessions: 2, userErrors: [] });
    for (const raw of raws) expect(await closedWithin(raw)).toEqual({ code: 4403, reason: CloseReason.SESSION_REVOKED });
    expect((await gqlAs(target, '{ viewer { id } }')).status).toBe(401);
  });
});

describe('users directory', () => {
  it('filters by search, role and activity, and sorts by username', async () => {
    const tag = `dir${Date.now().toString(36)}`;
    const made = await Promise.all(
      ['b', 'a', 'c'].map((letter) => createUser(server, { username: `${tag}_${letter}`, role: letter === 'c' ? 'MODERATOR' : 'USER' })),
    );
    await gqlAs(byRole.ADMIN, SET_ACTIVE, { input: { userId: made[0]!.id, isActive: false } });
    const names = async (variables: Record<string, unknown>) => {
      const { body } = await gqlAs(byRole.MODERATOR, USERS, variables);
      return (body.data?.users.nodes as Array<{ username: string }>).map((node) => node.username);
    };
    const asc = { field: 'USERNAME', direction: 'ASC' };
    expect(await names({ filter: { search: tag.toUpperCase() }, orderBy: asc })).toEqual([`${tag}_a`, `${tag}_b`, `${tag}_c`]);
    expect(await names({ filter: { search: tag }, orderBy: { field: 'USERNAME', direction: 'DESC' } })).toEqual([
      `${tag}_c`,
      `${tag}_b`,
      `${tag}_a`,
    ]);
    expect(await names({ filter: { search: tag, role: 'MODERATOR' } })).toEqual([`${tag}_c`]);
    expect(await names({ filter: { search: tag, isActive: false } })).toEqual([`${tag}_b`]);
    expect(await names({ filter: { search: tag, isActive: true }, orderBy: asc })).toEqual([`${tag}_a`, `${tag}_c`]);
    // A LIKE wildcard in the search is matched literally.
    expect(await names({ filter: { search: '%' } })).toEqual([]);
  });
});

describe('userUpdated', () => {
  it('tells staff about account changes; a USER may not subscribe', async () => {
    const staff = collect(server.wsClient({ authorization: `Bearer ${byRole.MODERATOR.token}` }), {
      query: 'subscription { userUpdated { change user { username role } } }',
    });
    const refused = collect(server.wsClient({ authorization: `Bearer ${byRole.USER.token}` }), {
      query: 'subscription { userUpdated { change } }',
    });
    const target = await createUser(server);
    for (let attempt = 0; attempt < 20 && staff.events.length === 0; attempt++) {
      await gqlAs(byRole.ADMIN, SET_ROLE, { input: { userId: target.id, role: attempt % 2 === 0 ? 'MODERATOR' : 'USER' } });
      await staff.waitFor(1, 250).catch(() => undefined);
    }
    expect(staff.events[0]?.data?.userUpdated).toMatchObject({ change: 'UPDATED', user: { username: target.username } });
    await refused.waitFor(1);
    expect(refused.events[0]?.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    staff.dispose();
  });
});

describe('deleteUser', () => {
  it('deletes a user with their posts and messages and closes their sockets; USER and MODERATOR may not', async () => {
    const target = await createUser(server);
    const post = await gqlAs(target, 'mutation { createPost(input: { title: "Mine", body: "Text" }) { post { id } } }');
    expect(post.body.data?.createPost.post.id).toBeTruthy();
    const room = await gqlAs(target, 'mutation { createRoom(input: { name: "to delete" }) { room { id } } }');
    const roomId = room.body.data?.createRoom.room.id as string;
    await gqlAs(target, 'mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id } } }', {
      input: { roomId, body: 'hello' },
    });
    const raw = await open(target.token);
    const { body } = await gqlAs(byRole.ADMIN, DELETE_USER, { id: target.id });
    expect(body.data?.deleteUser).toEqual({ deletedId: target.id, userErrors: [] });
    expect(await closedWithin(raw)).toEqual({ code: 4403, reason: CloseReason.DELETED });
    const { db } = server.app.container;
    expect(await db.select().from(usersTable).where(eq(usersTable.id, target.rowId))).toEqual([]);
    expect(await db.select().from(posts).where(eq(posts.authorId, target.rowId))).toEqual([]);
    expect(await db.select().from(messages).where(eq(messages.authorId, target.rowId))).toEqual([]);
    expect((await gqlAs(byRole.ADMIN, 'query($id: ID!) { node(id: $id) { id } }', { id: roomId })).body.data?.node).toBeNull();
    expect((await gqlAs(byRole.ADMIN, DELETE_USER, { id: target.id })).body.data?.deleteUser.userErrors[0]).toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('keeps a user who placed orders (the transaction rolls back) and says to deactivate instead', async () => {
    const buyer = await createUser(server);
    const item = await gqlAs(
      byRole.ADMIN,
      'mutation { createItem(input: { sku: "UD0001", name: "Kept", price: 3, category: HOME, stock: 5 }) { item { id } } }',
    );
    const itemId = item.body.data?.createItem.item.id as string;
    const order = await gqlAs(
      buyer,
      'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } userErrors { message } } }',
      {
        input: { itemId, quantity: 1 },
      },
    );
    expect(order.body.data?.placeOrder, JSON.stringify([item.body, order.body])).toMatchObject({ order: { id: expect.any(String) } });
    const raw = await open(buyer.token);
    const { body } = await gqlAs(byRole.ADMIN, DELETE_USER, { id: buyer.id });
    expect(body.data?.deleteUser).toEqual({
      deletedId: null,
      userErrors: [
        { field: ['id'], message: 'User has placed orders and cannot be deleted; deactivate the account instead', code: 'FORBIDDEN' },
      ],
    });
    expect(await server.app.container.repos.users.findById(buyer.rowId)).not.toBeNull();
    raw.send({ type: 'ping' });
    expect(await raw.next()).toEqual({ type: 'pong' });
    raw.socket.close();
  });
});

describe('the last active admin', () => {
  it('cannot be demoted, deactivated or deleted; another admin can be once there are two', async () => {
    // Leave exactly one active admin: every other is deactivated through the API.
    const { body } = await gqlAs(byRole.ADMIN, USERS, { filter: { role: 'ADMIN', isActive: true }, first: 100 });
    for (const node of body.data?.users.nodes as Array<{ id: string }>) {
      if (node.id === byRole.ADMIN.id) continue;
      const result = await gqlAs(byRole.ADMIN, SET_ACTIVE, { input: { userId: node.id, isActive: false } });
      expect(result.body.data?.setUserActive.userErrors).toEqual([]);
    }
    const last = {
      field: ['input', 'userId'],
      message: 'The last active admin cannot be demoted, deactivated or deleted',
      code: 'FORBIDDEN',
    };
    const me = byRole.ADMIN.id;
    expect((await gqlAs(byRole.ADMIN, SET_ROLE, { input: { userId: me, role: 'MODERATOR' } })).body.data?.setUserRole).toEqual({
      user: null,
      userErrors: [last],
    });
    expect((await gqlAs(byRole.ADMIN, SET_ACTIVE, { input: { userId: me, isActive: false } })).body.data?.setUserActive).toEqual({
      user: null,
      userErrors: [last],
    });
    expect((await gqlAs(byRole.ADMIN, DELETE_USER, { id: me })).body.data?.deleteUser).toEqual({
      deletedId: null,
      userErrors: [{ ...last, field: ['id'] }],
    });
    // Two admins demoting each other at once: the row locks serialize them, one stays an admin.
    const second = await createUser(server, { role: 'ADMIN' });
    const [a, b] = await Promise.all([
      gqlAs(byRole.ADMIN, SET_ROLE, { input: { userId: second.id, role: 'USER' } }),
      gqlAs(second, SET_ROLE, { input: { userId: me, role: 'USER' } }),
    ]);
    const outcomes = [a.body.data?.setUserRole, b.body.data?.setUserRole];
    const admins = await gqlAs(byRole.MODERATOR, USERS, { filter: { role: 'ADMIN', isActive: true } });
    expect(admins.body.data?.users.totalCount).toBeGreaterThanOrEqual(1);
    expect(outcomes.filter((outcome) => outcome?.userErrors.length === 0).length).toBeGreaterThanOrEqual(1);
  });
});
