import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { JobRow } from '../../db/tables.js';
import type { JobEvent } from '../../pubsub/topics.js';
import { toGlobalId } from '../shared/global-id.js';
import { Node } from '../shared/node.js';
import { encodeStreamCursor } from '../shared/stream-cursor.js';
import { DateTimeScalar, JSONScalar } from '../shared/scalars.js';
import { UserError } from '../shared/user-error.js';

/** What a Job is built from: a row, or an event carrying the same fields. */
type JobFields = Pick<
  JobRow,
  'id' | 'ownerId' | 'revision' | 'kind' | 'status' | 'progress' | 'result' | 'error' | 'attempts' | 'createdAt' | 'startedAt' | 'finishedAt'
>;

export enum JobKind {
  EXPORT_ITEMS = 'EXPORT_ITEMS',
  SALES_REPORT = 'SALES_REPORT',
  SEND_EMAIL = 'SEND_EMAIL',
  NEWSLETTER = 'NEWSLETTER',
  CLEANUP = 'CLEANUP',
  FILE_PROCESSING = 'FILE_PROCESSING',
}

registerEnumType(JobKind, {
  name: 'JobKind',
  description: 'What a background job does.',
  valuesConfig: {
    EXPORT_ITEMS: {
      description:
        'CSV of the catalog items matching `params` (an ItemFilter: search, categories, minPrice, maxPrice, inStock); needs items:read. The result holds a download URL.',
    },
    SALES_REPORT: {
      description:
        'Orders by day and category for `params.from`/`params.to` (dates, at most 366 days); needs orders:read, revenue figures only with analytics:read.',
    },
    SEND_EMAIL: { description: 'An e-mail (`params.to`: an address or up to 100, `subject`, `body`) to the outbox; needs admin:write.' },
    NEWSLETTER: {
      description: 'An e-mail to every active user, or to `params.recipientIds` (User ids), one per recipient; needs admin:write.',
    },
    CLEANUP: {
      description:
        'Deletes expired sessions, old read notifications, old finished jobs, uploads never completed and files attached to nothing past FILE_ORPHAN_GRACE_MS; needs system:write. Also scheduled.',
    },
    FILE_PROCESSING: {
      description:
        "An image's width, height and thumbnail (`params.fileId`: a File id of the owner's); queued by completeUpload for every image; needs files:write.",
    },
  },
});

export enum JobStatus {
  PENDING = 'PENDING',
  RUNNING = 'RUNNING',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}

registerEnumType(JobStatus, {
  name: 'JobStatus',
  description: 'Where a job is in its life.',
  valuesConfig: {
    PENDING: { description: 'Queued (or waiting for a retry); not running.' },
    RUNNING: { description: 'A runner is working on it.' },
    COMPLETED: { description: 'Finished; `result` holds the outcome.' },
    FAILED: { description: 'Gave up; `error` says why.' },
    CANCELLED: { description: 'Cancelled before it finished.' },
  },
});

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

@ObjectType({ implements: Node, description: 'A background job: an export, a report, e-mail or a clean-up.' })
export class Job implements Node {
  readonly __typename = 'Job';

  @Field(() => ID, { description: 'Globally unique, opaque id.' })
  id!: string;

  /** The row's uuid. */
  rowId!: string;

  /** The owner's uuid; null for system jobs. */
  ownerId!: string | null;

  /** Orders events: a subscriber never goes back to an older state. */
  revision!: number;

  @Field(() => JobKind, { description: 'What the job does.' })
  kind!: JobKind;

  @Field(() => JobStatus, { description: 'Where the job is in its life.' })
  status!: JobStatus;

  @Field(() => Int, { description: 'Progress from 0 to 100.' })
  progress!: number;

  @Field(() => JSONScalar, { nullable: true, description: 'The outcome once COMPLETED (its shape depends on the kind).' })
  result!: unknown;

  @Field(() => String, { nullable: true, description: 'Why the last attempt failed; set when FAILED.' })
  error!: string | null;

  @Field(() => Int, { description: 'Attempts started so far (a failed attempt is retried with backoff).' })
  attempts!: number;

  @Field(() => DateTimeScalar, { description: 'When the job was started (queued).' })
  createdAt!: Date;

  @Field(() => DateTimeScalar, { nullable: true, description: 'When a runner first picked it up.' })
  startedAt!: Date | null;

  @Field(() => DateTimeScalar, { nullable: true, description: 'When it completed, failed or was cancelled.' })
  finishedAt!: Date | null;

  @Field(() => String, { description: "Opaque resume point in the job's states: `jobUpdated(id, after:)` sends only newer states." })
  streamCursor!: string;

  static fromRow(row: JobFields): Job {
    return Object.assign(new Job(), {
      id: toGlobalId('Job', row.id),
      rowId: row.id,
      ownerId: row.ownerId,
      revision: row.revision,
      kind: row.kind as JobKind,
      status: row.status as JobStatus,
      progress: row.progress,
      result: row.result ?? null,
      error: row.error,
      attempts: row.attempts,
      createdAt: row.createdAt,
      startedAt: row.startedAt,
      finishedAt: row.finishedAt,
      streamCursor: encodeStreamCursor({ kind: 'job', id: row.id }, row.revision),
    });
  }

  static fromEvent(event: JobEvent): Job {
    return Job.fromRow({
      ...event,
      kind: event.kind as JobRow['kind'],
      status: event.status as JobRow['status'],
      createdAt: new Date(event.createdAt),
      startedAt: event.startedAt ? new Date(event.startedAt) : null,
      finishedAt: event.finishedAt ? new Date(event.finishedAt) : null,
    });
  }
}

@ObjectType({ description: 'Result of starting or cancelling a job.' })
export class JobPayload {
  @Field(() => Job, { nullable: true, description: 'The job as stored; null when the mutation failed.' })
  job!: Job | null;

  @Field(() => [UserError], { description: 'Why the mutation failed; empty on success.' })
  userErrors!: UserError[];
}
