import { setMaxListeners } from 'node:events';
import { createPubSub, type PubSub } from '@graphql-yoga/subscription';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { Redis } from 'ioredis';
import { answersPing, closeRedis } from './redis.js';
import type { Topics } from './topics.js';

export interface AppPubSub {
  pubsub: PubSub<Topics>;
  kind: 'memory' | 'redis';
  /** Redis only: both connections are up and the server answers a PING within a second. */
  reachable?(): Promise<boolean>;
  close(): Promise<void>;
}

/** What a Redis connection reports when it fails (logged by the caller, once per outage). */
export type RedisErrorHandler = (error: unknown, client: 'publish' | 'subscribe') => void;

/**
 * In-process pub/sub, or Redis-backed when a URL is given so several processes share events.
 *
 * A Redis outage must not end the process: graphql-yoga's Redis event target drops the promises of its PUBLISH and
 * SUBSCRIBE calls, whose rejections would be unhandled. Its clients are given here with those calls guarded:
 * - SUBSCRIBE waits for the connection however long it takes (`maxRetriesPerRequest: null`), so a topic first
 *   subscribed during an outage is subscribed when Redis returns (and ioredis resubscribes the others itself);
 * - PUBLISH is retried over three reconnects, then given up with a log line: those events are lost to live
 *   subscribers, as they would be with any broker down.
 */
export function createAppPubSub(redisUrl: string | null, onError: RedisErrorHandler = () => {}): AppPubSub {
  if (!redisUrl) {
    // Every subscription listens on its topic: hundreds of listeners on one topic are normal here, not a leak.
    const eventTarget = new EventTarget();
    setMaxListeners(0, eventTarget);
    return { pubsub: createPubSub<Topics>({ eventTarget }), kind: 'memory', close: async () => {} };
  }
  const publishClient = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  const subscribeClient = new Redis(redisUrl, { maxRetriesPerRequest: null });
  reportErrors(publishClient, (error) => onError(error, 'publish'));
  reportErrors(subscribeClient, (error) => onError(error, 'subscribe'));
  const eventTarget = createRedisEventTarget({
    publishClient: guarded(publishClient, (error) => onError(error, 'publish')),
    subscribeClient: guarded(subscribeClient, (error) => onError(error, 'subscribe')),
  });
  return {
    pubsub: createPubSub<Topics>({ eventTarget }),
    kind: 'redis',
    reachable: async () => (await Promise.all([answersPing(publishClient), answersPing(subscribeClient)])).every(Boolean),
    async close() {
      await Promise.all([closeRedis(publishClient), closeRedis(subscribeClient)]);
    },
  };
}

const GUARDED_COMMANDS: ReadonlySet<PropertyKey> = new Set(['publish', 'subscribe', 'unsubscribe']);

/** The client as the event target sees it: the commands whose promises it drops report their failure instead. */
function guarded(client: Redis, onError: (error: unknown) => void): Redis {
  return new Proxy(client, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || !GUARDED_COMMANDS.has(property)) return value;
      return (...args: unknown[]) => {
        const reply = (value as (...args: unknown[]) => Promise<unknown>).apply(target, args);
        reply.catch(onError);
        return reply;
      };
    },
  });
}

/** Connection errors, once per outage (ioredis emits one per reconnect attempt, and prints them when unheard). */
function reportErrors(client: Redis, onError: (error: unknown) => void): void {
  let reported = false;
  client.on('error', (error) => {
    if (!reported) onError(error);
    reported = true;
  });
  client.on('ready', () => (reported = false));
}
