/**
 * The PostgreSQL backend: an object is rows of `storage_chunks` of CHUNK_BYTES each, keyed by (key, seq), so a range
 * read fetches only the chunks it covers and a download never holds more than one chunk in memory. Works the same on
 * PGlite. Each chunk is its own statement: an upload cut off half-way leaves chunks that the clean-up job removes with
 * the upload row that names them.
 */
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { storageChunks } from '../db/tables.js';
import { fixedChunks, TooLargeError, type ByteRange, type ObjectStorage } from './storage.js';

export const CHUNK_BYTES = 256 * 1_024;

export class PostgresStorage implements ObjectStorage {
  readonly kind = 'postgres' as const;

  constructor(private readonly db: Executor) {}

  async write(key: string, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, maxBytes: number): Promise<number> {
    let seq = 0;
    let total = 0;
    try {
      for await (const chunk of fixedChunks(source, CHUNK_BYTES)) {
        total += chunk.length;
        if (total > maxBytes) throw new TooLargeError(maxBytes);
        await this.db.insert(storageChunks).values({ key, seq, data: chunk });
        seq += 1;
      }
    } catch (error) {
      await this.delete([key]);
      throw error;
    }
    return total;
  }

  async *read(key: string, range?: ByteRange): AsyncIterable<Uint8Array> {
    const first = range ? Math.floor(range.start / CHUNK_BYTES) : 0;
    const last = range ? Math.floor(range.end / CHUNK_BYTES) : Number.MAX_SAFE_INTEGER;
    for (let seq = first; seq <= last; seq += 1) {
      const [row] = await this.db
        .select({ data: storageChunks.data })
        .from(storageChunks)
        .where(and(eq(storageChunks.key, key), eq(storageChunks.seq, seq)));
      if (!row) return;
      const data = row.data;
      const from = range && seq === first ? range.start - seq * CHUNK_BYTES : 0;
      const to = range && seq === last ? range.end - seq * CHUNK_BYTES + 1 : data.length;
      yield data.subarray(from, to);
    }
  }

  async size(key: string): Promise<number | null> {
    const [row] = await this.db
      .select({ chunks: sql<number>`count(*)::int`, bytes: sql<number>`coalesce(sum(length(${storageChunks.data})), 0)::int` })
      .from(storageChunks)
      .where(eq(storageChunks.key, key));
    return row && row.chunks > 0 ? row.bytes : null;
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.db.delete(storageChunks).where(inArray(storageChunks.key, [...keys]));
  }

  async copy(from: string, to: string): Promise<void> {
    await this.delete([to]);
    await this.db.execute(sql`insert into storage_chunks (key, seq, data) select ${to}, seq, data from storage_chunks where key = ${from}`);
  }

  async directUpload(): Promise<null> {
    return null;
  }
}
