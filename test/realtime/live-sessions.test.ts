/**
 * A socket follows its session: logout, logoutAll, a reused refresh token, deactivation and a role change close the
 * affected graphql-ws sockets with 4403 and a reason, free their connection slots at once, and end SSE streams with a
 * final event. Every close is awaited with a one-second limit after the mutation's answer (the bound); the
 * mechanism itself takes milliseconds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseReason } from '../../src/realtime/live-sessions.js';
import { createUser, login } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { ackedSocket, rawSocket, type RawSocket } from '../security/helpers.js';
import { until } from './helpers.js';

/** The bound between a revocation and the socket's close. */
const WITHIN_MS = 1_000;
const MAX_PER_USER = 3;

let server: TestServer;
const sockets: RawSocket[] = [];

beforeAll(async () => {
  server = await startServer({ WS_MAX_CONNECTIONS_PER_USER: String(MAX_PER_USER) });
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

/** The close, or a rejection when it takes longer than `ms`. */
function closedWithin(raw: RawSocket, ms = WITHIN_MS): Promise<{ code: number; reason: string }> {
  return Promise.race([
    raw.closed,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`socket still open ${ms} ms after the revocation`)), ms)),
  ]);
}

const LOGOUT_ALL = 'mutation { logoutAll }';
const LOGOUT = 'mutation($t: String!) { logout(refreshToken: $t) }';
const REFRESH = 'mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken userErrors { message } } }';

describe('a socket follows its session', () => {
  it("logoutAll closes every socket of the user's sessions with 4403 and frees their slots for the owner at once", async () => {
    const owner = await createUser(server);
    const stolen = await login(server, owner.username, owner.password);
    const idle = await Promise.all(Array.from({ length: MAX_PER_USER }, () => open(stolen.accessToken)));
    // The stolen session's idle sockets hold every slot: the owner's own socket is refused.
    const refused = rawSocket(server);
    sockets.push(refused);
    await refused.opened;
    refused.send({ type: 'connection_init', payload: { authorization: `Bearer ${owner.token}` } });
    expect(await refused.closed).toMatchObject({ code: 1008, reason: 'Too many connections' });

    const { body } = await server.gql(LOGOUT_ALL, {}, { token: owner.token });
    expect(body.data).toEqual({ logoutAll: 2 });
    for (const raw of idle) expect(await closedWithin(raw)).toEqual({ code: 4403, reason: CloseReason.LOGGED_OUT_EVERYWHERE });
    expect(server.app.container.services.realtime.connections.countFor(owner.rowId)).toBe(0);

    const again = await login(server, owner.username, owner.password);
    const fresh = await Promise.all(Array.from({ length: MAX_PER_USER }, () => open(again.accessToken)));
    expect(fresh).toHaveLength(MAX_PER_USER);
    for (const raw of fresh) raw.socket.close();
  });

  it("logout closes the sockets of that session only; the user's other session keeps its socket", async () => {
    const user = await createUser(server);
    const other = await login(server, user.username, user.password);
    const ended = await open(user.token);
    const kept = await open(other.accessToken);
    expect((await server.gql(LOGOUT, { t: user.refreshToken })).body.data).toEqual({ logout: true });
    expect(await closedWithin(ended)).toEqual({ code: 4403, reason: CloseReason.LOGGED_OUT });
    kept.send({ type: 'ping' });
    expect(await kept.next()).toEqual({ type: 'pong' });
    kept.socket.close();
  });

  it('a reused refresh token closes the sockets of its session', async () => {
    const user = await createUser(server);
    const raw = await open(user.token);
    const first = await server.gql(REFRESH, { t: user.refreshToken });
    expect(first.body.data?.refreshSession.userErrors).toEqual([]);
    // The rotated socket keeps running: a refresh is not a revocation.
    raw.send({ type: 'ping' });
    expect(await raw.next()).toEqual({ type: 'pong' });
    const reused = await server.gql(REFRESH, { t: user.refreshToken });
    expect(reused.body.data?.refreshSession.userErrors[0].message).toBe('Refresh token already used; the session has been revoked');
    expect(await closedWithin(raw)).toEqual({ code: 4403, reason: CloseReason.REFRESH_REUSED });
  });

  it('ends the SSE stream of a revoked session with a final UNAUTHENTICATED event naming the reason', async () => {
    const user = await createUser(server);
    const response = await fetch(server.httpUrl, {
      method: 'POST',
      headers: { accept: 'text/event-stream', 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
      body: JSON.stringify({ query: 'subscription { notificationReceived { id } }' }),
    });
    expect(response.status).toBe(200);
    const text = response.text();
    await until(() => server.app.container.services.realtime.sessions.countFor(user.rowId) === 1, 'the stream to register');
    await server.gql(LOGOUT_ALL, {}, { token: user.token });
    const stream = await Promise.race([
      text,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('stream still open')), WITHIN_MS)),
    ]);
    const events = stream.split('\n\n').filter(Boolean);
    expect(events.at(-2)).toBe(
      `event: next\ndata: ${JSON.stringify({
        errors: [
          { message: 'Could not validate credentials', extensions: { code: 'UNAUTHENTICATED', reason: CloseReason.LOGGED_OUT_EVERYWHERE } },
        ],
      })}`,
    );
    expect(events.at(-1)).toBe('event: complete\ndata:');
    expect(server.app.container.services.realtime.connections.countFor(user.rowId)).toBe(0);
  });
});
