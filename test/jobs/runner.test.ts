/**
 * Acceptance 4 and 5: retries, failure, cancellation, and the run-time permission check. The handler registry is
 * injectable (createApp's `jobHandlers`), so these tests replace the handlers of public kinds with ones that fail
 * or wait on purpose; nothing of this reaches the public schema.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobError, type JobDefinition } from '../../src/jobs/types.js';
import { fromGlobalId } from '../../src/schema/shared/global-id.js';
import { createUser, type TestUser } from '../helpers/auth.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { collect } from '../helpers/subscriptions.js';

const START = /* GraphQL */ `
  mutation Start($input: StartJobInput!) {
    startJob(input: $input) {
      job { id status }
      userErrors { field message code }
    }
  }
`;

const CANCEL = /* GraphQL */ `
  mutation Cancel($id: ID!) {
    cancelJob(id: $id) {
      job { id status }
      userErrors { field message code }
    }
  }
`;

const WATCH = /* GraphQL */ `
  subscription Watch($id: ID!) {
    jobUpdated(id: $id) { id status progress error attempts result }
  }
`;

class Deferred {
  resolve!: () => void;
  readonly promise = new Promise<void>((resolve) => (this.resolve = resolve));
}

/** Per job: when the handler entered its first step, the test's release of it, and the steps it began. */
const gates = new Map<string, { entered: Deferred; release: Deferred; steps: number[] }>();
function gate(jobId: string) {
  let entry = gates.get(jobId);
  if (!entry) gates.set(jobId, (entry = { entered: new Deferred(), release: new Deferred(), steps: [] }));
  return entry;
}
const attemptsSeen = new Map<string, number>();
const exportRuns: string[] = [];

const anyParams = (raw: unknown) => (raw ?? {}) as Record<string, never>;

const handlers: JobDefinition[] = [
  {
    // Fails its first two attempts, then succeeds.
    kind: 'SEND_EMAIL',
    scopes: [],
    forbiddenMessage: 'unused',
    parse: anyParams,
    async run({ job }) {
      attemptsSeen.set(job.id, (attemptsSeen.get(job.id) ?? 0) + 1);
      if (job.attempts < 3) throw new JobError('Mail server unavailable');
      return { delivered: true };
    },
  },
  {
    // Always fails.
    kind: 'NEWSLETTER',
    scopes: [],
    forbiddenMessage: 'unused',
    parse: anyParams,
    async run() {
      throw new JobError('Mailing list service is down');
    },
  },
  {
    // Step 1 waits for the test; steps 2 and 3 follow, each after a progress report.
    kind: 'SALES_REPORT',
    scopes: [],
    forbiddenMessage: 'unused',
    parse: anyParams,
    async run({ job, progress }) {
      const entry = gate(job.id);
      for (const step of [1, 2, 3]) {
        entry.steps.push(step);
        if (step === 1) {
          entry.entered.resolve();
          await entry.release.promise;
        }
        await progress(step * 33);
      }
      return { steps: entry.steps.length };
    },
  },
  {
    // Records that it ran.
    kind: 'EXPORT_ITEMS',
    scopes: [],
    forbiddenMessage: 'unused',
    parse: anyParams,
    async run({ job }) {
      exportRuns.push(job.id);
      return { ran: true };
    },
  },
];

let server: TestServer;
let user: TestUser;

beforeAll(async () => {
  // One job at a time, so a job waiting at its gate keeps the next ones PENDING.
  server = await startServer({ JOB_CONCURRENCY: '1', JOB_POLL_INTERVAL_MS: '50', JOB_RETRY_BASE_MS: '20' }, { jobHandlers: handlers });
  user = await createUser(server);
});

afterAll(async () => {
  await server?.close();
});

async function start(kind: string, as: TestUser = user): Promise<string> {
  const { body } = await server.gql(START, { input: { kind, params: {} } }, { token: as.token });
  expect(body.errors).toBeUndefined();
  expect(body.data!.startJob.userErrors).toEqual([]);
  return body.data!.startJob.job.id as string;
}

function watch(id: string, as: TestUser = user) {
  return collect(server.wsClient({ authorization: `Bearer ${as.token}` }), { query: WATCH, variables: { id } });
}

async function finalState(id: string, as: TestUser = user) {
  const watcher = watch(id, as);
  await watcher.done(20_000);
  expect(watcher.errors).toEqual([]);
  for (const event of watcher.events) expect(event.errors).toBeUndefined();
  return { last: watcher.events.at(-1)!.data!.jobUpdated, events: watcher.events.map((event) => event.data!.jobUpdated) };
}

async function row(id: string) {
  return (await server.app.container.repos.jobs.findById(fromGlobalId(id, 'Job')))!;
}

describe('retries', () => {
  it('completes a job whose handler throws twice and then succeeds, after 3 attempts', async () => {
    const id = await start('SEND_EMAIL');
    const { last } = await finalState(id);
    expect(last).toMatchObject({ status: 'COMPLETED', attempts: 3, error: null, progress: 100, result: { delivered: true } });
    expect(attemptsSeen.get(fromGlobalId(id, 'Job'))).toBe(3);
  });

  it('fails a job whose handler always throws after its last attempt, and its subscriber sees the error', async () => {
    const id = await start('NEWSLETTER');
    const { last } = await finalState(id);
    expect(last).toMatchObject({ status: 'FAILED', attempts: 3, error: 'Mailing list service is down' });
    expect((await row(id)).finishedAt).toBeInstanceOf(Date);
  });
});

describe('cancelJob', () => {
  it('cancels a PENDING job at once, and the job never runs', async () => {
    const busy = await start('SALES_REPORT');
    await gate(fromGlobalId(busy, 'Job')).entered.promise;

    const pending = await start('EXPORT_ITEMS');
    const cancelled = await server.gql(CANCEL, { id: pending }, { token: user.token });
    expect(cancelled.body.data!.cancelJob).toEqual({ job: { id: pending, status: 'CANCELLED' }, userErrors: [] });
    const later = await start('EXPORT_ITEMS');

    gate(fromGlobalId(busy, 'Job')).release.resolve();
    // Jobs are claimed in order, so once the later one completed, the cancelled one had its chance to run.
    expect((await finalState(later)).last.status).toBe('COMPLETED');
    expect(exportRuns).toEqual([fromGlobalId(later, 'Job')]);
    expect(await row(pending)).toMatchObject({ status: 'CANCELLED', attempts: 0 });
    expect((await finalState(busy)).last.status).toBe('COMPLETED');

    const again = await server.gql(CANCEL, { id: pending }, { token: user.token });
    expect(again.body.data!.cancelJob.userErrors).toEqual([{ field: ['id'], message: 'Job is already cancelled', code: 'INVALID' }]);
  });

  it('stops a RUNNING job at its next step', async () => {
    const id = await start('SALES_REPORT');
    const entry = gate(fromGlobalId(id, 'Job'));
    await entry.entered.promise;
    const watcher = watch(id);

    const { body } = await server.gql(CANCEL, { id }, { token: user.token });
    expect(body.data!.cancelJob).toEqual({ job: { id, status: 'RUNNING' }, userErrors: [] });
    entry.release.resolve();

    await watcher.done(20_000);
    expect(watcher.events.at(-1)!.data!.jobUpdated).toMatchObject({ status: 'CANCELLED', error: null });
    expect(entry.steps).toEqual([1]);
    expect(await row(id)).toMatchObject({ status: 'CANCELLED', attempts: 1 });
  });

  it("does not cancel another user's job", async () => {
    const other = await createUser(server);
    const busy = await start('SALES_REPORT');
    await gate(fromGlobalId(busy, 'Job')).entered.promise;
    const { body } = await server.gql(CANCEL, { id: busy }, { token: other.token });
    expect(body.data!.cancelJob).toEqual({ job: null, userErrors: [{ field: ['id'], message: 'Job not found', code: 'NOT_FOUND' }] });
    gate(fromGlobalId(busy, 'Job')).release.resolve();
    expect((await finalState(busy)).last.status).toBe('COMPLETED');
  });
});

describe('permissions at run time', () => {
  it('fails the job of an owner deactivated after starting it with "Invalid or inactive user"', async () => {
    const busy = await start('SALES_REPORT');
    await gate(fromGlobalId(busy, 'Job')).entered.promise;
    const leaver = await createUser(server);
    const id = await start('EXPORT_ITEMS', leaver);
    await server.app.container.repos.users.setActive(leaver.rowId, false);
    gate(fromGlobalId(busy, 'Job')).release.resolve();

    // The owner can no longer sign in, so a staff member watches.
    const admin = await createUser(server, { role: 'ADMIN' });
    const { last } = await finalState(id, admin);
    expect(last).toMatchObject({ status: 'FAILED', error: 'Invalid or inactive user', attempts: 1 });
    expect(exportRuns).not.toContain(fromGlobalId(id, 'Job'));
  });
});
