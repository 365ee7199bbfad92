import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, TEST_PASSWORD, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { collect } from '../helpers/subscriptions.js';
import { triggerUntilEvent } from '../helpers/subscriptions.js';

let server: TestServer;
let admin: TestUser;
let user: TestUser;
beforeAll(async () => {
  server = await startServer({ ADMIN_EMAIL: 'Boss@Corp.example', ADMIN_PASSWORD: 'Bootstr4p-admin' });
  [admin, user] = await Promise.all([createUser(server, { role: 'ADMIN' }), createUser(server)]);
});
afterAll(() => server?.close());

const REGISTER = /* GraphQL */ `
  mutation Register($input: RegisterInput!) {
    register(input: $input) {
      accessToken refreshToken expiresIn scopes
      user { id username email fullName role isActive }
      userErrors { field message code }
    }
  }
`;

const VIEWER = `{ viewer { id username email role } }`;

describe('register, login and viewer', () => {
  it('registers a USER, signs it in and answers viewer with its own e-mail', async () => {
    const { body } = await server.gql(REGISTER, {
      input: { username: 'Ada_L', email: ' Ada.Lovelace@Example.COM ', password: 'Analytic4l', fullName: 'Ada Lovelace' },
    });
    const payload = body.data!.register;
    expect(payload.userErrors).toEqual([]);
    expect(payload.user).toMatchObject({ username: 'Ada_L', email: 'ada.lovelace@example.com', role: 'USER', isActive: true });
    expect(payload.expiresIn).toBe(30 * 60);
    expect(payload.scopes).toContain('items:read');
    expect(payload.scopes).not.toContain('items:write');
    expect(payload.refreshToken).toMatch(/^ohr_/);
    const viewer = await server.gql(VIEWER, undefined, { token: payload.accessToken });
    expect(viewer.body.data!.viewer).toEqual({ id: payload.user.id, username: 'Ada_L', email: 'ada.lovelace@example.com', role: 'USER' });
  });

  it('answers viewer with null for an anonymous caller', async () => {
    const { status, body } = await server.gql(VIEWER);
    expect(status).toBe(200);
    expect(body).toMatchObject({ data: { viewer: null } });
  });

  it('signs in by e-mail in any case and by username in any case', async () => {
    for (const login of [user.email.toUpperCase(), user.username.toUpperCase()]) {
      const { body } = await server.gql(
        `mutation($input: LoginInput!) { login(input: $input) { accessToken user { username } userErrors { code } } }`,
        { input: { login, password: TEST_PASSWORD } },
      );
      expect(body.data!.login).toMatchObject({ user: { username: user.username }, userErrors: [] });
      expect(body.data!.login.accessToken).toEqual(expect.any(String));
    }
  });

  it('answers an unknown login and a wrong password with the same INVALID_CREDENTIALS error', async () => {
    const attempt = async (login: string) =>
      (
        await server.gql(
          `mutation($input: LoginInput!) { login(input: $input) { accessToken user { id } userErrors { field message code } } }`,
          { input: { login, password: 'Wrong-pass1' } },
        )
      ).body.data!.login;
    const unknown = await attempt('nobody_here');
    const wrong = await attempt(user.username);
    expect(unknown).toEqual({
      accessToken: null,
      user: null,
      userErrors: [{ field: null, message: 'Incorrect username or password', code: 'INVALID_CREDENTIALS' }],
    });
    expect(wrong).toEqual(unknown);
  });

  it('grants the requested scopes within the role and never more', async () => {
    const { body } = await server.gql(`mutation($input: LoginInput!) { login(input: $input) { scopes userErrors { code } } }`, {
      input: { login: user.username, password: TEST_PASSWORD, scopes: ['items:read', 'items:write', 'admin:write'] },
    });
    expect(body.data!.login).toEqual({ scopes: ['items:read'], userErrors: [] });
    const unknown = await server.gql(`mutation($input: LoginInput!) { login(input: $input) { scopes userErrors { field message code } } }`, {
      input: { login: user.username, password: TEST_PASSWORD, scopes: ['items:fly'] },
    });
    expect(unknown.body.data!.login).toEqual({
      scopes: null,
      userErrors: [{ field: ['input', 'scopes'], message: 'Unknown scope: items:fly', code: 'INVALID' }],
    });
  });
});

describe('bootstrap', () => {
  it('creates the first admin from ADMIN_EMAIL and ADMIN_PASSWORD at start-up', async () => {
    const { body } = await server.gql(
      `mutation($input: LoginInput!) { login(input: $input) { scopes user { username email role } userErrors { code } } }`,
      { input: { login: 'boss@corp.example', password: 'Bootstr4p-admin' } },
    );
    expect(body.data!.login.user).toEqual({ username: 'opshub_admin', email: 'boss@corp.example', role: 'ADMIN' });
    expect(body.data!.login.scopes).toContain('system:write');
    // Start-up again with the same settings finds the account and leaves it alone.
    expect(await server.app.container.services.users.ensureAdmin('boss@corp.example', 'Another-pa55')).toEqual({
      created: false,
      userErrors: [],
    });
  });
});

describe('User.email', () => {
  it('is visible to the user themself and to user:read holders, null for everyone else', async () => {
    const query = `query($id: ID!) { node(id: $id) { ... on User { username email } } }`;
    const own = await server.gql(query, { id: user.id }, { token: user.token });
    expect(own.body.data!.node).toEqual({ username: user.username, email: user.email });
    const byAdmin = await server.gql(query, { id: user.id }, { token: admin.token });
    expect(byAdmin.body.data!.node.email).toBe(user.email);
    const byOther = await server.gql(query, { id: admin.id }, { token: user.token });
    expect(byOther.body.data!.node).toEqual({ username: admin.username, email: null });
    expect(byOther.body.errors).toBeUndefined();
  });
});

describe('scopes on the item catalog', () => {
  it('refuses an anonymous caller with UNAUTHENTICATED and an under-scoped one with FORBIDDEN and the missing scopes', async () => {
    const mutation = `mutation($id: ID!) { deleteItem(id: $id) { deletedId } }`;
    const anonymous = await server.gql(mutation, { id: 'x' });
    expect(anonymous.body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
    const forbidden = await server.gql(mutation, { id: 'x' }, { token: user.token });
    expect(forbidden.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', missingScopes: ['items:write', 'items:delete'] });
    expect(forbidden.body.data).toBeNull();
  });

  it('authenticates graphql-ws from the connection_init payload', async () => {
    const anonymous = collect(server.wsClient(), { query: 'subscription { itemChanged { sku } }' });
    await anonymous.done();
    expect(anonymous.events).toEqual([
      expect.objectContaining({ errors: [expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })] }),
    ]);

    const subscriber = collect(server.wsClient({ authorization: `Bearer ${user.token}` }), {
      query: 'subscription { itemChanged { sku } }',
    });
    let sku = 0;
    await triggerUntilEvent(subscriber, async () => {
      const created = await server.gql(
        `mutation($sku: String!) { createItem(input: { sku: $sku, name: "Socket", price: 1, category: HOME }) { item { sku } } }`,
        { sku: `WS${String((sku += 1)).padStart(4, '0')}` },
        { token: admin.token },
      );
      expect(created.body.data!.createItem.item).toEqual({ sku: `WS${String(sku).padStart(4, '0')}` });
    });
    expect(subscriber.events[0]).toMatchObject({ data: { itemChanged: { sku: expect.stringMatching(/^WS\d{4}$/) } } });
    subscriber.dispose();
  });

  it('stops delivering events to a subscriber deactivated mid-subscription and closes the socket with 4403', async () => {
    const member = await createUser(server);
    const subscriber = collect(server.wsClient({ authorization: `Bearer ${member.token}` }), {
      query: 'subscription { itemChanged { sku } }',
    });
    let n = 0;
    const createOne = async () => {
      n += 1;
      await server.gql(
        `mutation($sku: String!) { createItem(input: { sku: $sku, name: "Event", price: 1, category: HOME }) { item { sku } } }`,
        { sku: `DV${String(n).padStart(4, '0')}` },
        { token: admin.token },
      );
    };
    await triggerUntilEvent(subscriber, createOne);
    const delivered = subscriber.events.length;
    await server.app.container.services.users.setActive(member.rowId, false);
    await createOne();
    await subscriber.done();
    expect(subscriber.errors).toEqual([expect.objectContaining({ code: 4403 })]);
    expect(subscriber.events.slice(delivered).filter((event) => event.data)).toEqual([]);
  });
});
