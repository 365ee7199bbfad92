/** Accounts and tokens for tests: the account is created through the service, the token by the real `login`. */
import { randomBytes } from 'node:crypto';
import type { TestServer } from './server.js';

export type TestRole = 'USER' | 'MODERATOR' | 'ADMIN';

export interface TestUser {
  /** Global id (`User:<uuid>`). */
  id: string;
  /** The row's uuid. */
  rowId: string;
  username: string;
  email: string;
  password: string;
  role: TestRole;
  /** Access token. */
  token: string;
  refreshToken: string;
  /** Scopes granted to `token`. */
  scopes: string[];
}

export const TEST_PASSWORD = 'Corr3ct-Horse';

const LOGIN = /* GraphQL */ `
  mutation Login($input: LoginInput!) {
    login(input: $input) {
      accessToken
      refreshToken
      scopes
      user { id }
      userErrors { field message code }
    }
  }
`;

/**
 * Creates an account with the given role (USER by default) and signs it in. `scopes` asks the login for exactly
 * those scopes (within the role's); absent, the token carries all of the role's scopes.
 */
export async function createUser(
  server: TestServer,
  options: { role?: TestRole; username?: string; scopes?: string[]; password?: string } = {},
): Promise<TestUser> {
  const role = options.role ?? 'USER';
  const username = options.username ?? `u_${randomBytes(6).toString('hex')}`;
  const email = `m${randomBytes(6).toString('hex')}@example.com`;
  const password = options.password ?? TEST_PASSWORD;
  const created = await server.app.container.services.users.create({ username, email, password, role });
  if (!created.user) throw new Error(`createUser failed: ${JSON.stringify(created.userErrors)}`);
  const session = await login(server, username, password, options.scopes);
  return {
    id: session.user.id,
    rowId: created.user.id,
    username,
    email,
    password,
    role,
    token: session.accessToken,
    refreshToken: session.refreshToken,
    scopes: session.scopes,
  };
}

/** Signs in through the real `login` mutation; throws when it fails. */
export async function login(
  server: TestServer,
  loginName: string,
  password: string,
  scopes?: string[],
): Promise<{ accessToken: string; refreshToken: string; scopes: string[]; user: { id: string } }> {
  const { body } = await server.gql(LOGIN, { input: { login: loginName, password, ...(scopes ? { scopes } : {}) } });
  const payload = body.data?.login;
  if (!payload?.accessToken) throw new Error(`login failed: ${JSON.stringify(body.errors ?? payload?.userErrors)}`);
  return payload;
}
