/** Acceptance 4: registration rules per field, case-insensitive uniqueness, concurrent registrations. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server?.close());

const REGISTER = /* GraphQL */ `
  mutation Register($input: RegisterInput!) {
    register(input: $input) {
      accessToken
      user { username email fullName }
      userErrors { field message code }
    }
  }
`;

async function register(input: Record<string, unknown>) {
  const { body } = await server.gql(REGISTER, { input });
  expect(body.errors).toBeUndefined();
  return body.data!.register as {
    accessToken: string | null;
    user: { username: string; email: string; fullName: string | null } | null;
    userErrors: Array<{ field: string[]; message: string; code: string }>;
  };
}

const valid = { username: 'valid_name', email: 'someone@example.com', password: 'Passw0rd', fullName: 'Val Id' };

describe('register validation', () => {
  it.each([
    [{ username: 'ab' }, ['input', 'username'], 'Username must be at least 3 characters'],
    [{ username: 'a'.repeat(21) }, ['input', 'username'], 'Username must be at most 20 characters'],
    [{ username: 'bad-name' }, ['input', 'username'], 'Username can only contain letters, numbers, and underscores'],
    [{ username: 'bad name' }, ['input', 'username'], 'Username can only contain letters, numbers, and underscores'],
    [{ email: 'not-an-email' }, ['input', 'email'], 'Invalid email format'],
    [{ email: 'a@b' }, ['input', 'email'], 'Invalid email format'],
    [{ email: 'VALID_NAME.x@example.com' }, ['input', 'email'], 'Username should not be part of email'],
    [{ password: 'Pa55' }, ['input', 'password'], 'Password must be at least 8 characters'],
    [{ password: 'password1' }, ['input', 'password'], 'Password must contain at least one uppercase letter'],
    [{ password: 'PASSWORD1' }, ['input', 'password'], 'Password must contain at least one lowercase letter'],
    [{ password: 'Passwords' }, ['input', 'password'], 'Password must contain at least one digit'],
    [{ password: `Aa1${'x'.repeat(126)}` }, ['input', 'password'], 'Password must be at most 128 characters'],
    [{ fullName: 'X' }, ['input', 'fullName'], 'Full name must be at least 2 characters'],
    [{ fullName: 'X'.repeat(101) }, ['input', 'fullName'], 'Full name must be at most 100 characters'],
  ])('rejects %j with a user error on its field', async (override, field, message) => {
    const result = await register({ ...valid, ...override });
    expect(result).toEqual({ accessToken: null, user: null, userErrors: [{ field, message, code: 'INVALID' }] });
  });

  it('reports every broken rule at once', async () => {
    const result = await register({ username: 'x', email: 'nope', password: 'short' });
    expect(result.userErrors.map((error) => error.field[1])).toEqual(['username', 'email', 'password', 'password', 'password']);
  });

  it('accepts the limits: 3 and 20 characters, 8-character passwords, no full name', async () => {
    expect((await register({ username: 'abc', email: 'limit3@example.com', password: 'Abcdefg1' })).userErrors).toEqual([]);
    const long = await register({ username: 'a'.repeat(20), email: 'limit20@example.com', password: 'Abcdefg1' });
    expect(long.user).toEqual({ username: 'a'.repeat(20), email: 'limit20@example.com', fullName: null });
  });
});

describe('register uniqueness', () => {
  it('reports a username differing only in case as TAKEN', async () => {
    expect((await register({ ...valid, username: 'Grace_H', email: 'grace@example.com' })).userErrors).toEqual([]);
    const duplicate = await register({ ...valid, username: 'grace_h', email: 'other@example.com' });
    expect(duplicate).toEqual({
      accessToken: null,
      user: null,
      userErrors: [{ field: ['input', 'username'], message: 'Username already exists', code: 'TAKEN' }],
    });
  });

  it('reports an e-mail differing only in case as TAKEN', async () => {
    expect((await register({ ...valid, username: 'linus_t', email: 'kernel@example.com' })).userErrors).toEqual([]);
    const duplicate = await register({ ...valid, username: 'linus_2', email: 'KERNEL@Example.com' });
    expect(duplicate.userErrors).toEqual([{ field: ['input', 'email'], message: 'Email already registered', code: 'TAKEN' }]);
  });

  it('creates exactly one user from concurrent registrations of one e-mail', async () => {
    const names = ['race_a', 'race_b', 'race_c', 'race_d'];
    const results = await Promise.all(names.map((username) => register({ ...valid, username, email: 'race@example.com' })));
    expect(results.filter((result) => result.user !== null)).toHaveLength(1);
    for (const loser of results.filter((result) => result.user === null)) {
      expect(loser.userErrors).toEqual([{ field: ['input', 'email'], message: 'Email already registered', code: 'TAKEN' }]);
    }
    const rows = await Promise.all(names.map((name) => server.app.container.services.users.findByLogin(name)));
    expect(rows.filter(Boolean)).toHaveLength(1);
  });

  it('creates exactly one user from concurrent registrations of one username in different cases', async () => {
    const results = await Promise.all(
      ['Twin_Name', 'twin_name', 'TWIN_NAME'].map((username, index) => register({ ...valid, username, email: `twin${index}@example.com` })),
    );
    expect(results.filter((result) => result.user !== null)).toHaveLength(1);
    expect(results.flatMap((result) => result.userErrors).map((error) => error.code)).toEqual(['TAKEN', 'TAKEN']);
  });
});
