import { and, asc, count, eq, getTableColumns, gt, inArray, isNull, lt, lte, or, sql } from 'drizzle-orm';
import type { Executor } from '../../db/client.js';
import { files, uploads, type FileRow, type UploadRow } from '../../db/tables.js';
import type { Windowed } from '../post/nested.js';
import { keysetCondition, keysetOrder, SortDirection, type PageRequest, type SortSpec } from '../shared/connection.js';
import { anyId, once } from '../shared/prepared.js';

export type NewUploadRow = typeof uploads.$inferInsert;
export type NewFileRow = typeof files.$inferInsert;

/** The kinds of object a file can be attached to (`files.attached_type`). */
export type AttachmentTarget = 'Item' | 'Task' | 'Post' | 'User';

/** Attached files are listed in the order they were attached, oldest first; ties break on the id. */
export const attachedSort: SortSpec<FileRow> = {
  column: files.attachedAt,
  id: files.id,
  kind: 'date',
  direction: SortDirection.ASC,
  valueOf: (row) => row.attachedAt,
  idOf: (row) => row.id,
};

/** SQL for staged uploads and files; the bytes themselves are the storage backend's. */
export class FileRepo {
  constructor(private readonly db: Executor) {}

  /** The loader's lookup by id, prepared once (shared/prepared.ts). */
  private readonly filesByIds = once(() => this.db.select().from(files).where(anyId(files.id)).prepare('files_by_ids'));

  in(tx: Executor): FileRepo {
    return new FileRepo(tx);
  }

  async insertUpload(values: NewUploadRow): Promise<UploadRow> {
    const [row] = await this.db.insert(uploads).values(values).returning();
    return row!;
  }

  async findUpload(id: string): Promise<UploadRow | null> {
    const [row] = await this.db.select().from(uploads).where(eq(uploads.id, id));
    return row ?? null;
  }

  /**
   * The one use of an upload URL: PENDING → RECEIVING, only while it has not expired. A second request with the same
   * URL, even one sent at the same moment, finds it no longer PENDING.
   */
  async claimUpload(id: string, now: Date): Promise<UploadRow | null> {
    const [row] = await this.db
      .update(uploads)
      .set({ status: 'RECEIVING' })
      .where(and(eq(uploads.id, id), eq(uploads.status, 'PENDING'), gt(uploads.expiresAt, now)))
      .returning();
    return row ?? null;
  }

  async markReceived(id: string): Promise<void> {
    await this.db
      .update(uploads)
      .set({ status: 'RECEIVED' })
      .where(and(eq(uploads.id, id), eq(uploads.status, 'RECEIVING')));
  }

  /** Removes the upload row when it is in one of `statuses`; null when another request got there first. */
  async takeUpload(id: string, statuses: readonly string[]): Promise<UploadRow | null> {
    const [row] = await this.db
      .delete(uploads)
      .where(and(eq(uploads.id, id), inArray(uploads.status, [...statuses])))
      .returning();
    return row ?? null;
  }

  async deleteUpload(id: string): Promise<void> {
    await this.db.delete(uploads).where(eq(uploads.id, id));
  }

  /** Uploads never completed whose URL expired before `before`, removed; their storage keys returned. */
  async deleteExpiredUploads(before: Date): Promise<string[]> {
    const rows = await this.db.delete(uploads).where(lt(uploads.expiresAt, before)).returning({ key: uploads.storageKey });
    return rows.map((row) => row.key);
  }

  async insertFile(values: NewFileRow): Promise<FileRow> {
    const [row] = await this.db.insert(files).values(values).returning();
    return row!;
  }

  async findFilesByIds(ids: readonly string[]): Promise<FileRow[]> {
    if (ids.length === 0) return [];
    return this.filesByIds(this.db).execute({ ids });
  }

  /** Bytes of files the user holds. */
  async usedBytes(ownerId: string): Promise<number> {
    const [row] = await this.db
      .select({ bytes: sql<string>`coalesce(sum(${files.byteSize}), 0)` })
      .from(files)
      .where(eq(files.ownerId, ownerId));
    return Number(row?.bytes ?? 0);
  }

  /** Declared bytes of the user's uploads not completed yet, whose URL has not expired. */
  async pendingUploadBytes(ownerId: string, now: Date): Promise<number> {
    const [row] = await this.db
      .select({ bytes: sql<string>`coalesce(sum(${uploads.byteSize}), 0)` })
      .from(uploads)
      .where(and(eq(uploads.ownerId, ownerId), gt(uploads.expiresAt, now)));
    return Number(row?.bytes ?? 0);
  }

  async deleteFile(id: string): Promise<FileRow | null> {
    const [row] = await this.db.delete(files).where(eq(files.id, id)).returning();
    return row ?? null;
  }

  /** Files attached to nothing since before `before`, removed; their storage keys (thumbnails too) returned. */
  async deleteOrphans(before: Date): Promise<string[]> {
    const rows = await this.db
      .delete(files)
      .where(and(isNull(files.attachedId), or(lt(files.attachedAt, before), and(isNull(files.attachedAt), lt(files.createdAt, before)))))
      .returning({ key: files.storageKey, thumbnail: files.thumbnailKey });
    return rows.flatMap((row) => (row.thumbnail ? [row.key, row.thumbnail] : [row.key]));
  }

  /**
   * Files whose object was deleted (an item, task, post or user gone) are detached now, so the grace period of
   * orphans starts.
   */
  async detachFromMissing(now: Date): Promise<void> {
    await this.db.execute(sql`
      update files set attached_type = null, attached_id = null, attached_at = ${now.toISOString()}::timestamptz
      where (attached_type = 'Item' and not exists (select 1 from items where items.id = files.attached_id))
         or (attached_type = 'Task' and not exists (select 1 from tasks where tasks.id = files.attached_id))
         or (attached_type = 'Post' and not exists (select 1 from posts where posts.id = files.attached_id))
         or (attached_type = 'User' and not exists (select 1 from users where users.id = files.attached_id))`);
  }

  async setImageDetails(id: string, details: { width: number; height: number; thumbnailKey: string | null }): Promise<FileRow | null> {
    const [row] = await this.db.update(files).set(details).where(eq(files.id, id)).returning();
    return row ?? null;
  }

  /**
   * Serializes attachments to one object for the rest of the transaction (a transaction-scoped advisory lock on the
   * object's id), so two concurrent attaches cannot both pass the per-object cap.
   */
  async lockTarget(type: AttachmentTarget, id: string): Promise<void> {
    await this.db.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`files:${type}:${id}`}, 0))`);
  }

  async attachedCount(type: AttachmentTarget, id: string): Promise<number> {
    const [row] = await this.db
      .select({ n: sql<number>`count(*)::int` })
      .from(files)
      .where(and(eq(files.attachedType, type), eq(files.attachedId, id)));
    return row?.n ?? 0;
  }

  /** Attaches a file that is attached to nothing; null when it is attached already (or gone). */
  async attach(fileId: string, type: AttachmentTarget, targetId: string, now: Date): Promise<FileRow | null> {
    const [row] = await this.db
      .update(files)
      .set({ attachedType: type, attachedId: targetId, attachedAt: now })
      .where(and(eq(files.id, fileId), isNull(files.attachedId)))
      .returning();
    return row ?? null;
  }

  /** Detaches every file attached to the object (an avatar being replaced); the clean-up removes them later. */
  async detachAll(type: AttachmentTarget, targetId: string, now: Date): Promise<void> {
    await this.db
      .update(files)
      .set({ attachedType: null, attachedId: null, attachedAt: now })
      .where(and(eq(files.attachedType, type), eq(files.attachedId, targetId)));
  }

  async detach(fileId: string, now: Date): Promise<FileRow | null> {
    const [row] = await this.db
      .update(files)
      .set({ attachedType: null, attachedId: null, attachedAt: now })
      .where(eq(files.id, fileId))
      .returning();
    return row ?? null;
  }

  /** The files attached to each of these objects, oldest attachment first, for the loaders. */
  async attachedTo(type: AttachmentTarget, ids: readonly string[]): Promise<FileRow[]> {
    if (ids.length === 0) return [];
    return this.db
      .select()
      .from(files)
      .where(and(eq(files.attachedType, type), inArray(files.attachedId, [...ids])))
      .orderBy(asc(files.attachedAt), asc(files.id));
  }

  /**
   * One page of attached files for each of these objects, in one statement: the first `page.limit + 1` rows of each
   * object in keyset order (numbered per object by a window function), with each object's file count from a second
   * window over the same partition (exact when no cursor narrows it; see post/nested.ts).
   */
  async attachedPages(type: AttachmentTarget, ids: string[], page: PageRequest): Promise<Windowed<FileRow>[]> {
    if (ids.length === 0) return [];
    const numbered = this.db
      .select({
        ...getTableColumns(files),
        parentId: sql<string>`${files.attachedId}`.as('parent_id'),
        rn: sql<number>`row_number() over (partition by ${files.attachedId} order by ${sql.join(keysetOrder(attachedSort, page), sql`, `)})`.as(
          'rn',
        ),
        total: sql<number>`count(*) over (partition by ${files.attachedId})`.as('total'),
      })
      .from(files)
      .where(and(eq(files.attachedType, type), inArray(files.attachedId, ids), keysetCondition(attachedSort, page)))
      .as('numbered');
    const rows = await this.db
      .select()
      .from(numbered)
      .where(lte(numbered.rn, page.limit + 1))
      .orderBy(numbered.parentId, numbered.rn);
    return rows.map((row) => ({ ...row, total: Number(row.total) }) as unknown as Windowed<FileRow>);
  }

  /** How many files are attached to each of these objects, in one grouped query (for a cursor-bound totalCount). */
  async countAttachedTo(type: AttachmentTarget, ids: readonly string[]): Promise<Array<{ parentId: string; count: number }>> {
    if (ids.length === 0) return [];
    const rows = await this.db
      .select({ parentId: files.attachedId, count: count() })
      .from(files)
      .where(and(eq(files.attachedType, type), inArray(files.attachedId, [...ids])))
      .groupBy(files.attachedId);
    return rows.map((row) => ({ parentId: row.parentId!, count: row.count }));
  }
}
