/**
 * Acceptance 5: 20 wrong passwords in a window for one account are refused with RATE_LIMITED, and a correct login
 * works again once the window has passed. The limiter's clock is advanced instead of waiting for the window.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, TEST_PASSWORD } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';

const WINDOW_SECONDS = 60;

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ LOGIN_MAX_ATTEMPTS: '20', LOGIN_WINDOW_SECONDS: String(WINDOW_SECONDS) });
});
afterAll(() => server?.close());

const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { accessToken userErrors { code } } }`;

async function attempt(login: string, password: string) {
  const { body } = await server.gql(LOGIN, { input: { login, password } });
  return body;
}

describe('login rate limit', () => {
  it('refuses the 21st attempt within the window, even with the right password, and lets it in after the window', async () => {
    const user = await createUser(server);
    const limiter = server.app.container.services.auth.limiter;
    const wrong = await Promise.all(Array.from({ length: 20 }, () => attempt(user.username, 'Wrong-pass1')));
    for (const body of wrong) expect(body.data!.login).toEqual({ accessToken: null, userErrors: [{ code: 'INVALID_CREDENTIALS' }] });

    const refused = await attempt(user.email, TEST_PASSWORD);
    expect(refused.data).toBeNull();
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: expect.any(Number) });
    expect(refused.errors![0]!.extensions!.retryAfter as number).toBeLessThanOrEqual(WINDOW_SECONDS);

    // Other accounts are not affected.
    const other = await createUser(server);
    expect((await attempt(other.username, TEST_PASSWORD)).data!.login.accessToken).toEqual(expect.any(String));

    const realNow = limiter.now;
    try {
      limiter.now = () => realNow() + WINDOW_SECONDS * 1_000;
      const after = await attempt(user.username, TEST_PASSWORD);
      expect(after.data!.login.accessToken).toEqual(expect.any(String));
    } finally {
      limiter.now = realNow;
    }
  });

  it('limits an unknown login the same way, so the answer reveals nothing', async () => {
    const bodies = await Promise.all(Array.from({ length: 21 }, () => attempt('ghost_account', 'Wrong-pass1')));
    const codes = bodies.map((body) => body.errors?.[0]?.extensions?.code ?? body.data!.login.userErrors[0].code);
    expect(codes.filter((code) => code === 'INVALID_CREDENTIALS')).toHaveLength(20);
    expect(codes.filter((code) => code === 'RATE_LIMITED')).toHaveLength(1);
  });

  it('clears the count after a successful login', async () => {
    const user = await createUser(server);
    for (let round = 0; round < 2; round += 1) {
      await Promise.all(Array.from({ length: 15 }, () => attempt(user.username, 'Wrong-pass1')));
      expect((await attempt(user.username, TEST_PASSWORD)).data!.login.accessToken).toEqual(expect.any(String));
    }
  });

  it('limits password checks per client address across accounts, whatever bearer token the request carries', async () => {
    const limited = await startServer({ LOGIN_MAX_ATTEMPTS: '20', LOGIN_MAX_ATTEMPTS_PER_ADDRESS: '5' });
    try {
      // A signed-in caller's token does not move the guesses to its own budget.
      const attacker = await createUser(limited);
      const victims = await Promise.all(Array.from({ length: 3 }, () => createUser(limited)));
      const guess = async (login: string, password: string) =>
        (await limited.gql(LOGIN, { input: { login, password } }, { token: attacker.token })).body;
      // createUser signed in 4 times from this address; one guess is left, spread over other accounts nothing more.
      const first = await guess(victims[0]!.username, 'Wrong-pass1');
      expect(first.data!.login.userErrors).toEqual([{ code: 'INVALID_CREDENTIALS' }]);
      for (const victim of victims) {
        const refused = await guess(victim.username, TEST_PASSWORD);
        expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: expect.any(Number) });
      }
      // Once the window has passed, the address may try again.
      const limiter = limited.app.container.services.auth.limiter;
      const realNow = limiter.now;
      limiter.now = () => realNow() + WINDOW_SECONDS * 1_000;
      expect((await guess(victims[1]!.username, TEST_PASSWORD)).data!.login.accessToken).toEqual(expect.any(String));
    } finally {
      await limited.close();
    }
  });
});
