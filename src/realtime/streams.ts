/**
 * Async iterators for subscriptions, built on Repeater (https://repeater.js.org). Every stream here keeps three
 * promises to its reader and its source:
 *
 * - `return()` completes at once. It never waits for the source's next event: an async generator's `return()` is
 *   queued behind its pending `await`, so a mapping generator over a quiet pub/sub topic would hold a completed
 *   subscription (and its socket's slot) open until the topic's next event — the async-generator trap.
 * - A reader that returns, even before its first `next()`, releases the source (its `return()` is called).
 * - A source is read only when the reader asks for a value: a slow reader slows the stream, it does not fill memory.
 *   Bounding what a publisher may leave for a slow reader is the queue's job (`EventQueue`), not the stream's.
 */
import { Repeater, type Push, type RepeaterBuffer, type Stop } from '@repeaterjs/repeater';

/** A step's answer meaning: deliver nothing for this source value, read the next one. */
export const SKIP: unique symbol = Symbol('skip');
/** A step's answer meaning: the stream completes here, and the source is released. */
export const END: unique symbol = Symbol('end');

export type Step<T, U> = (value: T) => Promise<U | typeof SKIP | typeof END> | U | typeof SKIP | typeof END;

/** The marker a started repeater pushes first, taken by the `next()` that starts it. */
const STARTED = Symbol('started');

/**
 * A Repeater whose executor runs now. A Repeater runs its executor at the first `next()`, and never at all if it is
 * returned first, so the cleanup after `await stop` would not run: graphql-ws returns an operation completed while it
 * was being set up without ever reading it, and a subscription must hold what is published from the moment it opens.
 * Starting takes one `next()`, answered by a marker pushed before the executor runs.
 *
 * Without a buffer, `asked` resolves at the reader's first `next()` (or when the stream stops, whichever is first):
 * a pull-based executor waits for it before reading its source. With a buffer it resolves at once.
 */
export function startRepeater<T>(
  executor: (push: Push<T>, stop: Stop, asked: Promise<unknown>) => PromiseLike<unknown> | unknown,
  buffer?: RepeaterBuffer,
): Repeater<T> {
  const repeater = new Repeater<T>((push, stop) => executor(push, stop, push(STARTED as T)), buffer);
  void repeater.next();
  return repeater;
}

/**
 * The source's values through `step`, in order: each is stepped when the reader asks for the next value, so a check
 * in `step` sees the state of the world at delivery. `step` may `SKIP` a value or `END` the stream. An error from
 * the source or from `step` is the reader's next result, and releases the source.
 */
export function pipeStream<T, U>(source: AsyncIterable<T>, step: Step<T, U>): AsyncIterableIterator<U> {
  const iterator = source[Symbol.asyncIterator]();
  return startRepeater<U>(async (push, stop, asked) => {
    let stopped = false;
    let drained = false;
    const pump = async () => {
      await asked;
      // Checked after every wait: the reader may have returned meanwhile, and a value read then is not delivered.
      while (!stopped) {
        const result = await iterator.next();
        if (result.done) {
          drained = true;
          return;
        }
        if (stopped) return;
        const value = await step(result.value);
        if (value === END) return;
        // Resolves at the reader's next `next()`: the source is not read ahead of the reader.
        if (value !== SKIP && !stopped) await push(value);
      }
    };
    pump().then(
      () => stop(),
      (error: unknown) => stop(error),
    );
    await stop;
    stopped = true;
    if (!drained) release(iterator);
  });
}

/** The source's values through `map`, in order, read as the reader asks for them (see the module's guarantees). */
export function mapStream<T, U>(source: AsyncIterable<T>, map: (value: T) => Promise<U> | U): AsyncIterableIterator<U> {
  return pipeStream(source, map);
}

/** Asks a source to finish, without waiting for it to. */
function release(iterator: AsyncIterator<unknown>): void {
  // Not awaited: a source that is an async generator answers `return()` only after its next event (the trap above).
  // A failure to close has nobody left to go to: the reader has returned, and the source's own errors reach the
  // reader through `next()`.
  Promise.resolve(iterator.return?.()).catch(() => undefined);
}

/**
 * `mapStream` for a source that is a bounded queue (an EventQueue, or a stream read from one) whose `return()` also
 * ends a pending `next()`: the same three promises, kept without a Repeater and a pump of its own — one `next()` of
 * the reader is one `next()` of the source and one `map`. A value the source or `map` hands over after the reader
 * returned is not delivered.
 */
export function mapQueued<T, U>(source: AsyncIterable<T>, map: (value: T) => Promise<U> | U): AsyncIterableIterator<U> {
  const iterator = source[Symbol.asyncIterator]();
  let stopped = false;
  const done: IteratorResult<U> = { value: undefined, done: true };
  const stop = () => {
    if (stopped) return;
    stopped = true;
    release(iterator);
  };
  return {
    async next(): Promise<IteratorResult<U>> {
      if (stopped) return done;
      try {
        const result = await iterator.next();
        if (result.done) {
          stopped = true;
          return done;
        }
        if (stopped) return done;
        const value = await map(result.value);
        return stopped ? done : { value, done: false };
      } catch (error) {
        stop();
        throw error;
      }
    },
    return(): Promise<IteratorResult<U>> {
      stop();
      return Promise.resolve(done);
    },
    throw(error?: unknown): Promise<IteratorResult<U>> {
      stop();
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
