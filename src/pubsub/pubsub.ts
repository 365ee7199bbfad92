import { setMaxListeners } from 'node:events';
import { createPubSub, type PubSub } from '@graphql-yoga/subscription';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { Redis } from 'ioredis';
import type { Topics } from './topics.js';

export interface AppPubSub {
  pubsub: PubSub<Topics>;
  kind: 'memory' | 'redis';
  close(): Promise<void>;
}

/** In-process pub/sub, or Redis-backed when a URL is given so several processes share events. */
export function createAppPubSub(redisUrl: string | null): AppPubSub {
  if (!redisUrl) {
    // Every subscription listens on its topic: hundreds of listeners on one topic are normal here, not a leak.
    const eventTarget = new EventTarget();
    setMaxListeners(0, eventTarget);
    return { pubsub: createPubSub<Topics>({ eventTarget }), kind: 'memory', close: async () => {} };
  }
  const publishClient = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  const subscribeClient = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  return {
    pubsub: createPubSub<Topics>({ eventTarget: createRedisEventTarget({ publishClient, subscribeClient }) }),
    kind: 'redis',
    async close() {
      await Promise.allSettled([publishClient.quit(), subscribeClient.quit()]);
    },
  };
}
