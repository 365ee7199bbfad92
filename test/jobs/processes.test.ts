/**
 * Acceptance 2 and 3, with the real entry point as child processes: a job survives its process being killed, and
 * two processes on one PostgreSQL database run each of 200 jobs exactly once.
 */
import { and, count, eq, inArray } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { emailOutbox, jobs } from '../../src/db/tables.js';
import { fromGlobalId } from '../../src/schema/shared/global-id.js';
import { gql, loginToken, spawnedStorage, spawnServer, stopAll, wsClient, type SpawnedServer } from '../helpers/spawn.js';
import { collect } from '../helpers/subscriptions.js';

const ADMIN = { email: 'jobs-admin@example.com', password: 'Adm1n-Passw0rd' };
const onPostgres = Boolean(process.env.DATABASE_URL);

const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  await stopAll();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function adminToken(url: string): Promise<string> {
  return loginToken(url, ADMIN.email, ADMIN.password);
}

function watch(url: string, token: string, id: string) {
  const client = wsClient(url, token);
  cleanups.push(() => client.dispose());
  return collect(client, { query: 'subscription($id: ID!) { jobUpdated(id: $id) { status progress error } }', variables: { id } });
}

function logsOf(server: SpawnedServer, msg: string, jobId?: string) {
  return server.logs.filter((line) => line.msg === msg && (jobId === undefined || line.jobId === jobId));
}

/** Polls `check` until it holds (for conditions in another process, which sends no event this process can await). */
async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('a server process killed while a job runs', () => {
  it('leaves the job to the next process, which completes it exactly once without duplicate outbox rows', async () => {
    const store = await spawnedStorage(cleanups);
    const env = {
      ...store.env,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      JOB_LEASE_MS: '1000',
      JOB_POLL_INTERVAL_MS: '100',
      JOB_EMAIL_DELAY_MS: '150',
    };
    const first = spawnServer(env);
    const url = await first.ready;
    const token = await adminToken(url);
    const recipients = Array.from({ length: 20 }, (_, i) => `reader${i}@example.com`);
    const { body: started } = await gql(
      url,
      'mutation($input: StartJobInput!) { startJob(input: $input) { job { id } userErrors { message } } }',
      { input: { kind: 'SEND_EMAIL', params: { to: recipients, subject: 'Stock update', body: 'New arrivals this week.' } } },
      token,
    );
    expect(started.errors).toBeUndefined();
    const id = started.data.startJob.job.id as string;
    const rowId = fromGlobalId(id, 'Job');

    // Killed once a few e-mails went out, mid-run.
    const watcher = watch(url, token, id);
    await until(async () => watcher.events.some((event) => (event.data?.jobUpdated.progress ?? 0) >= 15), 30_000, 'progress');
    expect(watcher.events.at(-1)!.data!.jobUpdated.status).toBe('RUNNING');
    expect(await first.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    expect(logsOf(first, 'job completed', rowId)).toEqual([]);

    const second = spawnServer(env);
    const url2 = await second.ready;
    const after = watch(url2, token, id);
    await after.done(60_000);
    expect(after.events.at(-1)!.data!.jobUpdated).toEqual({ status: 'COMPLETED', progress: 100, error: null });
    // The log lines come through the child's stdout, which may be read after the event arrived over the socket.
    await until(async () => logsOf(second, 'job completed', rowId).length > 0, 10_000, 'the completion log line');
    expect(logsOf(second, 'job started', rowId)).toHaveLength(1);
    expect(logsOf(second, 'job completed', rowId)).toHaveLength(1);
    expect(await second.stop()).toEqual({ code: 0, signal: null });

    const database = await store.open();
    try {
      const [job] = await database.db.select().from(jobs).where(eq(jobs.id, rowId));
      expect(job).toMatchObject({ status: 'COMPLETED', attempts: 2, progress: 100 });
      const rows = await database.db.select({ recipient: emailOutbox.recipient }).from(emailOutbox).where(eq(emailOutbox.jobId, rowId));
      expect(rows.map((row) => row.recipient).sort()).toEqual([...recipients].sort());
    } finally {
      await database.close();
    }
  }, 180_000);
});

describe('two server processes on one PostgreSQL database', () => {
  it.skipIf(!onPostgres)(
    'run each of 200 queued jobs exactly once (PostgreSQL only: skipped without DATABASE_URL)',
    async () => {
      const store = await spawnedStorage(cleanups);
      // Migrated here first, so the two processes do not race to create the tables.
      const database = await store.open();
      cleanups.push(() => database.close());
      await database.migrate();
      const env = { ...store.env, JOB_CONCURRENCY: '2', JOB_POLL_INTERVAL_MS: '20', JOB_EMAIL_DELAY_MS: '40' };
      const servers = [spawnServer(env), spawnServer(env)];
      await Promise.all(servers.map((server) => server.ready));

      const inserted = await database.db
        .insert(jobs)
        .values(
          Array.from({ length: 200 }, (_, i) => ({
            kind: 'SEND_EMAIL',
            params: { to: [`customer${i}@example.com`], subject: 'Your receipt', body: `Receipt ${i}` },
          })),
        )
        .returning({ id: jobs.id });
      const ids = inserted.map((row) => row.id);

      const finished = async () => {
        const [row] = await database.db
          .select({ value: count() })
          .from(jobs)
          .where(and(inArray(jobs.id, ids), inArray(jobs.status, ['COMPLETED', 'FAILED', 'CANCELLED'])));
        return row!.value === 200;
      };
      await until(finished, 120_000, '200 finished jobs');

      const rows = await database.db.select().from(jobs).where(inArray(jobs.id, ids));
      expect(rows.filter((row) => row.status === 'COMPLETED' && row.attempts === 1)).toHaveLength(200);
      const [outbox] = await database.db.select({ value: count() }).from(emailOutbox).where(inArray(emailOutbox.jobId, ids));
      expect(outbox!.value).toBe(200);

      const startedLines = () =>
        servers.flatMap((server) => logsOf(server, 'job started').map((line) => line.jobId as string)).filter((id) => ids.includes(id));
      // The lines come through the children's stdout, which may lag the database by a moment.
      await until(async () => startedLines().length >= 200, 10_000, 'the start log lines');
      const started = startedLines();
      expect(started).toHaveLength(200);
      expect(new Set(started).size).toBe(200);
      // Both processes took a share.
      for (const server of servers)
        expect(logsOf(server, 'job completed').filter((line) => ids.includes(line.jobId)).length).toBeGreaterThan(0);
      await Promise.all(servers.map((server) => server.stop()));
    },
    240_000,
  );
});
