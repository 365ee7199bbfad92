import { isTopicSubscription } from '../pubsub/pubsub.js';

/**
 * The mark of a stream whose events already wait in a bounded per-subscriber queue (an EventQueue, or a stream read
 * from one): the operation core does not queue them a second time.
 */
export const BOUNDED: unique symbol = Symbol('bounded');

export function markBounded<T extends object>(stream: T): T {
  Object.defineProperty(stream, BOUNDED, { value: true });
  return stream;
}

export function isBounded(stream: unknown): boolean {
  return typeof stream === 'object' && stream !== null && (stream as { [BOUNDED]?: boolean })[BOUNDED] === true;
}

/**
 * A bounded queue of events for one subscriber, read as an async iterator. Publishing never waits for a reader:
 * a subscriber that stops reading (its socket no longer drains) fills only its own queue, and when that passes the
 * limit the subscriber is dropped (`onOverflow`) instead of holding memory or the publisher up.
 *
 * A plain array and at most one waiting reader, not a Repeater: a broadcast event is pushed into thousands of these
 * in one loop, and each push costs no promise unless a reader is waiting for it.
 */
export class EventQueue<T> implements AsyncIterableIterator<T> {
  readonly [BOUNDED] = true;
  private items: T[] = [];
  private head = 0;
  private waiting: { resolve(result: IteratorResult<T>): void; reject(error: unknown): void } | null = null;
  private ended = false;
  /** finish(error): the reader gets it after what is queued. */
  private failure: { error: unknown } | null = null;

  constructor(
    private readonly limit: number,
    private readonly hooks: { onOverflow?: () => void; onEnd?: () => void } = {},
  ) {}

  get closed(): boolean {
    return this.ended;
  }

  /** Events waiting for the reader. */
  get size(): number {
    return this.items.length - this.head;
  }

  push(value: T): void {
    if (this.ended) return;
    const waiting = this.waiting;
    // A waiting reader is handed the event directly: the queue stays empty.
    if (waiting) {
      this.waiting = null;
      waiting.resolve({ value, done: false });
      return;
    }
    // Full means `limit` events wait for a reader that stopped taking them.
    if (this.size >= this.limit) {
      this.end();
      this.hooks.onOverflow?.();
      return;
    }
    this.items.push(value);
  }

  /** The source has no more (or failed): the reader gets what is queued, then `done` (or the error). Idempotent. */
  finish(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    if (error !== undefined) this.failure = { error };
    const waiting = this.waiting;
    this.waiting = null;
    if (waiting) this.settle(waiting);
    this.hooks.onEnd?.();
  }

  /** Ends the stream: queued events are dropped, a pending reader gets `done`. Idempotent. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.items = [];
    this.head = 0;
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.resolve({ value: undefined, done: true });
    this.hooks.onEnd?.();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.size > 0) {
      const value = this.items[this.head]!;
      this.items[this.head++] = undefined as T;
      // Compacted now and then, so a long-lived queue's array does not keep growing at its front.
      if (this.head === this.items.length) {
        this.items = [];
        this.head = 0;
      } else if (this.head >= 1_024) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.ended) return new Promise((resolve, reject) => this.settle({ resolve, reject }));
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    this.end();
    this.failure = null;
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    this.end();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The answer of a read once the queue is empty and ended: its failure, once, then `done`. */
  private settle(reader: { resolve(result: IteratorResult<T>): void; reject(error: unknown): void }): void {
    const failure = this.failure;
    this.failure = null;
    if (failure) reader.reject(failure.error);
    else reader.resolve({ value: undefined, done: true });
  }
}

/**
 * Why a subscriber's connection was dropped when its queue overflowed; a client resumes each stream from the last
 * `streamCursor` it received (the README's reconnect recipe).
 */
export const SLOW_SUBSCRIBER = 'Subscriber too slow: resume from the last streamCursor';

/** Open subscriptions of a kind; a stream counts from the moment it listens (tests and metrics read it). */
export interface StreamCount {
  open: number;
}

/**
 * Reads `source` (a pub/sub subscription) as fast as it produces into a bounded EventQueue, so a subscriber that
 * stops reading never backs up the pub/sub; past `limit` undelivered events its connection is dropped.
 */
export function bounded<T>(
  source: AsyncIterable<T>,
  limit: number,
  connection?: { drop(reason: string): void },
  streams?: StreamCount,
): AsyncIterableIterator<T> {
  const iterator = source[Symbol.asyncIterator]();
  if (streams) streams.open += 1;
  const queue = new EventQueue<T>(limit, {
    onOverflow: () => connection?.drop(SLOW_SUBSCRIBER),
    onEnd: () => {
      if (streams) streams.open -= 1;
      void iterator.return?.();
    },
  });
  // A pub/sub subscription pushes straight into the queue from its publisher's loop.
  if (isTopicSubscription(iterator)) {
    iterator.attach((value) => queue.push(value as T));
    return queue;
  }
  void (async () => {
    for (;;) {
      const result = await iterator.next();
      if (result.done || queue.closed) break;
      queue.push(result.value);
    }
  })().then(
    // A source that completed (a job that ended) still delivers what its subscriber has not read yet.
    () => queue.finish(),
    // A source that failed fails its reader, after what was queued: never an unhandled rejection.
    (error: unknown) => queue.finish(error),
  );
  return queue;
}
