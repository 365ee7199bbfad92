import { and, count, desc, eq, inArray, lt, sql, type SQL } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { jobFileChunks, jobs, type JobRow } from '../db/tables.js';
import { createdAtSort, keysetCondition, keysetOrder, type PageRequest } from '../schema/shared/connection.js';

export type NewJobRow = typeof jobs.$inferInsert;
export type JobStatusValue = JobRow['status'];

export const jobSort = createdAtSort<JobRow>(jobs);

export interface JobQuery {
  /** Only this owner's jobs; null: everyone's. */
  ownerId: string | null;
  status: JobStatusValue | null;
  kinds: readonly string[];
}

/** Advisory lock keys (two-int form) of the queue: claims, and the starts of one owner's jobs. */
const CLAIM_LOCK = 0x4a4f_4201;
const OWNER_LOCK = 0x4a4f_4202;

const ms = (value: number) => sql`(${value}::double precision * interval '1 millisecond')`;

/**
 * SQL of the `jobs` table (the queue) and of `job_file_chunks` (a job's output file). Every write by a runner is
 * fenced by `locked_by`, which is unique per claim (worker id and attempt number): a runner whose lease expired and
 * whose job was claimed again can no longer change the row.
 */
export class JobRepo {
  constructor(private readonly db: Executor) {}

  /** The same queries inside a transaction. */
  in(tx: Executor): JobRepo {
    return new JobRepo(tx);
  }

  async insert(values: NewJobRow): Promise<JobRow | null> {
    const [row] = await this.db.insert(jobs).values(values).onConflictDoNothing().returning();
    return row ?? null;
  }

  async findById(id: string): Promise<JobRow | null> {
    const [row] = await this.db.select().from(jobs).where(eq(jobs.id, id));
    return row ?? null;
  }

  async findByIds(ids: readonly string[]): Promise<JobRow[]> {
    if (ids.length === 0) return [];
    return this.db
      .select()
      .from(jobs)
      .where(inArray(jobs.id, [...ids]));
  }

  async page(query: JobQuery, page: PageRequest): Promise<JobRow[]> {
    return this.db
      .select()
      .from(jobs)
      .where(and(this.where(query), keysetCondition(jobSort, page)))
      .orderBy(...keysetOrder(jobSort, page))
      .limit(page.limit + 1);
  }

  async count(query: JobQuery): Promise<number> {
    const [row] = await this.db.select({ value: count() }).from(jobs).where(this.where(query));
    return row?.value ?? 0;
  }

  /** For the dashboard. */
  async countRunning(): Promise<number> {
    const [row] = await this.db.select({ value: count() }).from(jobs).where(eq(jobs.status, 'RUNNING'));
    return row?.value ?? 0;
  }

  /** For the metrics: PENDING jobs, and the run time of the oldest one that is due (one scan of jobs_claim_idx). */
  async queueStats(): Promise<{ pending: number; oldestDueAt: Date | null }> {
    const [row] = await this.db
      .select({
        pending: count(),
        oldestDueAt: sql<string | Date | null>`min(${jobs.runAt}) filter (where ${jobs.runAt} <= now())`,
      })
      .from(jobs)
      .where(eq(jobs.status, 'PENDING'));
    const oldest = row?.oldestDueAt ?? null;
    return { pending: row?.pending ?? 0, oldestDueAt: oldest === null ? null : new Date(oldest) };
  }

  /** PENDING jobs of one owner (the queued cap of `startJob`). */
  async countPending(ownerId: string): Promise<number> {
    const [row] = await this.db
      .select({ value: count() })
      .from(jobs)
      .where(and(eq(jobs.ownerId, ownerId), eq(jobs.status, 'PENDING')));
    return row?.value ?? 0;
  }

  /**
   * Holds the owner's start lock until the surrounding transaction ends. Two starts of one user that count PENDING
   * jobs and then insert would otherwise both see room for one more and both insert, past the cap.
   */
  async lockOwner(ownerId: string): Promise<void> {
    await this.db.execute(sql`select pg_advisory_xact_lock(${OWNER_LOCK}::int, hashtext(${ownerId}::text))`);
  }

  /**
   * Claims up to `limit` runnable jobs, highest priority first, then oldest: PENDING ones that are due, and RUNNING
   * ones whose lease expired (their process died). SKIP LOCKED lets a claim pass over rows another transaction holds;
   * the UPDATE runs in the same statement, so the lock is held until it commits.
   *
   * Fairness: no owner gets more than `perOwner` running jobs across all processes, nor more than `perOwnerHere` in
   * this worker, counting both what is already running (with a live lease) and what this claim takes (the owner's
   * `rank` among its due jobs). System jobs (no owner) are not limited. The counts are only right if no other claim
   * commits between reading them and updating, so claims take one cluster-wide advisory lock for their few
   * milliseconds; the statement after it sees every claim committed before.
   */
  async claim(workerId: string, limit: number, leaseMs: number, fairness: { perOwner: number; perOwnerHere: number }): Promise<JobRow[]> {
    const rows = await this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${CLAIM_LOCK}::int, 0)`);
      const due = sql`(${jobs.status} = 'PENDING' and ${jobs.runAt} <= now()) or (${jobs.status} = 'RUNNING' and ${jobs.leaseUntil} < now())`;
      const ranked = sql`select ${jobs.id} as id, ${jobs.ownerId} as owner_id,
          row_number() over (partition by ${jobs.ownerId} order by ${jobs.priority} desc, ${jobs.runAt}, ${jobs.id}) as rank
        from ${jobs} where ${due}`;
      const running = sql`select ${jobs.ownerId} as owner_id, count(*) as total,
          count(*) filter (where starts_with(${jobs.lockedBy}, ${`${workerId}:`}::text)) as here
        from ${jobs}
        where ${jobs.status} = 'RUNNING' and ${jobs.leaseUntil} >= now() and ${jobs.ownerId} is not null
        group by ${jobs.ownerId}`;
      const eligible = sql`select c.id from (${ranked}) c left join (${running}) r on r.owner_id = c.owner_id
        where c.owner_id is null
          or (coalesce(r.total, 0) + c.rank <= ${fairness.perOwner}::int and coalesce(r.here, 0) + c.rank <= ${fairness.perOwnerHere}::int)`;
      const picked = tx
        .select({ id: jobs.id })
        .from(jobs)
        .where(and(sql`${jobs.id} in (${eligible})`, sql`${due}`))
        .orderBy(desc(jobs.priority), jobs.runAt, jobs.id)
        .limit(limit)
        .for('update', { skipLocked: true });
      return tx
        .update(jobs)
        .set({
          status: 'RUNNING',
          attempts: sql`${jobs.attempts} + 1`,
          lockedBy: sql`${workerId}::text || ':' || (${jobs.attempts} + 1)::text`,
          leaseUntil: sql`now() + ${ms(leaseMs)}`,
          startedAt: sql`coalesce(${jobs.startedAt}, now())`,
          revision: sql`${jobs.revision} + 1`,
          updatedAt: sql`now()`,
        })
        .where(inArray(jobs.id, picked))
        .returning();
    });
    // RETURNING has no order: the runner starts them in claim order.
    return rows.sort((a, b) => b.priority - a.priority || a.runAt.getTime() - b.runAt.getTime() || a.id.localeCompare(b.id));
  }

  /** Progress and/or checkpoint, renewing the lease. Null when the claim is no longer ours. */
  async touch(id: string, lockedBy: string, leaseMs: number, changes: { progress?: number; checkpoint?: unknown }): Promise<JobRow | null> {
    const [row] = await this.db
      .update(jobs)
      .set({
        ...(changes.progress !== undefined ? { progress: changes.progress } : {}),
        ...(changes.checkpoint !== undefined ? { checkpoint: changes.checkpoint } : {}),
        leaseUntil: sql`now() + ${ms(leaseMs)}`,
        revision: sql`${jobs.revision} + 1`,
        updatedAt: sql`now()`,
      })
      .where(this.mine(id, lockedBy))
      .returning();
    return row ?? null;
  }

  /** Renews the lease only (no revision change: subscribers see nothing new). */
  async heartbeat(id: string, lockedBy: string, leaseMs: number): Promise<{ cancelRequested: boolean } | null> {
    const [row] = await this.db
      .update(jobs)
      .set({ leaseUntil: sql`now() + ${ms(leaseMs)}` })
      .where(this.mine(id, lockedBy))
      .returning({ cancelRequested: jobs.cancelRequested });
    return row ?? null;
  }

  async complete(id: string, lockedBy: string, result: unknown): Promise<JobRow | null> {
    return this.finish(id, lockedBy, { status: 'COMPLETED', result, error: null, progress: 100 });
  }

  async fail(id: string, lockedBy: string, error: string): Promise<JobRow | null> {
    return this.finish(id, lockedBy, { status: 'FAILED', error });
  }

  async cancelled(id: string, lockedBy: string): Promise<JobRow | null> {
    return this.finish(id, lockedBy, { status: 'CANCELLED' });
  }

  /** A failed attempt with attempts left: back to PENDING, due again after the backoff. */
  async retry(id: string, lockedBy: string, error: string, delayMs: number): Promise<JobRow | null> {
    return this.release(id, lockedBy, { error, runAt: sql`now() + ${ms(delayMs)}` });
  }

  /** Shutdown: back to PENDING without counting the attempt; the checkpoint stays for whoever claims it next. */
  async giveBack(id: string, lockedBy: string): Promise<JobRow | null> {
    return this.release(id, lockedBy, { attempts: sql`greatest(${jobs.attempts} - 1, 0)`, runAt: sql`now()` });
  }

  /** PENDING → CANCELLED at once; RUNNING → cancel requested (the handler stops at its next step). */
  async requestCancel(id: string): Promise<JobRow | null> {
    const [row] = await this.db
      .update(jobs)
      .set({
        status: sql`case when ${jobs.status} = 'PENDING' then 'CANCELLED'::job_status else ${jobs.status} end`,
        finishedAt: sql`case when ${jobs.status} = 'PENDING' then now() else ${jobs.finishedAt} end`,
        cancelRequested: true,
        revision: sql`${jobs.revision} + 1`,
        updatedAt: sql`now()`,
      })
      .where(and(eq(jobs.id, id), inArray(jobs.status, ['PENDING', 'RUNNING'])))
      .returning();
    return row ?? null;
  }

  // ------------------------------------------------------------------------------------------------ files

  async writeChunk(jobId: string, seq: number, content: string): Promise<void> {
    await this.db
      .insert(jobFileChunks)
      .values({ jobId, seq, content })
      .onConflictDoUpdate({ target: [jobFileChunks.jobId, jobFileChunks.seq], set: { content } });
  }

  /** Chunks after a resumed export's checkpoint belong to the attempt that died; they are written again. */
  async deleteChunksFrom(jobId: string, seq: number): Promise<void> {
    await this.db.delete(jobFileChunks).where(and(eq(jobFileChunks.jobId, jobId), sql`${jobFileChunks.seq} >= ${seq}`));
  }

  async *readChunks(jobId: string): AsyncGenerator<string> {
    let seq = -1;
    for (;;) {
      const rows = await this.db
        .select({ seq: jobFileChunks.seq, content: jobFileChunks.content })
        .from(jobFileChunks)
        .where(and(eq(jobFileChunks.jobId, jobId), sql`${jobFileChunks.seq} > ${seq}`))
        .orderBy(jobFileChunks.seq)
        .limit(8);
      if (rows.length === 0) return;
      for (const row of rows) {
        seq = row.seq;
        yield row.content;
      }
    }
  }

  /** Finished jobs older than `before`, with their files and outbox rows. */
  async deleteFinishedBefore(before: Date): Promise<number> {
    const rows = await this.db
      .delete(jobs)
      .where(and(inArray(jobs.status, ['COMPLETED', 'FAILED', 'CANCELLED']), lt(jobs.finishedAt, before)))
      .returning({ id: jobs.id });
    return rows.length;
  }

  private mine(id: string, lockedBy: string): SQL {
    return and(eq(jobs.id, id), eq(jobs.lockedBy, lockedBy), eq(jobs.status, 'RUNNING'))!;
  }

  private async finish(
    id: string,
    lockedBy: string,
    changes: { status: JobStatusValue; result?: unknown; error?: string | null; progress?: number },
  ): Promise<JobRow | null> {
    const [row] = await this.db
      .update(jobs)
      .set({
        ...changes,
        leaseUntil: null,
        finishedAt: sql`now()`,
        revision: sql`${jobs.revision} + 1`,
        updatedAt: sql`now()`,
      })
      .where(this.mine(id, lockedBy))
      .returning();
    return row ?? null;
  }

  private async release(id: string, lockedBy: string, changes: Partial<Record<keyof NewJobRow, unknown>>): Promise<JobRow | null> {
    const [row] = await this.db
      .update(jobs)
      .set({
        ...(changes as Partial<NewJobRow>),
        status: 'PENDING',
        leaseUntil: null,
        lockedBy: null,
        revision: sql`${jobs.revision} + 1`,
        updatedAt: sql`now()`,
      })
      .where(this.mine(id, lockedBy))
      .returning();
    return row ?? null;
  }

  private where(query: JobQuery): SQL | undefined {
    return and(
      query.ownerId ? eq(jobs.ownerId, query.ownerId) : undefined,
      query.status ? eq(jobs.status, query.status) : undefined,
      inArray(jobs.kind, [...query.kinds]),
    );
  }
}
