/**
 * Room event delivery in this process: one pub/sub subscription per room with local subscribers (however many
 * subscribe to it), the room's member set, and presence.
 *
 * Per-event authorization: every event is checked against the member set when the subscriber takes it from its
 * queue, not only when it subscribed. The set is loaded from the database when the room's first local subscription
 * opens and kept current by the room's own JOINED/LEFT membership events, which arrive in order with its messages
 * (with REDIS_URL, from every process), and directly by the service right after a join/leave commits. A member who
 * leaves (or is removed) has their subscriptions to the room completed at once, on every connection.
 *
 * Presence: a member's first open subscription to the room publishes JOINED (membership: false), their last one
 * closing (completed, socket closed, or terminated by keep-alive) publishes LEFT. With REDIS_URL "first" and "last"
 * are over every process (src/realtime/cluster-state.ts): this process counts its own subscriptions and tells Redis
 * when it holds its first and releases its last; a process that dies has its LEFTs published by the one that finds
 * it dead.
 */
import type { PubSub } from '../pubsub/pubsub.js';
import { Topic, type RoomEvent, type Topics } from '../pubsub/topics.js';
import type { ClusterState, SharedCounter } from './cluster-state.js';
import type { ConnectionHandle } from './connections.js';
import { EventQueue, markBounded, SLOW_SUBSCRIBER } from './queue.js';
import { END, pipeStream, SKIP } from './streams.js';

interface Subscriber {
  viewerId: string;
  queue: EventQueue<RoomEvent>;
}

interface Channel {
  roomId: string;
  members: Set<string>;
  subscribers: Set<Subscriber>;
  /** Open subscriptions per user, for presence. */
  presence: Map<string, number>;
  /** Subscriptions waiting for `ready`; the channel is not torn down under them. */
  opening: number;
  ready: Promise<void>;
  stop(): void;
}

export interface RoomChannelOptions {
  pubsub: PubSub<Topics>;
  loadMembers(roomId: string): Promise<string[]>;
  /** Undelivered events one subscriber may hold before it is dropped. */
  queueLimit: number;
  log?: { warn(object: object, message: string): void; error(object: object, message: string): void };
  /** With REDIS_URL: presence over every process. */
  cluster?: ClusterState | null;
}

/** A member's presence in a room, as a key of the shared presence counts. */
const presenceKey = (roomId: string, userId: string) => `${roomId}:${userId}`;

export class RoomChannels {
  private readonly channels = new Map<string, Channel>();
  private readonly presence: SharedCounter | null;

  constructor(private readonly options: RoomChannelOptions) {
    this.presence = options.cluster?.counter('presence') ?? null;
    // Presence that changed outside a subscribe or unsubscribe here: a dead process swept, or this process's own
    // presence written again after a Redis outage.
    options.cluster?.onChange((family, key, present) => {
      if (family !== 'presence') return;
      const [roomId, userId] = key.split(':') as [string, string];
      this.publishPresence(roomId, userId, present);
    });
  }

  /** Local subscriptions open, over all rooms (for tests and metrics). */
  get subscriberCount(): number {
    let total = 0;
    for (const channel of this.channels.values()) total += channel.subscribers.size;
    return total;
  }

  /** Local subscriptions open to one room. */
  subscriberCountOf(roomId: string): number {
    return this.channels.get(roomId)?.subscribers.size ?? 0;
  }

  /**
   * The room's events for one member, in publication order, without the viewer's own typing and presence. The
   * caller has checked membership against the database; the stream completes when the viewer stops being a member.
   */
  async subscribe<T extends RoomEvent = RoomEvent>(
    roomId: string,
    viewerId: string,
    connection?: ConnectionHandle,
    /** Orders (and replays) the subscriber's queued events before the per-event check (src/realtime/ordered.ts). */
    order?: (queued: AsyncIterable<RoomEvent>) => AsyncIterable<T>,
  ): Promise<AsyncIterableIterator<T>> {
    const channel = this.channel(roomId);
    channel.opening += 1;
    try {
      await channel.ready;
    } finally {
      channel.opening -= 1;
    }
    const subscriber: Subscriber = {
      viewerId,
      queue: new EventQueue<RoomEvent>(this.options.queueLimit, {
        onOverflow: () => {
          this.options.log?.warn({ roomId, userId: viewerId, connectionId: connection?.id }, 'room subscriber dropped: queue full');
          connection?.drop(SLOW_SUBSCRIBER);
        },
        onEnd: () => this.unsubscribe(channel, subscriber),
      }),
    };
    channel.subscribers.add(subscriber);
    const open = (channel.presence.get(viewerId) ?? 0) + 1;
    channel.presence.set(viewerId, open);
    if (open === 1) {
      if (!this.presence) this.publishPresence(roomId, viewerId, true);
      else {
        void this.presence.acquire(presenceKey(roomId, viewerId), presenceKey(roomId, viewerId)).then(({ first }) => {
          if (first) this.publishPresence(roomId, viewerId, true);
        });
      }
    }

    return markBounded(
      pipeStream(order ? order(subscriber.queue) : (subscriber.queue as AsyncIterable<T>), (event) => {
        // The per-event check: membership as it is now, whenever this event is delivered.
        if (!channel.members.has(viewerId)) return END;
        return event.type !== 'MESSAGE' && event.userId === viewerId ? SKIP : event;
      }),
    );
  }

  /** Called right after a join committed (the published JOINED event does the same in every process). */
  memberAdded(roomId: string, userId: string): void {
    this.channels.get(roomId)?.members.add(userId);
  }

  /** Called right after a leave committed: the user's subscriptions to the room complete now. */
  memberRemoved(roomId: string, userId: string): void {
    const channel = this.channels.get(roomId);
    if (channel) this.removeMember(channel, userId);
  }

  /** Completes every local subscription (server shutdown). */
  close(): void {
    for (const channel of [...this.channels.values()]) {
      for (const subscriber of [...channel.subscribers]) subscriber.queue.end();
    }
  }

  private channel(roomId: string): Channel {
    const existing = this.channels.get(roomId);
    if (existing) return existing;
    const iterator = this.options.pubsub.subscribe(Topic.RoomEvent, roomId)[Symbol.asyncIterator]();
    // The first next() starts listening, before the member set is read: a join or leave that commits while it
    // loads is applied afterwards, in order, so the set cannot miss it.
    let pending = iterator.next();
    const channel: Channel = {
      roomId,
      members: new Set(),
      subscribers: new Set(),
      presence: new Map(),
      opening: 0,
      ready: this.options.loadMembers(roomId).then(
        (ids) => {
          for (const id of ids) channel.members.add(id);
        },
        (error: unknown) => {
          this.teardown(channel);
          throw error;
        },
      ),
      stop: () => void iterator.return?.(),
    };
    this.channels.set(roomId, channel);
    const pump = async () => {
      for (;;) {
        const result = await pending;
        if (result.done) return;
        this.dispatch(channel, result.value);
        pending = iterator.next();
      }
    };
    // A failed member load is reported to the subscriber that waited for it (see `ready`); nothing to pump then.
    channel.ready
      .then(pump, () => undefined)
      .catch((error: unknown) => {
        this.options.log?.error({ err: error, roomId }, 'room event delivery stopped');
        for (const subscriber of [...channel.subscribers]) subscriber.queue.end();
      });
    return channel;
  }

  private dispatch(channel: Channel, event: RoomEvent): void {
    if (event.type === 'JOINED' && event.membership) channel.members.add(event.userId);
    if (event.type === 'LEFT' && event.membership) this.removeMember(channel, event.userId);
    for (const subscriber of channel.subscribers) subscriber.queue.push(event);
  }

  private removeMember(channel: Channel, userId: string): void {
    channel.members.delete(userId);
    for (const subscriber of [...channel.subscribers]) {
      if (subscriber.viewerId === userId) subscriber.queue.end();
    }
  }

  private unsubscribe(channel: Channel, subscriber: Subscriber): void {
    if (!channel.subscribers.delete(subscriber)) return;
    const open = (channel.presence.get(subscriber.viewerId) ?? 1) - 1;
    if (open > 0) channel.presence.set(subscriber.viewerId, open);
    else {
      channel.presence.delete(subscriber.viewerId);
      // A member who left the room was announced by the leave itself.
      const announce = channel.members.has(subscriber.viewerId);
      if (!this.presence) {
        if (announce) this.publishPresence(channel.roomId, subscriber.viewerId, false);
      } else {
        void this.presence.release(presenceKey(channel.roomId, subscriber.viewerId)).then((last) => {
          if (last && announce) this.publishPresence(channel.roomId, subscriber.viewerId, false);
        });
      }
    }
    if (channel.subscribers.size === 0 && channel.opening === 0) this.teardown(channel);
  }

  private publishPresence(roomId: string, userId: string, present: boolean): void {
    this.options.pubsub.publish(Topic.RoomEvent, roomId, { type: present ? 'JOINED' : 'LEFT', roomId, userId, membership: false });
  }

  private teardown(channel: Channel): void {
    if (this.channels.get(channel.roomId) === channel) this.channels.delete(channel.roomId);
    channel.stop();
  }
}
