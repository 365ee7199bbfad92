/**
 * Event streams' write order. A stream (a room's messages, a user's direct messages or notifications, the orders
 * placed) takes its events' `seq` from an identity column, which alone orders inserts, not commits: two concurrent
 * transactions may take 5 and 6 and commit 6 first, so a reader that saw 6 would skip 5 for good. Inserting while
 * holding the stream's transaction-scoped advisory lock makes, within one stream, a larger `seq` always commit later:
 * once an event is committed, every event of its stream with a smaller `seq` is committed too (and readable). That is
 * what lets a subscriber fill any gap it sees from the database (src/realtime/ordered.ts).
 *
 * The lock is held from here to the commit, so callers take it last, just before the insert.
 */
import { sql } from 'drizzle-orm';
import type { Executor } from './client.js';

/** Takes the streams' locks (in one order, so two writers of the same streams cannot deadlock); inside a transaction. */
export async function lockStreams(tx: Executor, streams: readonly string[]): Promise<void> {
  for (const stream of [...new Set(streams)].sort()) {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${stream}, 0))`);
  }
}
