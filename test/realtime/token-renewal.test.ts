/**
 * Two-second access tokens (ACCESS_TOKEN_TTL_SECONDS=2). A client that renews its token in-band every second, through
 * the shipped recipe (examples/live-token.ts), keeps three subscriptions — room events, notifications and a job's
 * progress — running for 20 seconds (ten token lifetimes) on one socket, with every event delivered; a socket that
 * does not renew is closed with 4403 "token expired" at the token's `exp`, idle as it is. Apollo Client runs the same
 * recipe through GraphQLWsLink.
 */
import { ApolloClient, gql, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Client } from 'graphql-ws';
import { createLiveTokenClient } from '../../examples/live-token.js';
import type { JobDefinition } from '../../src/jobs/types.js';
import { CloseReason } from '../../src/realtime/live-sessions.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { collect } from '../helpers/subscriptions.js';
import { ackedSocket, type RawSocket } from '../security/helpers.js';
import { createRoom, ROOM_EVENTS } from './helpers.js';

/** How long the renewing client keeps its subscriptions: ten lifetimes of its token. */
const RUN_MS = 20_000;
const PRODUCE_EVERY_MS = 500;
const JOB_STEPS = 50;
const JOB_STEP_MS = 340;

let server: TestServer;
const sockets: RawSocket[] = [];
const clients: Client[] = [];

const slowJob: JobDefinition = {
  // Runs about 17 s, reporting progress at every step.
  kind: 'EXPORT_ITEMS',
  scopes: [],
  forbiddenMessage: 'unused',
  parse: (raw: unknown) => (raw ?? {}) as Record<string, never>,
  async run({ progress }) {
    for (let step = 1; step <= JOB_STEPS; step++) {
      await new Promise((resolve) => setTimeout(resolve, JOB_STEP_MS));
      await progress(Math.round((step / JOB_STEPS) * 100));
    }
    return { steps: JOB_STEPS };
  },
};

beforeAll(async () => {
  server = await startServer(
    { ACCESS_TOKEN_TTL_SECONDS: '2', JOB_POLL_INTERVAL_MS: '50', CHAT_MESSAGE_LIMIT: '1000' },
    { jobHandlers: [slowJob] },
  );
});

afterAll(async () => {
  for (const { socket } of sockets) socket.terminate();
  await Promise.allSettled(clients.map((client) => client.dispose()));
  await server?.close();
});

const REFRESH = 'mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken userErrors { message } } }';

/** A signed-in session that refreshes its token pair over HTTP, one refresh at a time. */
function session(user: TestUser) {
  const current = { accessToken: user.token, refreshToken: user.refreshToken, issuedAt: Date.now() };
  let pending: Promise<string> | null = null;
  return {
    current,
    refresh(): Promise<string> {
      pending ??= server
        .gql(REFRESH, { t: current.refreshToken })
        .then(({ body }) => {
          const payload = body.data?.refreshSession;
          if (!payload?.accessToken) throw new Error(`refresh failed: ${JSON.stringify(body)}`);
          Object.assign(current, { accessToken: payload.accessToken, refreshToken: payload.refreshToken, issuedAt: Date.now() });
          return payload.accessToken as string;
        })
        .finally(() => (pending = null));
      return pending;
    },
  };
}

const SEND_MESSAGE = 'mutation($input: SendMessageInput!) { sendMessage(input: $input) { userErrors { message } } }';
const NOTIFY = 'mutation($input: SendNotificationInput!) { sendNotification(input: $input) { sentCount userErrors { message } } }';
const START_JOB = 'mutation($input: StartJobInput!) { startJob(input: $input) { job { id } userErrors { message } } }';
const JOB_UPDATED = 'subscription($id: ID!) { jobUpdated(id: $id) { status progress } }';
const NOTIFICATIONS = 'subscription { notificationReceived { title } }';

describe('in-band token renewal', () => {
  it(
    'keeps room events, notifications and job progress running for 20 s on one socket with every event delivered',
    { timeout: 90_000 },
    async () => {
      const user = await createUser(server, { role: 'MODERATOR' });
      const auth = session(user);
      const roomId = await createRoom(server, user);
      const started = await server.gql(START_JOB, { input: { kind: 'EXPORT_ITEMS', params: {} } }, { token: auth.current.accessToken });
      const jobId = started.body.data?.startJob.job.id as string;
      expect(jobId).toBeTruthy();

      let connects = 0;
      let closes = 0;
      const renewals: string[] = [];
      const client = createLiveTokenClient({
        url: server.wsUrl,
        webSocketImpl: WebSocket,
        lazy: false,
        retryAttempts: 0,
        onNonLazyError: () => {},
        getToken: () => auth.refresh(),
        renewEveryMs: 1_000,
        onRenewed: (expiresAt) => renewals.push(expiresAt),
        on: { connected: () => void (connects += 1), closed: () => void (closes += 1) },
      });
      clients.push(client);
      const room = collect(client, { query: ROOM_EVENTS, variables: { roomId } });
      const notifications = collect(client, { query: NOTIFICATIONS });
      const job = collect(client, { query: JOB_UPDATED, variables: { id: jobId } });
      await job.waitFor(1, 10_000);
      // Both per-user streams registered before anything is produced, so every event has a subscriber.
      const { realtime } = server.app.container.services;
      await expect.poll(() => realtime.streams.open, { timeout: 10_000 }).toBe(1);
      await expect.poll(() => realtime.channels.subscriberCount, { timeout: 10_000 }).toBe(1);

      const sent: string[] = [];
      const startedAt = Date.now();
      while (Date.now() - startedAt < RUN_MS) {
        const n = sent.length;
        // The producer's own requests need a token with time left: the socket's renewal timer can run late on a
        // loaded machine, and a two-second token read just before its exp expires on the way.
        const token = Date.now() - auth.current.issuedAt > 500 ? await auth.refresh() : auth.current.accessToken;
        const [message, notification] = await Promise.all([
          server.gql(SEND_MESSAGE, { input: { roomId, body: `m${n}` } }, { token }),
          server.gql(NOTIFY, { input: { userIds: [user.id], title: `n${n}`, body: 'b' } }, { token }),
        ]);
        expect(message.body).toMatchObject({ data: { sendMessage: { userErrors: [] } } });
        expect(notification.body.data?.sendNotification).toEqual({ sentCount: 1, userErrors: [] });
        sent.push(`${n}`);
        await new Promise((resolve) => setTimeout(resolve, PRODUCE_EVERY_MS));
      }

      const messages = () =>
        room.events
          .filter((event) => event.data?.roomEvents.__typename === 'MessagePosted')
          .map((event) => event.data!.roomEvents.message.body);
      await expect.poll(() => messages().length, { timeout: 10_000 }).toBe(sent.length);
      expect(messages()).toEqual(sent.map((n) => `m${n}`));
      await notifications.waitFor(sent.length, 10_000);
      expect(notifications.events.map((event) => event.data?.notificationReceived.title)).toEqual(sent.map((n) => `n${n}`));
      await job.done(20_000);
      const progress = job.events.map((event) => event.data?.jobUpdated);
      expect(progress.at(-1)).toEqual({ status: 'COMPLETED', progress: 100 });
      const values = progress.map((state) => state!.progress as number);
      expect(values).toEqual([...values].sort((a, b) => a - b));
      expect(values.length).toBeGreaterThan(10);
      for (const stream of [room, notifications, job]) {
        expect(stream.errors).toEqual([]);
        for (const event of stream.events) expect(event.errors).toBeUndefined();
      }
      // One socket throughout, renewed about every second.
      expect({ connects, closes }).toEqual({ connects: 1, closes: 0 });
      expect(renewals.length).toBeGreaterThanOrEqual(RUN_MS / 1_000 / 2);
      expect(sent.length).toBeGreaterThanOrEqual(RUN_MS / PRODUCE_EVERY_MS / 3);
      room.dispose();
      notifications.dispose();
    },
  );

  it('closes an idle socket that does not renew with 4403 "token expired" within a second after exp', async () => {
    const user = await createUser(server);
    const raw = await ackedSocket(server, { authorization: `Bearer ${user.token}` });
    sockets.push(raw);
    const exp = decodeJwt(user.token).exp! * 1_000;
    const closed = await raw.closed;
    const lateBy = Date.now() - exp;
    expect(closed).toEqual({ code: 4403, reason: CloseReason.EXPIRED });
    expect(lateBy).toBeGreaterThanOrEqual(-50);
    expect(lateBy).toBeLessThan(1_000);
  });

  it('ends an SSE subscription stream at its token\'s exp with a final "token expired" event', async () => {
    const user = await createUser(server);
    const exp = decodeJwt(user.token).exp! * 1_000;
    const response = await fetch(server.httpUrl, {
      method: 'POST',
      headers: { accept: 'text/event-stream', 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
      body: JSON.stringify({ query: NOTIFICATIONS }),
    });
    expect(response.status).toBe(200);
    const events = (await response.text()).split('\n\n').filter(Boolean);
    expect(Date.now() - exp).toBeLessThan(1_000);
    expect(events.slice(-2)).toEqual([
      `event: next\ndata: ${JSON.stringify({
        errors: [{ message: 'Could not validate credentials', extensions: { code: 'UNAUTHENTICATED', reason: CloseReason.EXPIRED } }],
      })}`,
      'event: complete\ndata:',
    ]);
  });

  it('runs the same recipe under Apollo Client through GraphQLWsLink, past several token lifetimes', { timeout: 30_000 }, async () => {
    const user = await createUser(server, { role: 'MODERATOR' });
    const auth = session(user);
    const wsClient = createLiveTokenClient({
      url: server.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      getToken: () => auth.refresh(),
      renewEveryMs: 1_000,
    });
    clients.push(wsClient);
    const apollo = new ApolloClient({ link: new GraphQLWsLink(wsClient), cache: new InMemoryCache() });
    const titles: string[] = [];
    const errors: unknown[] = [];
    const subscription = apollo.subscribe({ query: gql(NOTIFICATIONS) }).subscribe({
      next: (result) => {
        if (result.error) errors.push(result.error);
        else titles.push((result.data as { notificationReceived: { title: string } }).notificationReceived.title);
      },
      error: (error) => errors.push(error),
    });
    await expect.poll(() => server.app.container.services.realtime.streams.open, { timeout: 10_000 }).toBe(1);
    const sent: string[] = [];
    const until = Date.now() + 6_000;
    while (Date.now() < until) {
      const title = `a${sent.length}`;
      await server.gql(NOTIFY, { input: { userIds: [user.id], title, body: 'b' } }, { token: auth.current.accessToken });
      sent.push(title);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await expect.poll(() => titles.length, { timeout: 10_000 }).toBe(sent.length);
    expect(titles).toEqual(sent);
    expect(errors).toEqual([]);
    subscription.unsubscribe();
    apollo.stop();
  });
});
