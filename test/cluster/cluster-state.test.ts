/**
 * The shared realtime state (src/realtime/cluster-state.ts) against the real Redis, with several "processes" in one:
 * each ClusterState has its own process id and connection, all under one fresh prefix. A Redis outage is played by a
 * TCP relay in front of Redis that the test cuts and restores.
 */
import { randomUUID } from 'node:crypto';
import { createServer, Socket, type Server } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { ClusterState } from '../../src/realtime/cluster-state.js';
import { ConnectionRegistry } from '../../src/realtime/connections.js';
import { MessageLimiter } from '../../src/realtime/message-limiter.js';
import { TypingTracker } from '../../src/realtime/typing.js';
import { until } from '../realtime/helpers.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `opshub-test-${randomUUID()}:`;
const states: ClusterState[] = [];
const admin = new Redis(REDIS_URL);

afterAll(async () => {
  for (const state of states) await state.close();
  const keys = await admin.keys(`${prefix}*`);
  if (keys.length > 0) await admin.del(...keys);
  await admin.quit();
});

async function cluster(livenessMs = 1_000, redisUrl = REDIS_URL): Promise<ClusterState> {
  const state = new ClusterState({ redisUrl, prefix, livenessMs, processId: randomUUID() });
  states.push(state);
  await until(() => state.usable, 'the shared state to register');
  return state;
}

const handle = (viewerId: string | null) => ({ id: randomUUID(), viewerId, drop: () => {} });

describe('connection counts and caps', () => {
  it('counts a user once however many processes hold their connections, and caps them over all of them', async () => {
    const [a, b] = [await cluster(), await cluster()];
    const [onA, onB] = [new ConnectionRegistry(a), new ConnectionRegistry(b)];
    const user = randomUUID();
    expect(await onA.admit(handle(user), 2)).toBe(true);
    expect(await onB.admit(handle(user), 2)).toBe(true);
    expect(await onA.admit(handle(user), 2)).toBe(false);
    expect(await onB.admit(handle(user), 2)).toBe(false);
    expect(await onB.admit(handle(null), 2)).toBe(true);
    const counts = await onA.counts();
    expect(counts.connections).toBeGreaterThanOrEqual(3);
    // A second user on one process only: one more online user.
    const before = counts.onlineUsers;
    const other = handle(randomUUID());
    expect(await onB.admit(other, 2)).toBe(true);
    expect((await onA.counts()).onlineUsers).toBe(before + 1);
    onB.remove(other.id);
    await until(() => onB.countFor(other.viewerId!) === 0, 'the release');
    expect((await onA.counts()).onlineUsers).toBe(before);
  });

  it('gives no slot twice under concurrent admissions on two processes', async () => {
    const [a, b] = [await cluster(), await cluster()];
    const [onA, onB] = [new ConnectionRegistry(a), new ConnectionRegistry(b)];
    const user = randomUUID();
    const admitted = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? onA : onB).admit(handle(user), 5)));
    expect(admitted.filter(Boolean)).toHaveLength(5);
  });

  it('frees a slot released before its admission was answered', async () => {
    const a = await cluster();
    const registry = new ConnectionRegistry(a);
    const user = randomUUID();
    const first = handle(user);
    const pending = registry.admit(first, 1);
    registry.remove(first.id);
    await pending;
    expect(await registry.admit(handle(user), 1)).toBe(true);
  });
});

describe('a dead process', () => {
  it('has its entries removed, and its last presence reported once, within about 1.5 liveness intervals', async () => {
    const [a, b, c] = [await cluster(500), await cluster(500), await cluster(500)];
    const fell: string[] = [];
    for (const state of [b, c]) state.onChange((family, key, present) => family === 'presence' && !present && fell.push(key));
    const user = randomUUID();
    const room = randomUUID();
    const registry = new ConnectionRegistry(a);
    expect(await registry.admit(handle(user), 1)).toBe(true);
    await a.counter('presence').acquire('p1', `${room}:${user}`);
    await c.counter('presence').acquire('p2', `${room}:other`);
    // Killed: no more heartbeats, nothing cleaned up.
    a.client.disconnect();
    await until(() => fell.length >= 1, 'the sweep', 10_000);
    expect(fell).toEqual([`${room}:${user}`]);
    // The cap counts the dead process's connection no longer.
    expect(await new ConnectionRegistry(b).admit(handle(user), 1)).toBe(true);
    expect(fell).toHaveLength(1);
  });
});

describe('a process that stops', () => {
  it('removes its entries at once, without waiting for its liveness key to expire', async () => {
    const [a, b] = [await cluster(60_000), await cluster(60_000)];
    const user = randomUUID();
    const left: string[] = [];
    a.onChange((family, key, present) => family === 'presence' && !present && left.push(key));
    expect(await new ConnectionRegistry(a).admit(handle(user), 1)).toBe(true);
    await a.counter('presence').acquire('p', `room:${user}`);
    await a.close();
    expect(left).toEqual([`room:${user}`]);
    expect(await new ConnectionRegistry(b).admit(handle(user), 1)).toBe(true);
  });
});

describe('typing', () => {
  it('is throttled and cleared once for every process', async () => {
    const [a, b] = [await cluster(), await cluster()];
    const published: boolean[] = [];
    const tracker = (state: ClusterState) =>
      new TypingTracker({ throttleMs: 300, timeoutMs: 600, cluster: state, publish: (_room, _user, typing) => published.push(typing) });
    const [onA, onB] = [tracker(a), tracker(b)];
    const [room, user] = [randomUUID(), randomUUID()];
    onA.set(room, user, true);
    onB.set(room, user, true);
    onA.set(room, user, true);
    // One `true`; then, with no further call, one `false` from the expiry (whichever process's timer runs first).
    await until(() => published.length >= 2, 'typing to expire', 10_000);
    // Once the state is forgotten (its last window over) nothing more can be published.
    let stored = 1;
    const key = `${prefix}cluster:typing:${room}:${user}`;
    await until(() => (void admin.exists(key).then((n) => (stored = n)), stored === 0), 'the typing state to be forgotten', 10_000);
    expect(published).toEqual([true, false]);
    onA.close();
    onB.close();
  });
});

describe('the chat message limit', () => {
  it('is one count for every process', async () => {
    const [a, b] = [await cluster(), await cluster()];
    const limiters = [a, b].map((state) => new MessageLimiter(3, 60_000, { client: state.client, prefix }));
    const user = randomUUID();
    const waits = [];
    for (let i = 0; i < 4; i++) waits.push(await limiters[i % 2]!.take(user));
    expect(waits.slice(0, 3)).toEqual([0, 0, 0]);
    expect(waits[3]).toBeGreaterThan(0);
  });
});

/** A TCP relay to Redis whose connections the test cuts (`down`) and allows again (`up`). */
async function relay(): Promise<{ url: string; down(): void; up(): void; close(): Promise<void> }> {
  const target = new URL(REDIS_URL);
  let open = true;
  const pairs = new Set<[Socket, Socket]>();
  const server: Server = createServer((client) => {
    if (!open) return void client.destroy();
    const upstream = new Socket().connect(Number(target.port || 6379), target.hostname);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.pipe(upstream).pipe(client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `redis://127.0.0.1:${port}`,
    down() {
      open = false;
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
    },
    up() {
      open = true;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('a Redis outage', () => {
  it('falls back to local counts, then writes the local state again when Redis returns', async () => {
    const proxy = await relay();
    try {
      const a = await cluster(1_000, proxy.url);
      const b = await cluster();
      const rose: string[] = [];
      a.onChange((family, key, present) => present && family === 'presence' && rose.push(key));
      const user = randomUUID();
      const registry = new ConnectionRegistry(a);
      const seen = new ConnectionRegistry(b);
      proxy.down();
      await until(() => !a.usable, 'the outage to be noticed', 10_000);
      // Counted locally: admitted up to the cap on this process, refused beyond it, nothing thrown.
      expect(await registry.admit(handle(user), 1)).toBe(true);
      expect(await registry.admit(handle(user), 1)).toBe(false);
      const room = randomUUID();
      expect((await a.counter('presence').acquire('p', `${room}:${user}`)).first).toBe(true);
      proxy.up();
      await until(() => a.usable, 'Redis to return', 20_000);
      // Re-registered: the other process sees the connection in the cap, and the presence was announced.
      await until(() => rose.includes(`${room}:${user}`), 'presence to be written again', 10_000);
      expect(await seen.admit(handle(user), 1)).toBe(false);
    } finally {
      proxy.down();
      await proxy.close();
    }
  });
});
