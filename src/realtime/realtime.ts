/**
 * The process's realtime state: open connections, room channels (membership and presence), typing, message limits.
 * With REDIS_URL, presence, typing, the message limit, connection caps and counts are shared by every process
 * (src/realtime/cluster-state.ts); without it they are this process's.
 */
import type { PubSub } from '../pubsub/pubsub.js';
import type { Config } from '../config.js';
import { Topic, type Topics } from '../pubsub/topics.js';
import { ClusterState } from './cluster-state.js';
import { ConnectionRegistry } from './connections.js';
import { LiveSessions } from './live-sessions.js';
import { MessageLimiter } from './message-limiter.js';
import type { StreamCount } from './queue.js';
import { RoomChannels } from './room-channels.js';
import { TypingTracker } from './typing.js';

export function createRealtime(config: Config, pubsub: PubSub<Topics>, loadMembers: (roomId: string) => Promise<string[]>) {
  const { realtime } = config;
  // A dead process's entries go within about one and a half keep-alive intervals, as a dead socket does.
  const cluster = config.redisUrl
    ? new ClusterState({ redisUrl: config.redisUrl, prefix: config.redisPrefix, livenessMs: realtime.keepAliveMs })
    : null;
  const connections = new ConnectionRegistry(cluster);
  const sessions = new LiveSessions({ pubsub, connections });
  const channels = new RoomChannels({ pubsub, loadMembers, queueLimit: realtime.subscriptionQueueLimit, cluster });
  const typing = new TypingTracker({
    throttleMs: realtime.typingThrottleMs,
    timeoutMs: realtime.typingTimeoutMs,
    publish: (roomId, userId, isTyping) => pubsub.publish(Topic.RoomEvent, roomId, { type: 'TYPING', roomId, userId, typing: isTyping }),
    cluster,
  });
  const limiter = new MessageLimiter(
    realtime.messageLimit,
    realtime.messageWindowMs,
    cluster && { client: cluster.client, prefix: config.redisPrefix },
  );
  return {
    config: realtime,
    /** With REDIS_URL: the state shared with the other processes; null without. */
    cluster,
    connections,
    /** Signed-in connections by user and session: revocations and token expiry close them (src/realtime/live-sessions.ts). */
    sessions,
    channels,
    typing,
    limiter,
    /** Open per-user streams (direct messages, notifications). */
    streams: { open: 0 } as StreamCount,
    /** Ends local subscriptions; with REDIS_URL, removes this process's shared entries and closes its connection. */
    async close() {
      typing.close();
      channels.close();
      await cluster?.close();
    },
  };
}

export type Realtime = ReturnType<typeof createRealtime>;
