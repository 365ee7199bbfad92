import { sql } from 'drizzle-orm';
import { boolean, index, integer, jsonb, pgEnum, pgTable, primaryKey, text, uniqueIndex, uuid, varchar } from 'drizzle-orm/pg-core';
import { timestamptz } from './items.js';
import { users } from './users.js';

export const jobStatusEnum = pgEnum('job_status', ['PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED']);

/**
 * The queue. A runner claims rows with `FOR UPDATE SKIP LOCKED` (see src/jobs/job.repo.ts), so several
 * processes can share it. `kind` is text rather than an enum: internal kinds (e.g. NOTIFY) come and go without a
 * type migration, and the public `JobKind` enum is enforced where jobs are started.
 */
export const jobs = pgTable(
  'jobs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    kind: varchar('kind', { length: 40 }).notNull(),
    status: jobStatusEnum('status').notNull().default('PENDING'),
    progress: integer('progress').notNull().default(0),
    params: jsonb('params')
      .notNull()
      .default(sql`'{}'::jsonb`),
    result: jsonb('result'),
    error: text('error'),
    /** Null for system jobs (scheduled clean-ups, side effects of other users' actions). */
    ownerId: uuid('owner_id').references(() => users.id, { onDelete: 'cascade' }),
    /** Scopes of the token that started the job; intersected with the owner's role again when it runs. */
    scopes: text('scopes')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    /**
     * Claimed highest first, then oldest `run_at`: 2 HIGH, 1 NORMAL, 0 LOW (src/jobs/types.ts `JobPriority`). Set from
     * the kind when the job is queued; rows from before this column run as NORMAL.
     */
    priority: integer('priority').notNull().default(1),
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull().default(3),
    /** Not before this time (the retry backoff). */
    runAt: timestamptz('run_at').notNull().defaultNow(),
    /** A RUNNING job whose lease passed belongs to a dead process and is claimed again. */
    leaseUntil: timestamptz('lease_until'),
    lockedBy: varchar('locked_by', { length: 100 }),
    cancelRequested: boolean('cancel_requested').notNull().default(false),
    /** Where a resumable handler got to; survives retries and restarts. */
    checkpoint: jsonb('checkpoint'),
    /** Bumped on every change: subscribers drop events older than what they already saw. */
    revision: integer('revision').notNull().default(0),
    /** W3C `traceparent`/`tracestate` of the traced operation that queued the job; its run joins that trace. */
    traceContext: jsonb('trace_context').$type<{ traceparent?: string; tracestate?: string }>(),
    /** At most one job per key (e.g. one scheduled clean-up per interval, across processes). */
    idempotencyKey: varchar('idempotency_key', { length: 200 }),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    startedAt: timestamptz('started_at'),
    finishedAt: timestamptz('finished_at'),
    updatedAt: timestamptz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('jobs_idempotency_key_unique').on(t.idempotencyKey),
    index('jobs_claim_idx').on(t.status, t.priority.desc(), t.runAt),
    // Per-owner counts: PENDING ones for the queued cap at start, RUNNING ones for the per-owner concurrency of a claim.
    index('jobs_owner_status_idx').on(t.ownerId, t.status),
    index('jobs_owner_created_at_id_idx').on(t.ownerId, t.createdAt, t.id),
    index('jobs_created_at_id_idx').on(t.createdAt, t.id),
  ],
);

export type JobRow = typeof jobs.$inferSelect;

/**
 * E-mail goes here instead of SMTP. One row per (job, recipient): a retried or resumed job inserts with ON CONFLICT
 * DO NOTHING, so a recipient never gets the same message twice.
 */
export const emailOutbox = pgTable(
  'email_outbox',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    jobId: uuid('job_id')
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    recipient: varchar('recipient', { length: 254 }).notNull(),
    subject: varchar('subject', { length: 200 }).notNull(),
    body: text('body').notNull(),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('email_outbox_job_recipient_unique').on(t.jobId, t.recipient), index('email_outbox_created_at_idx').on(t.createdAt)],
);

export type EmailOutboxRow = typeof emailOutbox.$inferSelect;

/** Files a job produced (CSV exports), stored in pages so they are written and downloaded as streams. */
export const jobFileChunks = pgTable(
  'job_file_chunks',
  {
    jobId: uuid('job_id')
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    content: text('content').notNull(),
  },
  (t) => [primaryKey({ name: 'job_file_chunks_pk', columns: [t.jobId, t.seq] })],
);
