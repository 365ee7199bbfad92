/**
 * Ordered, resumable delivery of one event stream to one subscriber: every stored event after a starting point,
 * exactly once, in the stream's `seq` order — whatever order pub/sub hands them over in, and across the seam between
 * replay and live delivery.
 *
 * The writer's guarantee (src/db/streams.ts): within a stream a larger `seq` commits later, and every published
 * event carries `prev`, the `seq` of the event before it in its stream. So a subscriber that has delivered up to
 * `last` and receives an event whose `prev` is beyond `last` knows events are missing (published by another process
 * and not arrived yet, lost, or committed during the replay) and that they are committed: it reads them from the
 * database first. An event at or below `last` was already delivered (by the replay or a gap fill) and is skipped.
 *
 * The seam: the caller starts listening (its source is a bounded queue that holds live events from the moment it
 * exists) before this reads anything, then the replay runs, then the queued live events are taken with the rule
 * above. Nothing committed after the starting point can fall between the two.
 *
 * Ephemeral events (no position: typing, presence) pass through as they come, carrying the last delivered position.
 */
import { markBounded } from './queue.js';
import { startRepeater } from './streams.js';

/** Stored events read per query by a replay or a gap fill. */
export const REPLAY_PAGE_SIZE = 100;

export interface StreamPosition {
  seq: number;
  /** The `seq` of the stream's previous event when this one was written; 0 for the first. */
  prev: number;
}

export interface OrderedStreamOptions<T> {
  /** A stored event's position; null for an ephemeral event. */
  positionOf(event: T): StreamPosition | null;
  /**
   * The position delivery starts after: a resuming subscriber's cursor, or else the stream's head (read after the
   * source started listening, so nothing published later is missed).
   */
  start(): Promise<number>;
  /** True: the stored events after the start are replayed before live delivery. */
  replay: boolean;
  /** Stored events with `after < seq < before` (no upper bound when `before` is null), ascending, at most `limit`. */
  load(after: number, before: number | null, limit: number): Promise<T[]>;
  /** Events read from the database per query: a replay is paged. */
  pageSize: number;
  /** Called as each event is handed to the reader, with its position (SSE event ids). */
  onDeliver?(position: number): void;
}

/** An event with the position a subscriber resumes from after it. */
export type Positioned<T> = T & { position: number };

/**
 * `source`'s events in stream order, preceded by the replay when asked; see the module comment. The source must be
 * bounded (an EventQueue or a stream read from one); so is the result.
 */
export function orderedStream<T extends object>(
  source: AsyncIterable<T>,
  options: OrderedStreamOptions<T>,
): AsyncIterableIterator<Positioned<T>> {
  const iterator = source[Symbol.asyncIterator]();
  const stream = startRepeater<Positioned<T>>(async (push, stop, asked) => {
    let stopped = false;
    let drained = false;
    const pump = async () => {
      let last = await options.start();
      // Handed over one at a time, each once the reader asked for it, so `onDeliver` runs when the reader takes it.
      const deliver = async (event: T, position: number) => {
        if (stopped) return;
        options.onDeliver?.(position);
        await push({ ...event, position });
      };
      const catchUp = async (before: number | null) => {
        for (;;) {
          const rows = await options.load(last, before, options.pageSize);
          for (const row of rows) {
            const position = options.positionOf(row);
            if (!position || position.seq <= last) continue;
            await deliver(row, position.seq);
            last = position.seq;
            if (stopped) return;
          }
          if (rows.length < options.pageSize) return;
        }
      };
      await asked;
      if (options.replay) await catchUp(null);
      while (!stopped) {
        const result = await iterator.next();
        if (result.done) {
          drained = true;
          return;
        }
        if (stopped) return;
        const event = result.value;
        const position = options.positionOf(event);
        if (!position) {
          await deliver(event, last);
          continue;
        }
        if (position.seq <= last) continue;
        if (position.prev > last) await catchUp(position.seq);
        if (stopped) return;
        await deliver(event, position.seq);
        last = position.seq;
      }
    };
    pump().then(
      () => stop(),
      (error: unknown) => stop(error),
    );
    await stop;
    stopped = true;
    // Not awaited: see `release` in streams.ts.
    if (!drained) Promise.resolve(iterator.return?.()).catch(() => undefined);
  });
  return markBounded(stream);
}
