import { sql } from 'drizzle-orm';
import { check, customType, index, integer, pgTable, primaryKey, uuid, varchar } from 'drizzle-orm/pg-core';
import { timestamptz } from './items.js';
import { users } from './users.js';

/** Binary column: postgres.js answers a Buffer, PGlite a Uint8Array; both are Uint8Array. */
const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({ dataType: () => 'bytea' });

/**
 * A staged upload: declared by `createUpload`, filled through its signed URL, turned into a file by `completeUpload`.
 * `status` moves PENDING → RECEIVING (the URL's one use has begun) → RECEIVED; a failed or abandoned upload is deleted
 * with its bytes (by the request that failed, or by the clean-up job once `expires_at` passed).
 */
export const uploads = pgTable(
  'uploads',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    ownerId: uuid('owner_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    purpose: varchar('purpose', { length: 20 }).notNull(),
    /** Sanitized: no path parts, control characters or reserved names. */
    filename: varchar('filename', { length: 255 }).notNull(),
    /** What the client called it (control characters removed). */
    displayName: varchar('display_name', { length: 255 }).notNull(),
    contentType: varchar('content_type', { length: 100 }).notNull(),
    byteSize: integer('byte_size').notNull(),
    method: varchar('method', { length: 4 }).notNull(),
    status: varchar('status', { length: 12 }).notNull().default('PENDING'),
    /** The object in storage the bytes go to. */
    storageKey: varchar('storage_key', { length: 200 }).notNull(),
    expiresAt: timestamptz('expires_at').notNull(),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [index('uploads_owner_idx').on(t.ownerId), index('uploads_expires_at_idx').on(t.expiresAt)],
);

export type UploadRow = typeof uploads.$inferSelect;

/**
 * A verified file: size, SHA-256 and content type measured from the bytes. It is attached to at most one entity
 * (`attached_type` + `attached_id`: Item, Task, Post or User); a file attached to nothing past the grace period is
 * removed by the clean-up job.
 */
export const files = pgTable(
  'files',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    ownerId: uuid('owner_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    purpose: varchar('purpose', { length: 20 }).notNull(),
    filename: varchar('filename', { length: 255 }).notNull(),
    displayName: varchar('display_name', { length: 255 }).notNull(),
    contentType: varchar('content_type', { length: 100 }).notNull(),
    byteSize: integer('byte_size').notNull(),
    sha256: varchar('sha256', { length: 64 }).notNull(),
    width: integer('width'),
    height: integer('height'),
    storageKey: varchar('storage_key', { length: 200 }).notNull(),
    thumbnailKey: varchar('thumbnail_key', { length: 200 }),
    attachedType: varchar('attached_type', { length: 10 }),
    attachedId: uuid('attached_id'),
    attachedAt: timestamptz('attached_at'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('files_owner_idx').on(t.ownerId),
    index('files_attached_idx').on(t.attachedType, t.attachedId, t.attachedAt),
    index('files_created_at_idx').on(t.createdAt),
    check('files_attached_both', sql`(${t.attachedType} IS NULL) = (${t.attachedId} IS NULL)`),
  ],
);

export type FileRow = typeof files.$inferSelect;

/** The PostgreSQL storage backend's objects, in fixed-size chunks (src/storage/postgres.ts). */
export const storageChunks = pgTable(
  'storage_chunks',
  {
    key: varchar('key', { length: 200 }).notNull(),
    seq: integer('seq').notNull(),
    data: bytea('data').notNull(),
  },
  (t) => [primaryKey({ name: 'storage_chunks_pk', columns: [t.key, t.seq] })],
);
