/**
 * The job runner of one server process. It claims due jobs from the `jobs` table (several processes may share it),
 * runs up to `concurrency` at a time, retries failures with exponential backoff, and publishes progress.
 *
 * Fairness: jobs are claimed by priority, then age, and one owner holds at most `concurrencyPerOwner` running jobs
 * across processes and never every slot of one process, so a user who queues a hundred exports delays nobody's
 * notifications (JobRepo.claim).
 *
 * Liveness: a claimed job carries a lease that `progress`/`checkpoint` and a heartbeat renew. A process that dies
 * stops renewing; once the lease passes, any runner claims the job again (a new attempt, resuming from its
 * checkpoint). Every write of a runner is fenced by its claim token, so a runner that lost its lease cannot complete
 * or fail a job another runner now owns.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import { effectiveScopes, type Role } from '../auth/scopes.js';
import type { Config } from '../config.js';
import type { JobRow } from '../db/tables.js';
import type { JobRepo } from './job.repo.js';
import type { JobQueue } from './queue.js';
import { UserErrors } from '../schema/shared/user-error.js';
import type { UserRepo } from '../schema/user/user.repo.js';
import type { Tracer } from '@opentelemetry/api';
import { startSpanFrom, type ActiveSpan } from '../tracing.js';
import { Coalescer } from './coalesce.js';
import { JobError, JobStopped, PermanentJobError, type JobContext, type JobOwner, type StopReason } from './types.js';

/** Subscribers see at most this many progress updates per second and job; status changes are never held back. */
export const PROGRESS_UPDATES_PER_SECOND = 4;
const MAX_BACKOFF_MS = 60 * 60 * 1_000;

export interface RunnerDeps {
  jobs: JobRepo;
  users: UserRepo;
  queue: JobQueue;
  config: Config['jobs'];
  log: Logger;
  /** Called once per run with its outcome (the metrics count them). */
  onRun?(kind: string, outcome: JobRunOutcome): void;
  /** A span per run, in the trace of the operation that queued the job (tracing on). */
  tracer?: Tracer | null;
}

/** What `/readyz` reports of the runner. */
export interface RunnerHealth {
  /** `up`: polling; `down`: its last claim failed, or it has not polled for three intervals; `off`: JOB_CONCURRENCY 0. */
  status: 'up' | 'down' | 'off' | 'stopped';
  running: number;
  concurrency: number;
  /** The last time the runner looked for due jobs (null before the first look). */
  lastPollAt: string | null;
}

/** How a run ended: `retried` failed and is scheduled again, `returned` went back to the queue at shutdown. */
export type JobRunOutcome = 'completed' | 'failed' | 'retried' | 'cancelled' | 'returned' | 'lease_lost';

interface Running {
  row: JobRow;
  controller: AbortController;
  done: Promise<void>;
}

export function backoffMs(baseMs: number, attempt: number): number {
  return Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.max(0, attempt - 1));
}

export class JobRunner {
  readonly workerId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private readonly running = new Map<string, Running>();
  private stopped = true;
  /** The claim in flight, if any: a stop waits for it, so no job starts on a database about to close. */
  private claiming: Promise<void> | null = null;
  private again = false;
  private pollTimer: NodeJS.Timeout | null = null;
  private cleanupTimer: NodeJS.Timeout | null = null;
  private unsubscribe: Array<() => void> = [];
  private lastPollAt: number | null = null;
  private lastClaimFailed = false;

  constructor(private readonly deps: RunnerDeps) {}

  health(): RunnerHealth {
    const { concurrency, pollIntervalMs } = this.deps.config;
    const lastPollAt = this.lastPollAt === null ? null : new Date(this.lastPollAt).toISOString();
    const base = { running: this.running.size, concurrency, lastPollAt };
    if (this.stopped) return { status: 'stopped', ...base };
    if (concurrency === 0) return { status: 'off', ...base };
    const stale = this.lastPollAt !== null && Date.now() - this.lastPollAt > 3 * pollIntervalMs + 1_000;
    return { status: this.lastClaimFailed || stale ? 'down' : 'up', ...base };
  }

  get activeCount(): number {
    return this.running.size;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const { config, queue } = this.deps;
    this.unsubscribe = [queue.onEnqueued(() => this.wake()), queue.onCancelRequested((id) => this.cancelLocal(id))];
    if (config.concurrency === 0) return;
    this.pollTimer = setInterval(() => this.wake(), config.pollIntervalMs);
    this.cleanupTimer = setInterval(() => void this.scheduleCleanup(), config.cleanupIntervalMs);
    void this.scheduleCleanup();
    this.wake();
  }

  /**
   * Graceful stop: no more claims; running jobs get `graceMs / 2` to finish, then are told to stop (a handler stops
   * at its next step and its job goes back to PENDING with its checkpoint). Unclaimed jobs stay PENDING.
   */
  async stop(graceMs: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.cleanupTimer) clearInterval(this.cleanupTimer);
    for (const off of this.unsubscribe) off();
    await this.claiming;
    const all = () => Promise.all([...this.running.values()].map((job) => job.done));
    if (await settlesWithin(all(), graceMs / 2)) return;
    for (const job of this.running.values()) job.controller.abort('shutdown' satisfies StopReason);
    if (!(await settlesWithin(all(), graceMs / 4))) {
      this.deps.log.warn({ jobs: [...this.running.keys()] }, 'jobs still running at shutdown; their leases will expire');
    }
  }

  /** Claims and starts as many due jobs as there are free slots. */
  wake(): void {
    if (this.stopped) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    this.claiming = this.claim().finally(() => {
      this.claiming = null;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  private async claim(): Promise<void> {
    const { config, jobs, log } = this.deps;
    const free = config.concurrency - this.running.size;
    if (free <= 0) {
      this.lastPollAt = Date.now();
      return;
    }
    let rows: JobRow[];
    try {
      rows = await jobs.claim(this.workerId, free, config.leaseMs, {
        perOwner: config.concurrencyPerOwner,
        // One owner never holds every slot of this process: the last one stays free for everyone else's work.
        perOwnerHere: Math.max(1, config.concurrency - 1),
      });
      this.lastClaimFailed = false;
      this.lastPollAt = Date.now();
    } catch (error) {
      this.lastClaimFailed = true;
      this.lastPollAt = Date.now();
      log.error({ err: error }, 'claiming jobs failed');
      return;
    }
    // A stop came while the claim ran: the rows go back to the queue (the attempt not counted) instead of starting.
    if (this.stopped) {
      await Promise.all(
        rows.map((row) =>
          jobs
            .giveBack(row.id, row.lockedBy!)
            .catch((error: unknown) => log.warn({ err: error, jobId: row.id }, 'giving a claimed job back failed; its lease will expire')),
        ),
      );
      return;
    }
    for (const row of rows) this.launch(row);
    // A full batch: more may be due right now.
    if (rows.length === free) this.again = true;
  }

  private cancelLocal(id: string): void {
    this.running.get(id)?.controller.abort('cancelled' satisfies StopReason);
  }

  private launch(row: JobRow): void {
    const controller = new AbortController();
    const publisher = new Coalescer<JobRow>((value) => this.deps.queue.publish(value), 1_000 / PROGRESS_UPDATES_PER_SECOND);
    publisher.push(row, true);
    const heartbeat = setInterval(() => void this.heartbeat(row, controller), Math.max(100, this.deps.config.leaseMs / 3));
    const tracer = this.deps.tracer;
    const span = tracer
      ? startSpanFrom(tracer, `job ${row.kind}`, row.traceContext, {
          'opshub.job.id': row.id,
          'opshub.job.kind': row.kind,
          'opshub.job.attempt': row.attempts,
        })
      : null;
    const run = () => this.execute(row, controller, publisher, span);
    const done = (span ? span.run(run) : run())
      // Recording the outcome can fail too (the database went away, at shutdown or in an outage): the row keeps its
      // lease, which expires, and the job is claimed again. Nothing may escape as an unhandled rejection.
      .catch((error: unknown) => this.deps.log.error({ err: error, jobId: row.id }, 'recording the job outcome failed'))
      .finally(() => {
        span?.end();
        clearInterval(heartbeat);
        this.running.delete(row.id);
        this.wake();
      });
    this.running.set(row.id, { row, controller, done });
  }

  private async heartbeat(row: JobRow, controller: AbortController): Promise<void> {
    if (controller.signal.aborted) return;
    try {
      const state = await this.deps.jobs.heartbeat(row.id, row.lockedBy!, this.deps.config.leaseMs);
      if (!state) controller.abort('lease-lost' satisfies StopReason);
      else if (state.cancelRequested) controller.abort('cancelled' satisfies StopReason);
    } catch (error) {
      this.deps.log.warn({ err: error, jobId: row.id }, 'job heartbeat failed');
    }
  }

  private async execute(row: JobRow, controller: AbortController, publisher: Coalescer<JobRow>, span: ActiveSpan | null): Promise<void> {
    const { jobs, queue, config } = this.deps;
    const log = this.deps.log.child({ jobId: row.id, kind: row.kind, attempt: row.attempts });
    const lockedBy = row.lockedBy!;
    const settle = (updated: JobRow | null) => {
      if (updated) publisher.push(updated, true);
      else log.warn('job lease lost before it finished; another runner owns it now');
    };
    const signal = controller.signal;
    const ran = (outcome: JobRunOutcome) => {
      span?.span.setAttribute('opshub.job.outcome', outcome);
      if (outcome === 'failed' || outcome === 'retried') span?.end('JOB_FAILED');
      this.deps.onRun?.(row.kind, outcome);
    };
    const stopIfAsked = () => {
      if (signal.aborted) throw new JobStopped(signal.reason as StopReason);
    };

    try {
      if (row.cancelRequested) throw new JobStopped('cancelled');
      const definition = queue.definition(row.kind);
      if (!definition) throw new PermanentJobError(`Unknown job kind ${row.kind}`);
      if (row.attempts > row.maxAttempts) {
        throw new PermanentJobError(`Gave up after ${row.maxAttempts} attempts`);
      }
      const owner = await this.owner(row);
      if (owner) {
        const missing = definition.scopes.filter((scope) => !owner.scopes.has(scope));
        if (missing.length > 0) throw new PermanentJobError(definition.forbiddenMessage);
      }
      const errors = new UserErrors();
      const params = definition.parse(row.params, errors, ['params']);
      if (errors.any) throw new PermanentJobError(`Invalid parameters: ${errors.list.map((e) => e.message).join('; ')}`);

      log.info('job started');
      let saved = row.checkpoint as JobContext['saved'];
      const touch = async (changes: { progress?: number; checkpoint?: unknown }) => {
        stopIfAsked();
        const updated = await jobs.touch(row.id, lockedBy, config.leaseMs, changes);
        if (!updated) controller.abort('lease-lost' satisfies StopReason);
        else if (updated.cancelRequested) controller.abort('cancelled' satisfies StopReason);
        stopIfAsked();
        publisher.push(updated!);
      };
      const result = await definition.run({
        job: row,
        params,
        owner,
        signal,
        saved,
        log,
        progress: (percent) => touch({ progress: clampPercent(percent) }),
        checkpoint: async (state, percent) => {
          await touch({ checkpoint: state, progress: clampPercent(percent) });
          saved = state;
        },
      });
      settle(await jobs.complete(row.id, lockedBy, result));
      ran('completed');
      log.info('job completed');
    } catch (error) {
      const reason: StopReason | null = error instanceof JobStopped ? error.reason : signal.aborted ? (signal.reason as StopReason) : null;
      if (reason === 'cancelled') {
        settle(await jobs.cancelled(row.id, lockedBy));
        ran('cancelled');
        log.info('job cancelled');
      } else if (reason === 'shutdown') {
        settle(await jobs.giveBack(row.id, lockedBy));
        ran('returned');
        log.info('job returned to the queue at shutdown');
      } else if (reason === 'lease-lost') {
        ran('lease_lost');
        log.warn('job lease lost; another runner owns it now');
      } else {
        const message = error instanceof JobError ? error.message : 'Internal error';
        if (!(error instanceof JobError)) log.error({ err: error }, 'job handler failed unexpectedly');
        if (error instanceof PermanentJobError || row.attempts >= row.maxAttempts) {
          settle(await jobs.fail(row.id, lockedBy, message));
          ran('failed');
          log.info({ error: message }, 'job failed');
        } else {
          const delayMs = backoffMs(config.retryBaseMs, row.attempts);
          settle(await jobs.retry(row.id, lockedBy, message, delayMs));
          ran('retried');
          log.info({ error: message, delayMs }, 'job attempt failed; retry scheduled');
        }
      }
    }
  }

  /** A job re-checks that its user exists and is active, and what they may do now, when it runs. */
  private async owner(row: JobRow): Promise<JobOwner | null> {
    if (!row.ownerId) return null;
    const [user] = await this.deps.users.findByIds([row.ownerId]);
    if (!user || !user.isActive) throw new PermanentJobError('Invalid or inactive user');
    return {
      id: user.id,
      username: user.username,
      email: user.email,
      scopes: effectiveScopes(user.role as Role, row.scopes),
    };
  }

  private async scheduleCleanup(): Promise<void> {
    const interval = this.deps.config.cleanupIntervalMs;
    // One clean-up per interval across all processes: the key is the interval's number, and the jobs table holds at
    // most one row per key, so whichever process comes first schedules it and the others insert nothing.
    const slot = Math.floor(Date.now() / interval);
    try {
      await this.deps.queue.enqueueSystem({ kind: 'CLEANUP', params: {}, idempotencyKey: `CLEANUP:${interval}:${slot}` });
    } catch (error) {
      this.deps.log.error({ err: error }, 'scheduling the clean-up failed');
    }
  }
}

function clampPercent(percent: number): number {
  return Math.max(0, Math.min(100, Math.round(percent)));
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const result = await Promise.race([promise.then(() => true), timeout]);
  clearTimeout(timer);
  return result;
}
