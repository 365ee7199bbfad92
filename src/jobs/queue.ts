/**
 * The queue: job kinds, enqueueing (in the caller's transaction), the live state of a job as published to its
 * subscribers, and the signals a runner listens to. The API (src/schema/job) starts, cancels and lists jobs through
 * it; other services queue their side effects into it inside their own transactions (side-effects.ts).
 */
import type { PubSub } from '../pubsub/pubsub.js';
import type { Database, Executor } from '../db/client.js';
import type { JobRow } from '../db/tables.js';
import { Topic, type JobEvent, type Topics } from '../pubsub/topics.js';
import { UserErrors } from '../schema/shared/user-error.js';
import { activeTraceCarrier } from '../tracing.js';
import type { JobRepo } from './job.repo.js';
import { JobPriority, type JobDefinition } from './types.js';

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

export interface JobQueueDeps {
  db: Database;
  repo: JobRepo;
  pubsub: PubSub<Topics>;
  definitions: ReadonlyMap<string, JobDefinition>;
}

/** What subscribers of `jobUpdated` receive: the row's public state, with the revision that orders it. */
export function toJobEvent(row: JobRow): JobEvent {
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
    progress: row.progress,
    result: row.result ?? null,
    error: row.error,
    ownerId: row.ownerId,
    attempts: row.attempts,
    revision: row.revision,
    createdAt: row.createdAt.toISOString(),
    startedAt: row.startedAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
  };
}

export class JobQueue {
  private readonly enqueued = new Set<() => void>();
  private readonly cancelRequested = new Set<(id: string) => void>();

  constructor(private readonly deps: JobQueueDeps) {}

  definition(kind: string): JobDefinition | undefined {
    return this.deps.definitions.get(kind);
  }

  /**
   * Queues a job in the caller's transaction (or on the database), so the job exists exactly when the change that
   * causes it commits. The runner picks it up after the commit. Parameters are validated as for `startJob`; invalid
   * ones are a programming error and throw.
   */
  async enqueue(executor: Executor, input: EnqueueInput): Promise<JobRow | null> {
    const definition = this.definition(input.kind);
    if (!definition) throw new Error(`Unknown job kind ${input.kind}`);
    const errors = new UserErrors();
    const params = definition.parse(input.params, errors, ['params']);
    if (errors.any) {
      throw new Error(
        `Invalid ${input.kind} parameters: ${errors.list.map((error) => `${error.field?.join('.')}: ${error.message}`).join('; ')}`,
      );
    }
    const row = await this.insert(executor, definition, params, input);
    // After the caller's commit (a claim before it would not see the row; the poll catches anything missed).
    setImmediate(() => this.wake());
    return row;
  }

  /** A system job on the database itself (scheduled work). */
  enqueueSystem(input: Omit<EnqueueInput, 'ownerId' | 'scopes'>): Promise<JobRow | null> {
    return this.enqueue(this.deps.db, input);
  }

  /**
   * A job whose parameters the caller validated (startJob), queued at once unless its owner already has `maxQueued`
   * PENDING jobs: then nothing is inserted and the result is null. The count and the insert run under the owner's
   * lock, so concurrent starts cannot pass the cap together.
   */
  async add(
    definition: JobDefinition,
    params: unknown,
    owner: { ownerId: string; scopes: readonly string[] },
    limits: { maxQueued: number },
  ): Promise<JobRow | null> {
    const row = await this.deps.db.transaction(async (tx) => {
      const repo = this.deps.repo.in(tx);
      await repo.lockOwner(owner.ownerId);
      if ((await repo.countPending(owner.ownerId)) >= limits.maxQueued) return null;
      return this.insert(tx, definition, params, owner);
    });
    if (row) this.wake();
    return row;
  }

  /** PENDING → CANCELLED at once; RUNNING → cancel requested, and a runner of this process stops it at once. */
  async requestCancel(id: string): Promise<JobRow | null> {
    const updated = await this.deps.repo.requestCancel(id);
    if (updated?.status === 'CANCELLED') this.publish(updated);
    else if (updated) for (const listener of this.cancelRequested) listener(updated.id);
    return updated;
  }

  publish(row: JobRow): void {
    this.deps.pubsub.publish(Topic.JobUpdated, row.id, toJobEvent(row));
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

  private insert(executor: Executor, definition: JobDefinition, params: unknown, input: Omit<EnqueueInput, 'kind' | 'params'>) {
    return this.deps.repo.in(executor).insert({
      kind: definition.kind,
      params,
      ownerId: input.ownerId ?? null,
      scopes: [...(input.scopes ?? [])],
      maxAttempts: definition.maxAttempts ?? 3,
      priority: definition.priority ?? JobPriority.NORMAL,
      idempotencyKey: input.idempotencyKey ?? null,
      // The operation that queues the job, when traced: the job's run joins its trace.
      traceContext: activeTraceCarrier(),
    });
  }

  private wake(): void {
    for (const listener of this.enqueued) listener();
  }
}
