/**
 * What a job kind is: who may start it, how its parameters are validated when it is started, and the handler the
 * runner calls. Handlers get a context with the job, an AbortSignal and `progress`/`checkpoint`, which also act as
 * the points where a cancellation, a lost lease or a shutdown stops the handler.
 */
import type { Logger } from '../log.js';
import type { Scope } from '../auth/scopes.js';
import type { JobRow } from '../db/tables.js';
import type { UserErrors } from '../schema/shared/user-error.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** The public kinds (the `JobKind` enum of the schema); anything else a registry holds is internal. */
export const PUBLIC_JOB_KINDS = ['EXPORT_ITEMS', 'SALES_REPORT', 'SEND_EMAIL', 'NEWSLETTER', 'CLEANUP', 'FILE_PROCESSING'] as const;
export type PublicJobKind = (typeof PUBLIC_JOB_KINDS)[number];

export function isPublicKind(kind: string): kind is PublicJobKind {
  return (PUBLIC_JOB_KINDS as readonly string[]).includes(kind);
}

/** Who a job runs for, as checked again when it runs. Null for system jobs. */
export interface JobOwner {
  id: string;
  username: string;
  email: string;
  /** The scopes the job was started with, intersected with the owner's role now. */
  scopes: ReadonlySet<string>;
}

export interface JobContext<P = unknown> {
  job: JobRow;
  params: P;
  owner: JobOwner | null;
  /** Aborted when the job is cancelled, its lease is lost, or the process shuts down. */
  signal: AbortSignal;
  /** Records progress (0–100) and renews the lease; throws when the job must stop (cancelled, lease lost, shutdown). */
  progress(percent: number): Promise<void>;
  /** Saves where the handler got to (kept across retries and restarts) with its progress; stops like `progress`. */
  checkpoint(state: JsonValue, percent: number): Promise<void>;
  /** What the last `checkpoint` saved, or null on a fresh start. */
  saved: JsonValue | null;
  log: Logger;
}

/**
 * How soon a job runs: a runner claims the highest priority first, then the oldest. Stored on the row (the `priority`
 * column's default is NORMAL), so the claim query orders by an index instead of mapping kinds in SQL.
 */
export const JobPriority = {
  /** Work a person is waiting for right now: notifications, single e-mails. */
  HIGH: 2,
  /** User-started bulk work: exports, reports, newsletters. */
  NORMAL: 1,
  /** Maintenance nobody waits for: clean-ups. */
  LOW: 0,
} as const;
export type JobPriorityValue = (typeof JobPriority)[keyof typeof JobPriority];

// A registry holds definitions of every parameter type: `any` is the existential here (`unknown` would reject them,
// `run` takes its parameters contravariantly).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface JobDefinition<P = any> {
  kind: string;
  /** Scopes the starter must hold, checked when started and again when run. */
  scopes: readonly Scope[];
  /** The user error (at start) and job error (at run time) when a scope is missing. */
  forbiddenMessage: string;
  maxAttempts?: number;
  /** How soon it runs among due jobs; NORMAL when absent. */
  priority?: JobPriorityValue;
  /** Validates and normalizes parameters; user errors name the field under `path`. */
  parse(params: unknown, errors: UserErrors, path: string[]): P;
  run(context: JobContext<P>): Promise<JsonValue>;
}

/**
 * A failure whose message is meant for the job's owner (it becomes `Job.error`); the attempt is retried while
 * attempts are left. Any other error is recorded as "Internal error" and logged in full.
 */
export class JobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobError';
  }
}

/** A failure that retrying cannot fix: the job fails at once, whatever attempts are left. */
export class PermanentJobError extends JobError {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentJobError';
  }
}

/** Why a running handler was told to stop. */
export type StopReason = 'cancelled' | 'lease-lost' | 'shutdown';

export class JobStopped extends Error {
  constructor(readonly reason: StopReason) {
    super(`Job stopped: ${reason}`);
    this.name = 'JobStopped';
  }
}
