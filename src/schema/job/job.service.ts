import type { PubSub } from '@graphql-yoga/subscription';
import type { Authentication, Viewer } from '../../auth/identity.js';
import type { Database, Executor } from '../../db/client.js';
import type { JobRow } from '../../db/tables.js';
import { isPublicKind, PUBLIC_JOB_KINDS, type JobDefinition } from '../../jobs/types.js';
import { Topic, type JobEvent, type Topics } from '../../pubsub/topics.js';
import { pageRequest, toConnection, type Connection, type ConnectionArgs } from '../shared/connection.js';
import { notFound, unauthenticated } from '../shared/errors.js';
import { fromGlobalId, parseGlobalId } from '../shared/global-id.js';
import { userError, UserErrorCode, UserErrors, type UserError } from '../shared/user-error.js';
import type { StartJobInput } from './job.input.js';
import { jobSort, type JobRepo, type JobStatusValue } from './job.repo.js';
import { Job, JobStatus, TERMINAL_STATUSES, toJobEvent } from './job.type.js';

export interface JobPayloadData {
  job: Job | null;
  userErrors: UserError[];
}

/** Who is asking: the parts of the request context the job rules read. */
export type JobViewer = Pick<Authentication, 'viewer' | 'scopes'>;

export interface EnqueueInput {
  kind: string;
  params: unknown;
  /** Null or absent: a system job. */
  ownerId?: string | null;
  /** Scopes the owner's job may use (intersected with the owner's role when it runs). */
  scopes?: readonly string[];
  /** At most one job per key; a second enqueue with the same key inserts nothing and returns null. */
  idempotencyKey?: string;
}

export interface ExportFile {
  filename: string;
  contentType: string;
  chunks: AsyncIterable<string>;
}

const JOB_NOT_FOUND = 'Job not found';

/**
 * Jobs as the API sees them: starting (parameters validated, permissions checked), cancelling, listing, live
 * updates, and the queue other services enqueue their side effects into, inside their own transactions.
 */
export class JobService {
  private readonly enqueued = new Set<() => void>();
  private readonly cancelRequested = new Set<(id: string) => void>();

  constructor(
    private readonly db: Database,
    private readonly repo: JobRepo,
    private readonly pubsub: PubSub<Topics>,
    private readonly definitions: ReadonlyMap<string, JobDefinition>,
  ) {}

  definition(kind: string): JobDefinition | undefined {
    return this.definitions.get(kind);
  }

  /** The runner listens: a job enqueued in this process is claimed at once rather than at the next poll. */
  onEnqueued(listener: () => void): () => void {
    this.enqueued.add(listener);
    return () => this.enqueued.delete(listener);
  }

  /** The runner listens: a cancel of a job running in this process stops it at its next step without waiting for a poll. */
  onCancelRequested(listener: (id: string) => void): () => void {
    this.cancelRequested.add(listener);
    return () => this.cancelRequested.delete(listener);
  }

  publish(row: JobRow): void {
    this.pubsub.publish(Topic.JobUpdated, row.id, toJobEvent(row));
  }

  /** Owners see their jobs; jobs:read holders see everyone's. Internal kinds never appear in the API. */
  visible(viewer: JobViewer, row: Pick<JobRow, 'kind' | 'ownerId'>): boolean {
    if (!viewer.viewer || !isPublicKind(row.kind)) return false;
    return row.ownerId === viewer.viewer.id || viewer.scopes.has('jobs:read');
  }

  async start(viewer: JobViewer, input: StartJobInput): Promise<JobPayloadData> {
    if (!viewer.viewer) throw unauthenticated();
    const errors = new UserErrors();
    const definition = this.definitions.get(input.kind);
    if (!definition || !isPublicKind(definition.kind)) {
      return { job: null, userErrors: errors.add(['input', 'kind'], 'Unknown job kind').list };
    }
    if (definition.scopes.some((scope) => !viewer.scopes.has(scope))) {
      return { job: null, userErrors: errors.add(['input', 'kind'], definition.forbiddenMessage, UserErrorCode.FORBIDDEN).list };
    }
    const params = definition.parse(input.params ?? {}, errors, ['input', 'params']);
    if (errors.any) return { job: null, userErrors: errors.list };
    const row = await this.repo.insert(this.db, {
      kind: definition.kind,
      params,
      ownerId: viewer.viewer.id,
      scopes: [...viewer.scopes],
      maxAttempts: definition.maxAttempts ?? 3,
    });
    this.wake();
    return { job: Job.fromRow(row!), userErrors: [] };
  }

  /**
   * Queues a job in the caller's transaction (or on the database), so the job exists exactly when the change that
   * causes it commits. The runner picks it up after the commit. Parameters are validated as for `startJob`; invalid
   * ones are a programming error and throw.
   */
  async enqueue(executor: Executor, input: EnqueueInput): Promise<JobRow | null> {
    const definition = this.definitions.get(input.kind);
    if (!definition) throw new Error(`Unknown job kind ${input.kind}`);
    const errors = new UserErrors();
    const params = definition.parse(input.params, errors, ['params']);
    if (errors.any) throw new Error(`Invalid ${input.kind} parameters: ${errors.list.map((error) => `${error.field?.join('.')}: ${error.message}`).join('; ')}`);
    const row = await this.repo.insert(executor, {
      kind: definition.kind,
      params,
      ownerId: input.ownerId ?? null,
      scopes: [...(input.scopes ?? [])],
      maxAttempts: definition.maxAttempts ?? 3,
      idempotencyKey: input.idempotencyKey ?? null,
    });
    // After the caller's commit (a claim before it would not see the row; the poll catches anything missed).
    setImmediate(() => this.wake());
    return row;
  }

  /** A system job on the database itself (scheduled work). */
  enqueueSystem(input: Omit<EnqueueInput, 'ownerId' | 'scopes'>): Promise<JobRow | null> {
    return this.enqueue(this.db, input);
  }

  async cancel(viewer: JobViewer, globalId: string): Promise<JobPayloadData> {
    const id = parseGlobalId(globalId, 'Job');
    const row = id ? await this.repo.findById(id) : null;
    if (!row || !this.visible(viewer, row)) {
      return { job: null, userErrors: [userError(['id'], JOB_NOT_FOUND, UserErrorCode.NOT_FOUND)] };
    }
    if (row.ownerId !== viewer.viewer?.id && !viewer.scopes.has('jobs:read')) {
      return { job: null, userErrors: [userError(['id'], JOB_NOT_FOUND, UserErrorCode.NOT_FOUND)] };
    }
    const updated = await this.repo.requestCancel(row.id);
    if (!updated) {
      const current = (await this.repo.findById(row.id)) ?? row;
      return {
        job: Job.fromRow(current),
        userErrors: [userError(['id'], `Job is already ${current.status.toLowerCase()}`, UserErrorCode.INVALID)],
      };
    }
    if (updated.status === 'CANCELLED') this.publish(updated);
    else for (const listener of this.cancelRequested) listener(updated.id);
    return { job: Job.fromRow(updated), userErrors: [] };
  }

  async list(viewer: JobViewer, args: ConnectionArgs, status: JobStatus | null | undefined): Promise<Connection<Job>> {
    if (!viewer.viewer) throw unauthenticated();
    const page = pageRequest(args, 'date');
    const query = {
      ownerId: viewer.scopes.has('jobs:read') ? null : viewer.viewer.id,
      status: (status ?? null) as JobStatusValue | null,
      kinds: PUBLIC_JOB_KINDS,
    };
    const rows = await this.repo.page(query, page);
    return toConnection(rows, page, jobSort, Job.fromRow, () => this.repo.count(query));
  }

  /** For node(id): the job when the viewer may see it. */
  fromRow(viewer: JobViewer, row: JobRow | null): Job | null {
    return row && this.visible(viewer, row) ? Job.fromRow(row) : null;
  }

  /**
   * `jobUpdated(id)`: the job's current state first, then every change until it finishes (the subscription then
   * completes). Listening starts before the current state is read, and events not newer than what was already sent
   * are dropped, so a subscriber never misses the end and never sees progress go back.
   */
  async subscribe(viewer: JobViewer, globalId: string): Promise<AsyncIterableIterator<JobEvent>> {
    if (!viewer.viewer) throw unauthenticated();
    const id = fromGlobalId(globalId, 'Job');
    const source = this.pubsub.subscribe(Topic.JobUpdated, id)[Symbol.asyncIterator]();
    // The first next() starts the listener; its result is the first live event.
    let pending: Promise<IteratorResult<JobEvent>> | null = source.next();
    const row = await this.repo.findById(id);
    if (!row || !this.visible(viewer, row)) {
      await source.return?.();
      throw notFound(JOB_NOT_FOUND);
    }
    const first = toJobEvent(row);
    let last = -1;
    let finished = false;
    const done: IteratorReturnResult<undefined> = { value: undefined, done: true };
    const finish = async () => {
      finished = true;
      pending = null;
      await source.return?.();
      return done;
    };
    const emit = (event: JobEvent): IteratorResult<JobEvent> => {
      last = event.revision;
      if (TERMINAL_STATUSES.has(event.status)) void finish();
      return { value: event, done: false };
    };
    const iterator: AsyncIterableIterator<JobEvent> = {
      async next() {
        if (finished) return done;
        if (last < 0) return emit(first);
        for (;;) {
          const result = await (pending ?? source.next());
          pending = null;
          if (finished || result.done) return done;
          if (result.value.revision > last) return emit(result.value);
        }
      },
      return: finish,
      async throw(error: unknown) {
        await finish();
        throw error;
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  /** Each event is checked for the subscriber as they are now (the event's context is rebuilt per event). */
  eventFor(viewer: JobViewer, event: JobEvent): Job {
    if (!this.visible(viewer, event)) throw notFound(JOB_NOT_FOUND);
    return Job.fromEvent(event);
  }

  /** A finished export's file, for its owner only; null (a 404) for anyone else or anything else. */
  async exportFile(viewer: Viewer | null, globalId: string): Promise<ExportFile | null> {
    const id = parseGlobalId(globalId, 'Job');
    if (!viewer || !id) return null;
    const row = await this.repo.findById(id);
    if (!row || row.ownerId !== viewer.id || row.kind !== 'EXPORT_ITEMS' || row.status !== 'COMPLETED') return null;
    const result = row.result as { filename: string; contentType: string };
    return { filename: result.filename, contentType: result.contentType, chunks: this.repo.readChunks(row.id) };
  }

  private wake(): void {
    for (const listener of this.enqueued) listener();
  }
}
