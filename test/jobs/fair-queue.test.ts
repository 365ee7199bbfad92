/**
 * A fair queue: one user flooding it with exports delays nobody else. Jobs are claimed by priority, then age; an
 * owner holds at most JOB_CONCURRENCY_PER_OWNER running jobs (here 1) and never every slot of a process; a user
 * may have at most JOB_MAX_QUEUED_PER_USER jobs waiting; parameters are refused at start, not when the job runs.
 *
 * Exports are made slow deterministically: this file's EXPORT_ITEMS is the real one (its parameters, priority and
 * CSV), except that each run first waits until the test releases it. The other kinds record when they start.
 */
import type { ObjectStorage } from '../../src/storage/storage.js';
import { and, count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobs } from '../../src/db/tables.js';
import { cleanup } from '../../src/jobs/handlers/cleanup.js';
import { sendEmail } from '../../src/jobs/handlers/email.js';
import { exportItems } from '../../src/jobs/handlers/export-items.js';
import { salesReport } from '../../src/jobs/handlers/sales-report.js';
import { JobPriority, type JobDefinition } from '../../src/jobs/types.js';
import { fromGlobalId } from '../../src/schema/shared/global-id.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { collect } from '../helpers/subscriptions.js';

const QUEUED_CAP = 150;

const START = /* GraphQL */ `
  mutation Start($input: StartJobInput!) {
    startJob(input: $input) {
      job { id status }
      userErrors { field message code }
    }
  }
`;

const CANCEL = 'mutation Cancel($id: ID!) { cancelJob(id: $id) { job { status } userErrors { message } } }';

const SEND_DM = /* GraphQL */ `
  mutation Dm($input: SendDirectMessageInput!) { sendDirectMessage(input: $input) { message { id } userErrors { message } } }
`;

/** The handlers' repositories, filled in once the server exists (handlers read them only when they run). */
const deps = {} as TestServer['app']['container']['repos'] & {
  emailDelayMs: number;
  storage: ObjectStorage;
  fileOrphanGraceMs: number;
  uploadSettleMs: number;
};

/** Job ids (uuids) in the order their handlers began, with their kinds. */
const started: Array<{ id: string; kind: string }> = [];

/** Held exports wait here until the test releases them (one by one, or all at the end). */
const held = new Map<string, () => void>();
let releaseAll = false;

function release(jobId: string): void {
  held.get(jobId)?.();
  held.delete(jobId);
}

function recorded<P>(definition: JobDefinition<P>): JobDefinition<P> {
  return {
    ...definition,
    run(ctx) {
      started.push({ id: ctx.job.id, kind: ctx.job.kind });
      return definition.run(ctx);
    },
  };
}

function heldUntilReleased<P>(definition: JobDefinition<P>): JobDefinition<P> {
  return {
    ...definition,
    async run(ctx) {
      started.push({ id: ctx.job.id, kind: ctx.job.kind });
      if (!releaseAll) {
        await new Promise<void>((resolve, reject) => {
          held.set(ctx.job.id, resolve);
          ctx.signal.addEventListener('abort', () => reject(new Error('stopped while held')), { once: true });
        });
      }
      return definition.run(ctx);
    },
  };
}

const handlers: JobDefinition[] = [
  heldUntilReleased(exportItems(deps)),
  recorded(salesReport(deps)),
  recorded(sendEmail(deps)),
  recorded(cleanup(deps)),
];

let server: TestServer;
let flooder: TestUser;
let other: TestUser;
let sender: TestUser;
let admin: TestUser;
/** The flooder's export ids (global), in the order they were started. */
const flood: string[] = [];

beforeAll(async () => {
  server = await startServer(
    { JOB_CONCURRENCY: '2', JOB_POLL_INTERVAL_MS: '50', JOB_MAX_QUEUED_PER_USER: String(QUEUED_CAP) },
    { jobHandlers: handlers },
  );
  Object.assign(deps, server.app.container.repos, {
    emailDelayMs: 0,
    storage: server.app.container.services.files.storage,
    fileOrphanGraceMs: server.config.files.orphanGraceMs,
    uploadSettleMs: server.config.http.requestTimeoutMs,
  });
  [flooder, other, sender, admin] = await Promise.all([
    createUser(server),
    createUser(server),
    createUser(server),
    createUser(server, { role: 'ADMIN' }),
  ]);
});

afterAll(async () => {
  releaseAll = true;
  for (const id of [...held.keys()]) release(id);
  await server?.close();
});

async function start(as: TestUser, kind: string, params: unknown) {
  const { body } = await server.gql(START, { input: { kind, params } }, { token: as.token });
  expect(body.errors).toBeUndefined();
  return body.data!.startJob as {
    job: { id: string; status: string } | null;
    userErrors: Array<{ field: string[]; message: string; code: string }>;
  };
}

/** Polls `check` until it returns a value (the runner works in the background; nothing signals the test). */
async function eventually<T>(
  check: () => T | null | undefined | Promise<T | null | undefined>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The owner's jobs in this status, or all of them. */
async function jobsOf(owner: TestUser, status?: 'PENDING' | 'RUNNING' | 'COMPLETED'): Promise<number> {
  const [row] = await server.app.container.db
    .select({ value: count() })
    .from(jobs)
    .where(and(eq(jobs.ownerId, owner.rowId), status ? eq(jobs.status, status) : undefined));
  return row!.value;
}

/** Releases a held export once it runs, and waits for its final row. */
async function finish(globalId: string) {
  const id = fromGlobalId(globalId, 'Job');
  await eventually(() => held.has(id), 'the export to start');
  release(id);
  return eventually(async () => {
    const row = await server.app.container.repos.jobs.findById(id);
    return row && row.status !== 'RUNNING' && row.status !== 'PENDING' ? row : null;
  }, 'the export to finish');
}

const startedOf = (owner: readonly string[]) => started.filter((entry) => owner.includes(entry.id));
const rowIds = (ids: readonly string[]) => ids.map((id) => fromGlobalId(id, 'Job'));

describe('a user who queues 150 exports', () => {
  it("does not delay another user's direct-message notification: it arrives within 1 s", async () => {
    // The first alone, so it is the one that runs; the other 149 ten at a time.
    for (const batch of [1, ...Array.from({ length: 15 }, (_, i) => (i < 14 ? 10 : 9))]) {
      const results = await Promise.all(Array.from({ length: batch }, () => start(flooder, 'EXPORT_ITEMS', { inStock: true })));
      for (const { job, userErrors } of results) {
        expect(userErrors).toEqual([]);
        flood.push(job!.id);
      }
    }
    expect(flood).toHaveLength(150);
    // The flooder's exports are running (and held).
    await eventually(() => startedOf(rowIds(flood)).length > 0, "the flooder's first export");

    const streams = server.app.container.services.realtime.streams;
    const before = streams.open;
    const received = collect(server.wsClient({ authorization: `Bearer ${other.token}` }), {
      query: 'subscription { notificationReceived { title body } }',
    });
    await eventually(() => streams.open > before, 'the notification subscription');

    const sentAt = Date.now();
    const { body } = await server.gql(SEND_DM, { input: { toUserId: other.id, body: 'Are the exports done?' } }, { token: sender.token });
    expect(body.data!.sendDirectMessage.userErrors).toEqual([]);
    // The acceptance criterion is a latency: the event is there within a second of sending.
    const [event] = await received.waitFor(1, 1_000);
    expect(Date.now() - sentAt).toBeLessThan(1_000);
    expect(event!.data!.notificationReceived).toEqual({ title: `New message from ${sender.username}`, body: 'Are the exports done?' });
    received.dispose();
  });

  it('holds at most one running job per owner, so the other slot serves everyone else', async () => {
    // The first export runs; every other one of the flooder's waits.
    expect(startedOf(rowIds(flood))).toEqual([{ id: fromGlobalId(flood[0]!, 'Job'), kind: 'EXPORT_ITEMS' }]);
    expect(await jobsOf(flooder, 'RUNNING')).toBe(1);
    expect(await jobsOf(flooder, 'PENDING')).toBe(149);

    // Another user's export takes the second slot at once, ahead of 149 older exports.
    const { job } = await start(other, 'EXPORT_ITEMS', {});
    await eventually(() => startedOf(rowIds([job!.id])).length === 1, "the other user's export");
    expect(await jobsOf(other, 'RUNNING')).toBe(1);
    expect(startedOf(rowIds(flood))).toHaveLength(1);

    // Released, it completes, and the slot is free again without going to the flooder.
    release(fromGlobalId(job!.id, 'Job'));
    await eventually(async () => (await jobsOf(other, 'RUNNING')) === 0, "the other user's export to finish");
    expect(await jobsOf(flooder, 'RUNNING')).toBe(1);
  });

  it('skips the owner in the claim of another process too, counting running jobs across processes', async () => {
    const repo = server.app.container.repos.jobs;
    // The flooder's running job belongs to this server's runner; a second worker sharing the database claims nothing
    // of theirs while it runs.
    expect(await repo.claim('another-process', 10, 30_000, { perOwner: 1, perOwnerHere: 1 })).toEqual([]);

    // With room for two per owner it takes exactly one more: the oldest waiting export.
    const [oldest] = await server.app.container.db
      .select({ id: jobs.id })
      .from(jobs)
      .where(and(eq(jobs.ownerId, flooder.rowId), eq(jobs.status, 'PENDING')))
      .orderBy(jobs.runAt, jobs.id)
      .limit(1);
    const [claimed, ...rest] = await repo.claim('another-process', 10, 30_000, { perOwner: 2, perOwnerHere: 5 });
    expect(rest).toEqual([]);
    expect(claimed).toMatchObject({ id: oldest!.id, status: 'RUNNING', ownerId: flooder.rowId });
    // And never more of one owner than its own share of that process's slots.
    expect(await repo.claim('another-process', 10, 30_000, { perOwner: 100, perOwnerHere: 1 })).toEqual([]);
    expect(await repo.giveBack(claimed!.id, claimed!.lockedBy!)).toMatchObject({ status: 'PENDING', attempts: 0 });
  });

  it('claims the highest priority first, then the oldest', async () => {
    // Both slots busy: the flooder's export and one of another user's.
    const { job: blocker } = await start(other, 'EXPORT_ITEMS', {});
    const blockerId = fromGlobalId(blocker!.id, 'Job');
    await eventually(() => startedOf([blockerId]).length === 1, 'the blocking export');

    // Queued oldest first: LOW, NORMAL, HIGH.
    const queue = server.app.container.queue;
    const cleanupJob = await queue.enqueueSystem({ kind: 'CLEANUP', params: {}, idempotencyKey: `fair-queue:${Date.now()}` });
    const report = await queue.enqueueSystem({ kind: 'SALES_REPORT', params: { from: '2026-01-01', to: '2026-01-31' } });
    const email = await queue.enqueueSystem({
      kind: 'SEND_EMAIL',
      params: { to: 'someone@example.com', subject: 'Receipt', body: 'Thank you.' },
    });
    expect([cleanupJob!.priority, report!.priority, email!.priority]).toEqual([JobPriority.LOW, JobPriority.NORMAL, JobPriority.HIGH]);
    const order = [email!.id, report!.id, cleanupJob!.id];
    expect(startedOf(order)).toEqual([]);

    release(blockerId);
    await eventually(() => startedOf(order).length === 3, 'the three system jobs');
    expect(startedOf(order).map((entry) => entry.kind)).toEqual(['SEND_EMAIL', 'SALES_REPORT', 'CLEANUP']);
    // The flooder's exports, older and NORMAL, still wait for their own running one.
    expect(startedOf(rowIds(flood))).toHaveLength(1);
  });
});

describe('the queued cap (JOB_MAX_QUEUED_PER_USER)', () => {
  it('refuses one more PENDING job than the cap as a user error, and counts only waiting jobs', async () => {
    // 149 waiting and one running: one more fits.
    expect(await jobsOf(flooder, 'PENDING')).toBe(QUEUED_CAP - 1);
    const last = await start(flooder, 'EXPORT_ITEMS', {});
    expect(last.userErrors).toEqual([]);
    flood.push(last.job!.id);

    const refused = await start(flooder, 'EXPORT_ITEMS', {});
    expect(refused).toEqual({
      job: null,
      userErrors: [
        {
          field: ['input', 'kind'],
          message: `At most ${QUEUED_CAP} of your jobs may wait at once; start more when some have finished, or cancel some`,
          code: 'LIMIT_EXCEEDED',
        },
      ],
    });
    expect(await jobsOf(flooder, 'PENDING')).toBe(QUEUED_CAP);
    // Other users are not affected by the flooder's cap.
    const unaffected = await start(sender, 'EXPORT_ITEMS', {});
    expect(unaffected.userErrors).toEqual([]);
    await finish(unaffected.job!.id);
  });

  it('lets concurrent starts fill the room that is left and no more', async () => {
    // Five cancelled: room for five.
    for (const id of flood.slice(-5)) {
      const { body } = await server.gql(CANCEL, { id }, { token: flooder.token });
      expect(body.data!.cancelJob).toEqual({ job: { status: 'CANCELLED' }, userErrors: [] });
    }
    const results = await Promise.all(Array.from({ length: 12 }, () => start(flooder, 'EXPORT_ITEMS', {})));
    expect(results.filter((result) => result.job !== null)).toHaveLength(5);
    expect(results.filter((result) => result.userErrors[0]?.code === 'LIMIT_EXCEEDED')).toHaveLength(7);
    expect(await jobsOf(flooder, 'PENDING')).toBe(QUEUED_CAP);
  });
});

describe('parameters are validated when a job is started', () => {
  const priceMax = (2 ** 31 - 1) / 100;
  const refusals: Array<[string, string, () => TestUser, unknown, Array<{ field: string[]; message: string }>]> = [
    [
      'a price whose cents do not fit the column',
      'EXPORT_ITEMS',
      () => sender,
      { minPrice: 1e300, maxPrice: 3e9 },
      [
        { field: ['input', 'params', 'minPrice'], message: `Minimum price must be at most ${priceMax}` },
        { field: ['input', 'params', 'maxPrice'], message: `Maximum price must be at most ${priceMax}` },
      ],
    ],
    [
      'a negative price, a number that is not one, and an unknown key',
      'EXPORT_ITEMS',
      () => sender,
      { minPrice: -0.01, maxPrice: 'NaN', sort: 'price' },
      [
        { field: ['input', 'params', 'sort'], message: 'Unknown parameter "sort"' },
        { field: ['input', 'params', 'minPrice'], message: 'Minimum price must be at least 0' },
        { field: ['input', 'params', 'maxPrice'], message: 'Maximum price must be a number' },
      ],
    ],
    [
      'a search and a category that are too long',
      'EXPORT_ITEMS',
      () => sender,
      { search: 'x'.repeat(51), categories: ['B'.repeat(5_000)] },
      [
        { field: ['input', 'params', 'search'], message: 'Search must be at most 50 characters' },
        { field: ['input', 'params', 'categories'], message: 'Categories must each be at most 20 characters' },
      ],
    ],
    [
      'a report date outside the dates the database takes',
      'SALES_REPORT',
      () => admin,
      { from: '0000-01-01', to: '9999-12-31' },
      [
        { field: ['input', 'params', 'from'], message: 'From must be between 1970-01-01 and 2999-12-31' },
        { field: ['input', 'params', 'to'], message: 'To must be between 1970-01-01 and 2999-12-31' },
      ],
    ],
    [
      'an e-mail address longer than any address',
      'SEND_EMAIL',
      () => admin,
      { to: [`${'a'.repeat(300)}@example.com`], subject: 'Hi', body: 'Text' },
      [{ field: ['input', 'params', 'to'], message: 'Recipients must each be at most 254 characters' }],
    ],
  ];

  it.each(refusals)('refuses %s at start, naming the field, and queues nothing', async (_what, kind, as, params, errors) => {
    const stored = await jobsOf(as());
    const result = await start(as(), kind, params);
    expect(result).toEqual({ job: null, userErrors: errors.map((error) => ({ ...error, code: 'INVALID' })) });
    expect(await jobsOf(as())).toBe(stored);
  });

  it('accepts the largest price a filter may name, and the export runs with it', async () => {
    const buyer = await createUser(server);
    const { job, userErrors } = await start(buyer, 'EXPORT_ITEMS', { minPrice: 0, maxPrice: priceMax });
    expect(userErrors).toEqual([]);
    expect(await finish(job!.id)).toMatchObject({ status: 'COMPLETED', error: null, result: { rows: 0 } });
  });
});
