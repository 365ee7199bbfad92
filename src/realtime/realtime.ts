/** The process's realtime state: open connections, room channels (membership and presence), typing, message limits. */
import type { PubSub } from '../pubsub/pubsub.js';
import type { Config } from '../config.js';
import { Topic, type Topics } from '../pubsub/topics.js';
import { ConnectionRegistry } from './connections.js';
import { LiveSessions } from './live-sessions.js';
import { MessageLimiter } from './message-limiter.js';
import type { StreamCount } from './queue.js';
import { RoomChannels } from './room-channels.js';
import { TypingTracker } from './typing.js';

export function createRealtime(config: Config, pubsub: PubSub<Topics>, loadMembers: (roomId: string) => Promise<string[]>) {
  const { realtime } = config;
  const connections = new ConnectionRegistry();
  const sessions = new LiveSessions({ pubsub, connections });
  const channels = new RoomChannels({ pubsub, loadMembers, queueLimit: realtime.subscriptionQueueLimit });
  const typing = new TypingTracker({
    throttleMs: realtime.typingThrottleMs,
    timeoutMs: realtime.typingTimeoutMs,
    publish: (roomId, userId, isTyping) => pubsub.publish(Topic.RoomEvent, roomId, { type: 'TYPING', roomId, userId, typing: isTyping }),
  });
  const limiter = new MessageLimiter(realtime.messageLimit, realtime.messageWindowMs);
  return {
    config: realtime,
    connections,
    /** Signed-in connections by user and session: revocations and token expiry close them (src/realtime/live-sessions.ts). */
    sessions,
    channels,
    typing,
    limiter,
    /** Open per-user streams (direct messages, notifications). */
    streams: { open: 0 } as StreamCount,
    close() {
      typing.close();
      channels.close();
    },
  };
}

export type Realtime = ReturnType<typeof createRealtime>;
