/**
 * Acceptance 2 with real processes (src/main.ts as children): a subscriber resumes with its last cursor across a
 * server restart (SIGTERM, then a new process on the same database), and across two processes sharing PostgreSQL and
 * Redis, with the messages published by one and the subscriber on the other.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { gql, loginToken, spawnedStorage, spawnServer, stopAll } from '../helpers/spawn.js';
import { followRoom } from './helpers.js';

const ADMIN = { email: 'resume-admin@example.com', password: 'Adm1n-Passw0rd' };
const onPostgres = Boolean(process.env.DATABASE_URL);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await stopAll();
});

const ROOM_EVENTS = /* GraphQL */ `
  subscription Resume($roomId: ID!, $after: String) {
    roomEvents(roomId: $roomId, after: $after) {
      __typename
      ... on MessagePosted { streamCursor message { id body } }
      ... on MemberJoined { streamCursor }
      ... on MemberLeft { streamCursor }
      ... on TypingChanged { streamCursor }
    }
  }
`;

const HISTORY = /* GraphQL */ `
  query History($id: ID!, $after: String) {
    node(id: $id) { ... on Room { messages(first: 100, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } } }
  }
`;

function baseEnv(store: Record<string, string>): Record<string, string> {
  return {
    ...store,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    CHAT_MESSAGE_LIMIT: '1000000',
    RATE_LIMIT_ADMIN: '100000000',
    JOB_CONCURRENCY: '0',
  };
}

async function history(url: string, token: string, roomId: string): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null = null;
  for (;;) {
    const { body } = await gql(url, HISTORY, { id: roomId, after }, token);
    const page: { nodes: Array<{ id: string }>; pageInfo: { hasNextPage: boolean; endCursor: string } } = body.data.node.messages;
    ids.push(...page.nodes.map((node) => node.id));
    if (!page.pageInfo.hasNextPage) return ids;
    after = page.pageInfo.endCursor;
  }
}

/**
 * Senders that keep going through a restart: a message whose request found no server is sent again to whichever
 * process is up (the same body; a send that committed before its process went away may be stored twice).
 */
async function send(url: () => string, token: string, roomId: string, senders: number, each: number): Promise<void> {
  await Promise.all(
    Array.from({ length: senders }, async (_, s) => {
      for (let i = 0; i < each; i++) {
        for (;;) {
          const sent = await gql(
            url(),
            'mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id } } }',
            {
              input: { roomId, body: `m ${s}.${i}` },
            },
            token,
          ).catch(() => null);
          if (sent?.body.data?.sendMessage?.message) break;
          await sleep(50);
        }
      }
    }),
  );
}

/** The README's reconnect recipe (see followRoom), disposed after the file. */
function follow(wsUrl: () => string, token: string, roomId: string) {
  const follower = followRoom(wsUrl, token, roomId, ROOM_EVENTS);
  cleanups.push(() => follower.dispose());
  return follower;
}

async function until(check: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(50);
  }
}

const toWs = (url: string) => url.replace(/^http/, 'ws');

async function createRoomAt(url: string, token: string): Promise<string> {
  const { body } = await gql(
    url,
    'mutation($input: CreateRoomInput!) { createRoom(input: $input) { room { id } } }',
    {
      input: { name: `resume ${process.pid} ${Date.now()}` },
    },
    token,
  );
  return body.data.createRoom.room.id;
}

/** Warm-up messages until the subscriber has one (graphql-ws does not tell a client its subscription is open). */
async function waitForSubscription(url: string, token: string, roomId: string, follower: { messages: unknown[] }): Promise<void> {
  for (let i = 0; follower.messages.length === 0; i++) {
    if (i > 200) throw new Error('the subscription never opened');
    await gql(
      url,
      'mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { id } } }',
      {
        input: { roomId, body: `warm-up ${i}` },
      },
      token,
    );
    await sleep(100);
  }
}

const sentBodies = (messages: Array<{ body: string }>) =>
  new Set(messages.map((message) => message.body).filter((body) => body.startsWith('m ')));

/** The subscriber's messages are the stored ones from its first on, each once, in order, and all 500 sent. */
function expectExactlyOnce(messages: Array<{ id: string; body: string }>, stored: string[]) {
  const ids = messages.map((message) => message.id);
  expect(ids).toEqual(stored.slice(stored.indexOf(ids[0]!)));
  expect(new Set(ids).size).toBe(ids.length);
  expect(sentBodies(messages).size).toBe(500);
}

describe('resuming across processes', () => {
  it('resumes with the last cursor after the server restarts (SIGTERM, new process) while the senders continue', async () => {
    const env = baseEnv((await spawnedStorage(cleanups)).env);
    const first = spawnServer(env);
    let url = await first.ready;
    const token = await loginToken(url, ADMIN.email, ADMIN.password);
    const roomId = await createRoomAt(url, token);
    const follower = follow(() => toWs(url), token, roomId);
    await waitForSubscription(url, token, roomId, follower);

    const sending = send(() => url, token, roomId, 5, 100);
    await until(() => follower.messages.length >= 50, 'the first 50 messages');
    await first.stop('SIGTERM');
    const second = spawnServer(env);
    url = await second.ready;
    await sending;
    await until(() => sentBodies(follower.messages).size >= 500, 'every message');
    await sleep(300);
    expect(follower.sockets.length).toBeGreaterThanOrEqual(2);
    expectExactlyOnce(follower.messages, await history(url, token, roomId));
    expect(follower.errors).toEqual([]);
  }, 300_000);

  it.skipIf(!onPostgres)(
    'resumes on the subscriber’s process what the other process published, with REDIS_URL (PostgreSQL only)',
    async () => {
      const env = { ...baseEnv((await spawnedStorage(cleanups)).env), REDIS_URL };
      // One after the other: the first applies the migrations.
      const publisherUrl = await spawnServer(env).ready;
      const subscriberUrl = await spawnServer(env).ready;
      const token = await loginToken(publisherUrl, ADMIN.email, ADMIN.password);
      const roomId = await createRoomAt(publisherUrl, token);
      const follower = follow(() => toWs(subscriberUrl), token, roomId);
      await waitForSubscription(publisherUrl, token, roomId, follower);

      const sending = send(() => publisherUrl, token, roomId, 5, 100);
      await until(() => follower.messages.length >= 50, 'the first 50 messages');
      (follower.sockets.at(-1) as unknown as { _socket: Socket })._socket.destroy();
      await sending;
      await until(() => sentBodies(follower.messages).size >= 500, 'every message');
      await sleep(300);
      expect(follower.sockets.length).toBeGreaterThanOrEqual(2);
      expectExactlyOnce(follower.messages, await history(subscriberUrl, token, roomId));
      expect(follower.errors).toEqual([]);
    },
    300_000,
  );
});
