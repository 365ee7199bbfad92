/**
 * A bounded queue of events for one subscriber, read as an async iterator. Publishing never waits for a reader:
 * a subscriber that stops reading (its socket no longer drains) fills only its own queue, and when that passes the
 * limit the subscriber is dropped (`onOverflow`) instead of holding memory or the publisher up.
 */
export class EventQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private waiter: ((result: IteratorResult<T>) => void) | null = null;
  private ended = false;

  constructor(
    private readonly limit: number,
    private readonly hooks: { onOverflow?: () => void; onEnd?: () => void } = {},
  ) {}

  get closed(): boolean {
    return this.ended;
  }

  push(value: T): void {
    if (this.ended) return;
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = null;
      waiter({ value, done: false });
      return;
    }
    this.items.push(value);
    if (this.items.length > this.limit) {
      this.end();
      this.hooks.onOverflow?.();
    }
  }

  /** Ends the stream: queued events are dropped, a pending reader gets `done`. Idempotent. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.items.length = 0;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.({ value: undefined, done: true });
    this.hooks.onEnd?.();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) return Promise.resolve({ value: this.items.shift()!, done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

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
    onOverflow: () => connection?.drop('Subscriber too slow'),
    onEnd: () => {
      if (streams) streams.open -= 1;
      void iterator.return?.();
    },
  });
  void (async () => {
    for (;;) {
      const result = await iterator.next();
      if (result.done || queue.closed) break;
      queue.push(result.value);
    }
    queue.end();
  })();
  return queue;
}
