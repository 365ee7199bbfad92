import { FixedBuffer, type Push, type Repeater, type Stop } from '@repeaterjs/repeater';
import { startRepeater } from './streams.js';

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
 */
export class EventQueue<T> implements AsyncIterableIterator<T> {
  readonly [BOUNDED] = true;
  private readonly buffer: FixedBuffer;
  private readonly stream: Repeater<T>;
  private send!: Push<T>;
  private stop!: Stop;
  private ended = false;

  constructor(
    limit: number,
    private readonly hooks: { onOverflow?: () => void; onEnd?: () => void } = {},
  ) {
    this.buffer = new FixedBuffer(limit);
    // Started now: events published before the reader's first next() are held for it.
    this.stream = startRepeater<T>((push, stop) => {
      this.send = push;
      this.stop = stop;
    }, this.buffer);
  }

  get closed(): boolean {
    return this.ended;
  }

  push(value: T): void {
    if (this.ended) return;
    // Full means `limit` events wait for a reader that stopped taking them: a waiting reader is handed an event
    // directly and the buffer stays empty. Checked before pushing, because a push past a full buffer would wait for
    // the reader (and past 1,024 of them, throw at the publisher).
    if (this.buffer.full) {
      this.end();
      this.hooks.onOverflow?.();
      return;
    }
    void this.send(value);
  }

  /** The source has no more (or failed): the reader gets what is queued, then `done` (or the error). Idempotent. */
  finish(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.stop(error);
    this.hooks.onEnd?.();
  }

  /** Ends the stream: queued events are dropped, a pending reader gets `done`. Idempotent. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    void this.stream.return();
    // The repeater lets go of the buffer, not of the events in it, and this queue may be held a while longer.
    while (!this.buffer.empty) this.buffer.remove();
    this.hooks.onEnd?.();
  }

  next(): Promise<IteratorResult<T>> {
    return this.stream.next();
  }

  return(): Promise<IteratorResult<T>> {
    this.end();
    return this.stream.return();
  }

  [Symbol.asyncIterator](): this {
    return this;
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
