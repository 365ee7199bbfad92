/**
 * A socket follows its session: logout, logoutAll, a reused refresh token, deactivation and a role change close the
 * affected graphql-ws sockets with 4403 and a reason, free their connection slots at once, and end SSE streams with a
 * final event. Every close is awaited with a one-second limit after the mutation's answer (the bound); the
 * mechanism itself takes milliseconds.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppPubSub } from '../../src/pubsub/pubsub.js';
import { ConnectionRegistry } from '../../src/realtime/connections.js';
import { CloseReason, LiveSessions } from '../../src/realtime/live-sessions.js';
import { RENEWAL_REFUSED } from '../../src/server/live-socket.js';
import { createUser, login } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { ackedSocket, closedWithin, rawSocket, type RawSocket } from '../security/helpers.js';
import { createRoom, ROOM_EVENTS, until } from './helpers.js';

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

const NOTIFY = 'mutation($input: SendNotificationInput!) { sendNotification(input: $input) { sentCount userErrors { message } } }';
const SEND_MESSAGE = 'mutation($input: SendMessageInput!) { sendMessage(input: $input) { userErrors { message } } }';

/** A token of the same session with other scopes, signed by the server's own token service. */
async function tokenOf(user: { rowId: string; token: string }, scopes: string[]): Promise<string> {
  const { sid } = decodeJwt(user.token) as { sid: string };
  const issued = await server.app.container.services.tokens.signAccessToken({ userId: user.rowId, sessionId: sid, scopes });
  return issued.token;
}

/** Messages of one operation id, until `count` arrived or the operation ended. */
async function messagesFor(all: Array<Record<string, any>>, id: string, count: number) {
  await until(() => all.filter((message) => message.id === id).length >= count, `${count} messages for ${id}`, 10_000);
  return all.filter((message) => message.id === id);
}

describe('in-band renewal', () => {
  it('confirms a renewal with a pong naming the new expiry; the socket keeps its subscriptions', async () => {
    const user = await createUser(server);
    const raw = await open(user.token);
    const renewed = await tokenOf(user, user.scopes);
    raw.send({ type: 'ping', payload: { authorization: `Bearer ${renewed}` } });
    expect(await raw.next()).toEqual({
      type: 'pong',
      payload: { renewed: true, expiresAt: new Date(decodeJwt(renewed).exp! * 1_000).toISOString() },
    });
    raw.socket.close();
  });

  it("refuses a renewal with another user's token, or another session's, with 4403", async () => {
    const [user, other] = await Promise.all([createUser(server), createUser(server)]);
    const byOther = await open(user.token);
    byOther.send({ type: 'ping', payload: { authorization: `Bearer ${other.token}` } });
    expect(await closedWithin(byOther)).toEqual({ code: 4403, reason: RENEWAL_REFUSED.otherSession });

    const secondSession = await login(server, user.username, user.password);
    const bySession = await open(user.token);
    bySession.send({ type: 'ping', payload: { authorization: `Bearer ${secondSession.accessToken}` } });
    expect(await closedWithin(bySession)).toEqual({ code: 4403, reason: RENEWAL_REFUSED.otherSession });

    const invalid = await open(user.token);
    invalid.send({ type: 'ping', payload: { authorization: 'Bearer not-a-token' } });
    expect(await closedWithin(invalid)).toEqual({ code: 4403, reason: RENEWAL_REFUSED.invalid });

    const anonymous = await ackedSocket(server);
    sockets.push(anonymous);
    anonymous.send({ type: 'ping', payload: { authorization: `Bearer ${user.token}` } });
    expect(await closedWithin(anonymous)).toEqual({ code: 4403, reason: RENEWAL_REFUSED.notSignedIn });
  });

  it('a renewal with a narrower token stops the events that need the dropped scope; the others keep arriving', async () => {
    const user = await createUser(server, { role: 'MODERATOR' });
    const roomId = await createRoom(server, user);
    const raw = await open(user.token);
    const received: Array<Record<string, any>> = [];
    raw.socket.on('message', (data) => received.push(JSON.parse(String(data))));
    raw.send({ id: 'n', type: 'subscribe', payload: { query: 'subscription { notificationReceived { title } }' } });
    raw.send({ id: 'r', type: 'subscribe', payload: { query: ROOM_EVENTS, variables: { roomId } } });
    const { realtime } = server.app.container.services;
    await until(() => realtime.streams.open >= 1 && realtime.channels.subscriberCount >= 1, 'both subscriptions');

    const notify = (title: string) => server.gql(NOTIFY, { input: { userIds: [user.id], title, body: 'b' } }, { token: user.token });
    const post = (body: string) => server.gql(SEND_MESSAGE, { input: { roomId, body } }, { token: user.token });
    await notify('before');
    await post('before');
    const [before] = await messagesFor(received, 'n', 1);
    expect(before).toMatchObject({ type: 'next', payload: { data: { notificationReceived: { title: 'before' } } } });

    const narrower = await tokenOf(
      user,
      user.scopes.filter((scope) => scope !== 'notifications:read'),
    );
    raw.send({ type: 'ping', payload: { authorization: `Bearer ${narrower}` } });
    await until(() => received.some((message) => message.type === 'pong'), 'the renewal');
    await notify('after');
    await post('after');
    const room = await until(
      () => received.filter((message) => message.id === 'r' && message.payload?.data?.roomEvents?.message?.body === 'after').length === 1,
      'the room message after the renewal',
    ).then(() => received.filter((message) => message.id === 'r'));
    expect(room.at(-1)).toMatchObject({ type: 'next', payload: { data: { roomEvents: { message: { body: 'after' } } } } });
    const notifications = await messagesFor(received, 'n', 2);
    // The event after the renewal carries no data: FORBIDDEN names the dropped scope.
    expect(JSON.stringify(notifications.slice(1))).not.toContain('"title":"after"');
    expect(notifications[1]).toMatchObject({ type: 'next', payload: { errors: [{ extensions: { code: 'FORBIDDEN' } }] } });
    raw.socket.close();
  });
});

describe('a connection set up while its session is revoked', () => {
  it('is closed as it registers when its token was checked before the revocation arrived', async () => {
    const { pubsub, close } = createAppPubSub(null);
    const live = new LiveSessions({ pubsub, connections: new ConnectionRegistry() });
    const claims = { sub: 'u1', sid: 's1', scopes: [], exp: Math.floor(Date.now() / 1_000) + 60, jti: 'j' };
    const closed: Array<[string, string]> = [];
    const connection = (id: string) => ({
      id,
      transport: 'ws' as const,
      userId: 'u1',
      sessionId: 's1',
      close: (reason: string) => void closed.push([id, reason]),
    });
    const checkedBefore = Date.now();
    live.add(connection('open'), claims, checkedBefore);
    await live.revoke({ userId: 'u1', reason: CloseReason.LOGGED_OUT_EVERYWHERE });
    await until(() => closed.length === 1, 'the revocation to be applied', 5_000);
    live.add(connection('checked-before'), claims, checkedBefore);
    // Same-millisecond checks count as before (closing is the safe side), so "after" is a few milliseconds later.
    await new Promise((resolve) => setTimeout(resolve, 5));
    live.add(connection('checked-after'), claims, Date.now());
    expect(closed).toEqual([
      ['open', CloseReason.LOGGED_OUT_EVERYWHERE],
      ['checked-before', CloseReason.LOGGED_OUT_EVERYWHERE],
    ]);
    expect(live.countFor('u1')).toBe(1);
    await live.close();
    await close();
  });
});
