import type { PubSub } from '../../pubsub/pubsub.js';
import type { Authentication, Viewer } from '../../auth/identity.js';
import type { Config } from '../../config.js';
import type { JobRow } from '../../db/tables.js';
import { jobSort, type JobRepo, type JobStatusValue } from '../../jobs/job.repo.js';
import { toJobEvent, type JobQueue } from '../../jobs/queue.js';
import { isPublicKind, PUBLIC_JOB_KINDS } from '../../jobs/types.js';
import { Topic, type JobEvent, type Topics } from '../../pubsub/topics.js';
import { pipeStream, SKIP } from '../../realtime/streams.js';
import { pageRequest, toConnection, type Connection, type ConnectionArgs } from '../shared/connection.js';
import { badUserInput, notFound, unauthenticated } from '../shared/errors.js';
import { cursorExpired, decodeStreamCursor, encodeStreamCursor, type ReplayLimits } from '../shared/stream-cursor.js';
import type { ConnectionHandle } from '../../realtime/connections.js';
import { fromGlobalId, parseGlobalId } from '../shared/global-id.js';
import { userError, UserErrorCode, UserErrors } from '../shared/user-error.js';
import type { StartJobInput } from './job.input.js';
import { Job, JobStatus, TERMINAL_STATUSES, type JobPayload } from './job.type.js';

/** Who is asking: the parts of the request context the job rules read. */
export type JobViewer = Pick<Authentication, 'viewer' | 'scopes'>;

export interface ExportFile {
  filename: string;
  contentType: string;
  chunks: AsyncIterable<string>;
}

const JOB_NOT_FOUND = 'Job not found';
/** One user's queue is bounded, so a flood of starts costs the database rows and the runner time only up to here. */
const queuedCapMessage = (max: number) => `At most ${max} of your jobs may wait at once; start more when some have finished, or cancel some`;

/** Jobs as the API sees them: starting (parameters validated, permissions checked), cancelling, listing, live updates. */
export class JobService {
  private readonly queue: JobQueue;
  private readonly repo: JobRepo;
  private readonly pubsub: PubSub<Topics>;
  private readonly config: Pick<Config['jobs'], 'maxQueuedPerUser'>;
  private readonly replay: ReplayLimits;

  constructor(deps: {
    queue: JobQueue;
    repo: JobRepo;
    pubsub: PubSub<Topics>;
    config: Pick<Config['jobs'], 'maxQueuedPerUser'>;
    /** How far back a resuming subscription may start. */
    replay: ReplayLimits;
  }) {
    ({ queue: this.queue, repo: this.repo, pubsub: this.pubsub, config: this.config, replay: this.replay } = deps);
  }

  /** Owners see their jobs; jobs:read holders see everyone's. Internal kinds never appear in the API. */
  visible(viewer: JobViewer, row: Pick<JobRow, 'kind' | 'ownerId'>): boolean {
    if (!viewer.viewer || !isPublicKind(row.kind)) return false;
    return row.ownerId === viewer.viewer.id || viewer.scopes.has('jobs:read');
  }

  async start(viewer: JobViewer, input: StartJobInput): Promise<JobPayload> {
    if (!viewer.viewer) throw unauthenticated();
    const errors = new UserErrors();
    const definition = this.queue.definition(input.kind);
    if (!definition || !isPublicKind(definition.kind)) {
      return { job: null, userErrors: errors.add(['input', 'kind'], 'Unknown job kind').list };
    }
    if (definition.scopes.some((scope) => !viewer.scopes.has(scope))) {
      return { job: null, userErrors: errors.add(['input', 'kind'], definition.forbiddenMessage, UserErrorCode.FORBIDDEN).list };
    }
    const params = definition.parse(input.params ?? {}, errors, ['input', 'params']);
    if (errors.any) return { job: null, userErrors: errors.list };
    const max = this.config.maxQueuedPerUser;
    const row = await this.queue.add(definition, params, { ownerId: viewer.viewer.id, scopes: [...viewer.scopes] }, { maxQueued: max });
    if (!row) {
      return { job: null, userErrors: errors.add(['input', 'kind'], queuedCapMessage(max), UserErrorCode.LIMIT_EXCEEDED).list };
    }
    return { job: Job.fromRow(row), userErrors: [] };
  }

  async cancel(viewer: JobViewer, globalId: string): Promise<JobPayload> {
    const id = parseGlobalId(globalId, 'Job');
    const row = id ? await this.repo.findById(id) : null;
    if (!row || !this.visible(viewer, row)) {
      return { job: null, userErrors: [userError(['id'], JOB_NOT_FOUND, UserErrorCode.NOT_FOUND)] };
    }
    if (row.ownerId !== viewer.viewer?.id && !viewer.scopes.has('jobs:read')) {
      return { job: null, userErrors: [userError(['id'], JOB_NOT_FOUND, UserErrorCode.NOT_FOUND)] };
    }
    const updated = await this.queue.requestCancel(row.id);
    if (!updated) {
      const current = (await this.repo.findById(row.id)) ?? row;
      return {
        job: Job.fromRow(current),
        userErrors: [userError(['id'], `Job is already ${current.status.toLowerCase()}`, UserErrorCode.INVALID)],
      };
    }
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
  async subscribe(
    viewer: JobViewer,
    globalId: string,
    after?: string | null,
    connection?: ConnectionHandle,
  ): Promise<AsyncIterableIterator<JobEvent>> {
    if (!viewer.viewer) throw unauthenticated();
    const id = fromGlobalId(globalId, 'Job');
    const stream = { kind: 'job', id } as const;
    const cursor = after ?? connection?.lastEventId;
    // A job's stream is its states: resuming from a revision delivers the current state only if it is newer.
    const from = cursor === null || cursor === undefined ? null : decodeStreamCursor(cursor, stream);
    const source = this.pubsub.subscribe(Topic.JobUpdated, id)[Symbol.asyncIterator]();
    // The first next() starts the listener; its result is the first live event.
    const firstLive = source.next();
    const row = await this.repo.findById(id);
    if (!row || !this.visible(viewer, row)) {
      await source.return?.();
      throw notFound(JOB_NOT_FOUND);
    }
    if (from !== null && from > row.revision) {
      await source.return?.();
      throw badUserInput('The cursor in "after" names no state of this job', { argument: 'after' });
    }
    if (from !== null && row.finishedAt && row.finishedAt.getTime() < Date.now() - this.replay.retentionMs) {
      await source.return?.();
      throw cursorExpired(`The cursor in "after" is older than the ${this.replay.retentionMs} ms retention: refetch the job`, {
        argument: 'after',
        retentionMs: this.replay.retentionMs,
      });
    }
    const done: IteratorReturnResult<undefined> = { value: undefined, done: true };
    const ahead: Array<Promise<IteratorResult<JobEvent>>> = [Promise.resolve({ value: toJobEvent(row), done: false }), firstLive];
    let finished = false;
    // The current state, then the live events; nothing more once a terminal state went out.
    const feed: AsyncIterableIterator<JobEvent> = {
      next: () => (finished ? Promise.resolve(done) : (ahead.shift() ?? source.next())),
      return: async () => {
        await source.return?.();
        return done;
      },
      [Symbol.asyncIterator]: () => feed,
    };
    // Resuming at the current revision: nothing newer to replay, and a finished job has nothing more to send.
    if (from !== null && from === row.revision && TERMINAL_STATUSES.has(row.status)) finished = true;
    let last = from ?? -1;
    return pipeStream(feed, (event) => {
      if (event.revision <= last) return SKIP;
      last = event.revision;
      if (TERMINAL_STATUSES.has(event.status)) finished = true;
      connection?.delivered?.(encodeStreamCursor(stream, event.revision));
      return event;
    });
  }

  /** Each event is checked for the subscriber as they are now (the event's context is rebuilt per event). */
  eventFor(viewer: JobViewer, event: JobEvent): Job {
    if (!this.visible(viewer, event)) throw notFound(JOB_NOT_FOUND);
    return Job.fromEvent(event);
  }

  /**
   * A finished export's file, for its owner only; null (a 404) for anyone else or anything else. `viewer: 'signed'`:
   * the request carries a URL signed for this job (`Job.resultUrl`), which stands for the owner.
   */
  async exportFile(viewer: Viewer | null | 'signed', globalId: string): Promise<ExportFile | null> {
    const id = parseGlobalId(globalId, 'Job');
    if (!viewer || !id) return null;
    const row = await this.repo.findById(id);
    if (!row || (viewer !== 'signed' && row.ownerId !== viewer.id) || row.kind !== 'EXPORT_ITEMS' || row.status !== 'COMPLETED') return null;
    const result = row.result as { filename: string; contentType: string };
    return { filename: result.filename, contentType: result.contentType, chunks: this.repo.readChunks(row.id) };
  }
}
