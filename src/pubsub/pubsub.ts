import { Redis } from 'ioredis';
import { processId } from '../realtime/process-id.js';
import { answersPing, closeRedis } from './redis.js';
import type { Topics } from './topics.js';

/** Topics whose events are routed by an id (`publish(topic, id, payload)`, `subscribe(topic, id)`). */
type Routed<T extends PubSubTopics> = { [K in keyof T]: T[K] extends [unknown, unknown] ? K : never }[keyof T];
type PubSubTopics = Record<string, [unknown] | [string, unknown]>;
/** What a subscriber of a topic receives: the payload, the last publish argument. */
export type PayloadOf<T extends PubSubTopics, K extends keyof T> = T[K] extends [string, infer P] ? P : T[K][0];

/**
 * The process's pub/sub, shaped as TypeGraphQL's `pubSub` option and the services use it: `publish(topic, [id],
 * payload)`, `subscribe(topic, [id])`. Publishing never waits for, and cannot be thrown at by, a subscriber.
 */
export interface PubSub<T extends PubSubTopics = Topics> {
  publish<K extends Extract<keyof T, string>>(topic: K, ...args: T[K]): void;
  subscribe<K extends Extract<keyof T, string>>(
    ...args: K extends Routed<T> ? [topic: K, id: T[K][0]] : [topic: K]
  ): TopicSubscription<PayloadOf<T, K>>;
}

export interface AppPubSub {
  pubsub: PubSub<Topics>;
  kind: 'memory' | 'redis';
  /** Redis only: both connections are up and the server answers a PING within a second. */
  reachable?(): Promise<boolean>;
  /**
   * Observes every event as it arrives at this process (once per event, however many local subscribers it has):
   * whether this process published it, and for another process's events the publish-to-receipt delay (ms).
   */
  observe(observer: EventObserver): () => void;
  close(): Promise<void>;
}

export type EventOrigin = 'self' | 'peer';
export type EventObserver = (origin: EventOrigin, delayMs: number | null) => void;

/** What a Redis connection reports when it fails (logged by the caller, once per outage). */
export type RedisErrorHandler = (error: unknown, client: 'publish' | 'subscribe') => void;

/** When an event was published (ms since the epoch, sub-millisecond), for the fan-out's publish-to-write metric. */
const publishTimes = new WeakMap<object, number>();
export const publishedAt = (event: unknown): number | undefined =>
  typeof event === 'object' && event !== null ? publishTimes.get(event) : undefined;
const now = () => performance.timeOrigin + performance.now();

/**
 * One subscriber's events. Registered with its topic from the moment it is created (an event published after
 * `subscribe()` returned is never missed). Read as an async iterator, or handed to a sink (`attach`): the bounded
 * per-subscriber queue attaches itself, so the publisher's loop pushes into it directly — no promise, no buffer and no
 * listener of its own per subscriber.
 */
export class TopicSubscription<T> implements AsyncIterableIterator<T> {
  private buffer: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | null = null;
  private sink: ((value: T) => void) | null = null;
  private ended = false;

  constructor(private readonly detach: (subscription: TopicSubscription<T>) => void) {}

  /** Called by the topic's dispatch loop for each event. */
  deliver(value: T): void {
    if (this.ended) return;
    if (this.sink) return this.sink(value);
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = null;
      waiting({ value, done: false });
    } else this.buffer.push(value);
  }

  /** From now on every event goes to `sink`, synchronously (what was already buffered first). */
  attach(sink: (value: T) => void): void {
    const held = this.buffer;
    this.buffer = [];
    this.sink = sink;
    for (const value of held) sink(value);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffer.length > 0) return Promise.resolve({ value: this.buffer.shift()!, done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiting = resolve));
  }

  /** Leaves the topic at once; a pending `next()` resolves `done`. */
  return(): Promise<IteratorResult<T>> {
    if (!this.ended) {
      this.ended = true;
      this.buffer = [];
      this.sink = null;
      this.detach(this);
      this.waiting?.({ value: undefined, done: true });
      this.waiting = null;
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    void this.return();
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

export const isTopicSubscription = (value: unknown): value is TopicSubscription<unknown> => value instanceof TopicSubscription;

/**
 * The local half of the pub/sub: one entry per channel (topic, or topic and routing id) holding the Set of this
 * process's subscribers. An event is handed to each in one synchronous loop.
 */
class Channels {
  private readonly channels = new Map<string, Set<TopicSubscription<unknown>>>();

  constructor(
    private readonly hooks: {
      /** The channel got its first local subscriber / lost its last one. */
      opened?(channel: string): void;
      closed?(channel: string): void;
    } = {},
  ) {}

  subscribe<T>(channel: string): TopicSubscription<T> {
    const subscription = new TopicSubscription<T>((gone) => this.leave(channel, gone as TopicSubscription<unknown>));
    let subscribers = this.channels.get(channel);
    if (!subscribers) {
      this.channels.set(channel, (subscribers = new Set()));
      this.hooks.opened?.(channel);
    }
    subscribers.add(subscription as TopicSubscription<unknown>);
    return subscription;
  }

  dispatch(channel: string, event: unknown): void {
    const subscribers = this.channels.get(channel);
    if (!subscribers) return;
    // A subscriber leaving during the loop (its queue overflowed) is skipped from then on, as a Set allows.
    for (const subscriber of subscribers) {
      try {
        subscriber.deliver(event);
      } catch {
        // A subscriber cannot throw at the publisher or keep the event from the others: a broken one is let go.
        void subscriber.return();
      }
    }
  }

  private leave(channel: string, subscription: TopicSubscription<unknown>): void {
    const subscribers = this.channels.get(channel);
    if (!subscribers?.delete(subscription) || subscribers.size > 0) return;
    this.channels.delete(channel);
    this.hooks.closed?.(channel);
  }
}

/** The channel of a topic (and routing id): the local key, and under the Redis prefix the Redis channel. */
const channelOf = (topic: string, id?: unknown) => (id === undefined || id === null ? topic : `${topic}:${String(id)}`);

/** A published event as it travels through Redis: who published it and when, with the payload. */
interface Envelope {
  /** The publishing process (src/realtime/process-id.ts). */
  o: string;
  /** Published at, ms since the epoch. */
  t: number;
  /** The payload. */
  d: unknown;
}

/** Splits `publish(topic, [id], payload)` arguments. */
function route(args: unknown[]): { id: unknown; payload: unknown } {
  return args.length >= 2 ? { id: args[0], payload: args[1] } : { id: undefined, payload: args[0] };
}

function observers() {
  const list = new Set<EventObserver>();
  return {
    notify(origin: EventOrigin, delayMs: number | null) {
      for (const observer of list) observer(origin, delayMs);
    },
    observe(observer: EventObserver) {
      list.add(observer);
      return () => void list.delete(observer);
    },
  };
}

/** In-process pub/sub: an event goes from `publish` to every subscriber of its channel in one loop. */
export function createMemoryPubSub(): AppPubSub {
  const channels = new Channels();
  const watch = observers();
  const pubsub = {
    publish(topic: string, ...args: unknown[]) {
      const { id, payload } = route(args);
      if (typeof payload === 'object' && payload !== null) publishTimes.set(payload, now());
      watch.notify('self', null);
      channels.dispatch(channelOf(topic, id), payload);
    },
    subscribe: (topic: string, id?: unknown) => channels.subscribe(channelOf(topic, id)),
  } as PubSub<Topics>;
  return { pubsub, kind: 'memory', observe: watch.observe, close: async () => {} };
}

/**
 * In-process pub/sub, or Redis-backed when a URL is given so several processes share events. With Redis, every
 * event goes through Redis (also to this process's own subscribers), and each process holds ONE Redis subscription
 * per channel with local subscribers, whatever their number, under `prefix`.
 *
 * A Redis outage must not end the process, and every Redis call's promise is handled:
 * - SUBSCRIBE waits for the connection however long it takes (`maxRetriesPerRequest: null`), so a channel first
 *   subscribed during an outage is subscribed when Redis returns (and ioredis resubscribes the others itself);
 * - PUBLISH is retried over three reconnects, then given up with a log line: those events are lost to live
 *   subscribers, as they would be with any broker down;
 * - connection errors are reported once per outage.
 */
export function createAppPubSub(
  redisUrl: string | null,
  onError: RedisErrorHandler = () => {},
  options: { prefix?: string } = {},
): AppPubSub {
  if (!redisUrl) return createMemoryPubSub();
  const prefix = `${options.prefix ?? 'opshub:'}pubsub:`;
  const publishClient = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  const subscribeClient = new Redis(redisUrl, { maxRetriesPerRequest: null });
  reportErrors(publishClient, (error) => onError(error, 'publish'));
  reportErrors(subscribeClient, (error) => onError(error, 'subscribe'));
  const watch = observers();
  const channels = new Channels({
    opened: (channel) => void subscribeClient.subscribe(prefix + channel).catch((error: unknown) => onError(error, 'subscribe')),
    closed: (channel) => void subscribeClient.unsubscribe(prefix + channel).catch((error: unknown) => onError(error, 'subscribe')),
  });
  subscribeClient.on('message', (redisChannel: string, message: string) => {
    if (!redisChannel.startsWith(prefix)) return;
    let envelope: Envelope;
    try {
      envelope = JSON.parse(message) as Envelope;
    } catch {
      return;
    }
    if (typeof envelope !== 'object' || envelope === null || typeof envelope.o !== 'string') return;
    const self = envelope.o === processId;
    watch.notify(self ? 'self' : 'peer', self ? null : Math.max(0, Date.now() - envelope.t));
    const payload = envelope.d;
    if (typeof payload === 'object' && payload !== null && typeof envelope.t === 'number') publishTimes.set(payload, envelope.t);
    channels.dispatch(redisChannel.slice(prefix.length), payload);
  });
  const pubsub = {
    publish(topic: string, ...args: unknown[]) {
      const { id, payload } = route(args);
      const envelope: Envelope = { o: processId, t: now(), d: payload };
      publishClient.publish(prefix + channelOf(topic, id), JSON.stringify(envelope)).catch((error: unknown) => onError(error, 'publish'));
    },
    subscribe: (topic: string, id?: unknown) => channels.subscribe(channelOf(topic, id)),
  } as PubSub<Topics>;
  return {
    pubsub,
    kind: 'redis',
    observe: watch.observe,
    reachable: async () => (await Promise.all([answersPing(publishClient), answersPing(subscribeClient)])).every(Boolean),
    async close() {
      await Promise.all([closeRedis(publishClient), closeRedis(subscribeClient)]);
    },
  };
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
