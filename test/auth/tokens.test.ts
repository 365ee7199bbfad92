/**
 * Acceptance 1: every kind of bad access token is refused on both transports — HTTP answers 401 UNAUTHENTICATED,
 * graphql-ws closes the socket with 4403 — while a good token and no token at all still work.
 */
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, TEST_JWT_SECRET, type TestServer } from '../helpers/server.js';

const VIEWER = '{ viewer { username } }';

let hs: TestServer;
let rs: TestServer;
let user: TestUser;
let rsUser: TestUser;
const rsaKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPublicPem = rsaKeys.publicKey.export({ format: 'pem', type: 'spki' }).toString();

beforeAll(async () => {
  [hs, rs] = await Promise.all([
    startServer(),
    startServer({
      JWT_SECRET: '',
      JWT_PRIVATE_KEY: rsaKeys.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      JWT_PUBLIC_KEY: rsaPublicPem,
    }),
  ]);
  [user, rsUser] = await Promise.all([createUser(hs), createUser(rs)]);
});
afterAll(async () => {
  await Promise.all([hs?.close(), rs?.close()]);
});

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A token with the claims of `base` changed as given, signed with `key` and header `alg` (HS256 by default). */
async function forge(
  base: string,
  options: {
    claims?: Partial<JWTPayload>;
    header?: Record<string, unknown>;
    key?: Uint8Array | CryptoKey | import('node:crypto').KeyObject;
    alg?: string;
  } = {},
): Promise<string> {
  const header = decodeProtectedHeader(base);
  const claims = { ...decodeJwt(base), ...options.claims };
  const alg = options.alg ?? 'HS256';
  return new SignJWT(claims)
    .setProtectedHeader({ alg, kid: header.kid, typ: header.typ, ...options.header })
    .sign(options.key ?? new TextEncoder().encode(TEST_JWT_SECRET));
}

async function httpStatus(server: TestServer, token: string) {
  const { status, body, headers } = await server.gql(VIEWER, undefined, { token });
  return { status, code: body.errors?.[0]?.extensions?.code, data: body.data, challenge: headers.get('www-authenticate') };
}

/** Opens a raw graphql-ws socket, sends `connection_init`, and reports whether it was acknowledged or closed. */
async function wsOutcome(server: TestServer, payload: Record<string, unknown>): Promise<{ ack: boolean; code?: number }> {
  const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
  await once(socket, 'open');
  socket.send(JSON.stringify({ type: 'connection_init', payload }));
  const outcome = await new Promise<{ ack: boolean; code?: number }>((resolve) => {
    socket.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack') resolve({ ack: true });
    });
    socket.on('close', (code) => resolve({ ack: false, code }));
  });
  if (socket.readyState !== WebSocket.CLOSED) {
    socket.close();
    await once(socket, 'close');
  }
  return outcome;
}

async function expectRefused(server: TestServer, token: string) {
  expect(await httpStatus(server, token)).toMatchObject({
    status: 401,
    code: 'UNAUTHENTICATED',
    challenge: 'Bearer error="invalid_token"',
  });
  expect(await wsOutcome(server, { authorization: `Bearer ${token}` })).toEqual({ ack: false, code: 4403 });
}

describe('a valid token and no token', () => {
  it('accepts a token from login on both transports', async () => {
    expect(await httpStatus(hs, user.token)).toMatchObject({ status: 200, data: { viewer: { username: user.username } } });
    expect(await wsOutcome(hs, { authorization: `Bearer ${user.token}` })).toEqual({ ack: true });
  });

  it('treats a request without a token as anonymous on both transports', async () => {
    const { status, body } = await hs.gql(VIEWER);
    expect({ status, body: body.data }).toEqual({ status: 200, body: { viewer: null } });
    expect(await wsOutcome(hs, {})).toEqual({ ack: true });
  });

  it('re-signs the claims it checks, so the forging helper itself produces accepted tokens', async () => {
    expect((await httpStatus(hs, await forge(user.token))).status).toBe(200);
  });
});

describe('refused access tokens', () => {
  const now = () => Math.floor(Date.now() / 1000);

  it('refuses a forged signature', async () => {
    await expectRefused(hs, await forge(user.token, { key: new TextEncoder().encode('another-secret-of-at-least-32-bytes!!') }));
    // The real signature over changed claims.
    const [head, , signature] = user.token.split('.');
    await expectRefused(hs, `${head}.${b64({ ...decodeJwt(user.token), scope: 'admin:write' })}.${signature}`);
  });

  it('refuses alg: none', async () => {
    const header = { ...decodeProtectedHeader(user.token), alg: 'none' };
    await expectRefused(hs, `${b64(header)}.${b64(decodeJwt(user.token))}.`);
  });

  it('refuses HS256 signed with the RS256 public key, and RS256 where HS256 is pinned', async () => {
    // Algorithm confusion: an HMAC over the token keyed with the (public) PEM text.
    await expectRefused(rs, await forge(rsUser.token, { alg: 'HS256', key: new TextEncoder().encode(rsaPublicPem) }));
    await expectRefused(hs, await forge(user.token, { alg: 'RS256', key: rsaKeys.privateKey }));
  });

  it('refuses an expired token', async () => {
    await expectRefused(hs, await forge(user.token, { claims: { iat: now() - 3_600, exp: now() - 60 } }));
  });

  it('refuses a token that is not yet valid', async () => {
    await expectRefused(hs, await forge(user.token, { claims: { nbf: now() + 600 } }));
    await expectRefused(hs, await forge(user.token, { claims: { iat: now() + 600, exp: now() + 1_800 } }));
  });

  it('refuses a wrong issuer and a wrong audience', async () => {
    await expectRefused(hs, await forge(user.token, { claims: { iss: 'someone-else' } }));
    await expectRefused(hs, await forge(user.token, { claims: { aud: 'another-api' } }));
  });

  it('refuses an unknown key id and a missing one', async () => {
    await expectRefused(hs, await forge(user.token, { header: { kid: 'not-our-key' } }));
    await expectRefused(hs, await forge(user.token, { header: { kid: undefined } }));
  });

  it('refuses a token of another type and one without a session claim', async () => {
    await expectRefused(hs, await forge(user.token, { header: { typ: 'JWT' } }));
    await expectRefused(hs, await forge(user.token, { claims: { sid: undefined } }));
  });

  it('refuses a refresh token presented as an access token', async () => {
    await expectRefused(hs, user.refreshToken);
  });

  it('refuses a malformed authorization header', async () => {
    const { status, body } = await hs.gql(VIEWER, undefined, { headers: { authorization: `Basic ${user.token}` } });
    expect({ status, code: body.errors?.[0]?.extensions?.code }).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    expect(await wsOutcome(hs, { authorization: 42 })).toEqual({ ack: false, code: 4403 });
  });

  it("refuses a deactivated user's tokens at once, and accepts them again after reactivation", async () => {
    const victim = await createUser(hs);
    expect((await httpStatus(hs, victim.token)).status).toBe(200);
    await hs.app.container.services.users.setActive(victim.rowId, false);
    await expectRefused(hs, victim.token);
    await hs.app.container.services.users.setActive(victim.rowId, true);
    expect((await httpStatus(hs, victim.token)).status).toBe(200);
  });

  it('refuses the access token of a session that was logged out', async () => {
    const victim = await createUser(hs);
    const { body } = await hs.gql(`mutation($t: String!) { logout(refreshToken: $t) }`, { t: victim.refreshToken });
    expect(body.data).toEqual({ logout: true });
    await expectRefused(hs, victim.token);
  });
});

describe('key pairs', () => {
  it('signs with RS256 and serves the public key at /.well-known/jwks.json', async () => {
    expect(decodeProtectedHeader(rsUser.token)).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    const response = await fetch(`${rs.url}/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    const { keys } = (await response.json()) as { keys: Array<Record<string, string>> };
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: decodeProtectedHeader(rsUser.token).kid });
    expect(keys[0]).not.toHaveProperty('d');
    const { payload } = await jwtVerify(rsUser.token, await importJWK(keys[0]!, 'RS256'), { issuer: 'opshub', audience: 'opshub-api' });
    expect(payload).toMatchObject({
      sub: rsUser.rowId,
      sid: expect.any(String),
      jti: expect.any(String),
      scope: expect.stringContaining('items:read'),
    });
  });

  it('serves no key set for a shared secret', async () => {
    expect((await fetch(`${hs.url}/.well-known/jwks.json`)).status).toBe(404);
  });
});
