/**
 * The process as it runs in production: `npm start` runs the build (dist/), a signal to npm stops the server with
 * nothing left listening, one process per PGlite DATA_DIR, `npm run token` beside a running server, and `/` leading
 * to GraphiQL in development. One build for the file, one `npm start` shared by the tests that need a running server.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../../src/db/lock.js';
import { gql, ROOT, spawnNpmStart, spawnServer, stopAll, tempDataDir, type SpawnedServer } from '../helpers/spawn.js';

const run = promisify(execFile);
// A build and PGlite start-ups on a busy 2-core machine: generous limits, no timing asserted except the 10 s stop.
const PROCESS_TEST_TIMEOUT_MS = 180_000;
const ADMIN = { ADMIN_EMAIL: 'admin@example.com', ADMIN_PASSWORD: 'Adm1n-Passw0rd' };

const data = tempDataDir();
let server: SpawnedServer;
let url: string;

beforeAll(async () => {
  await run(process.execPath, ['scripts/build.mjs'], { cwd: ROOT });
  server = spawnNpmStart({ DATA_DIR: data.dir, DATABASE_URL: '', ...ADMIN });
  url = await server.ready;
}, PROCESS_TEST_TIMEOUT_MS);

afterAll(async () => {
  await stopAll();
  data.remove();
});

const serverPid = () => server.logs.find((line) => line.msg === 'OpsHub is ready')!.pid as number;

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm start', () => {
  it('runs the build output, with the GraphiQL script copied beside it', () => {
    expect(existsSync(path.join(ROOT, 'dist/main.js'))).toBe(true);
    expect(existsSync(path.join(ROOT, 'dist/server/graphiql-init.js'))).toBe(true);
    expect(server.child.spawnargs).toEqual(['npm', 'start']);
    expect(serverPid()).not.toBe(server.child.pid);
    expect(server.logs.map((line) => line.msg)).toEqual(
      expect.arrayContaining(['opening the database', 'applying migrations', 'starting to listen', 'OpsHub is ready']),
    );
  });

  it('answers a query and redirects / to /graphql in development', async () => {
    expect((await gql(url, '{ __typename }')).body).toMatchObject({ data: { __typename: 'Query' } });
    const root = await fetch(url.replace(/\/graphql$/, '/'), { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/graphql');
  });

  it(
    'refuses a second process on the same DATA_DIR with one line naming the directory and the holder',
    async () => {
      const second = spawnServer({ DATA_DIR: data.dir, DATABASE_URL: '' });
      expect(await second.exited).toEqual({ code: 1, signal: null });
      expect(second.stderr()).toBe(
        `OpsHub failed to start: DATA_DIR ${data.dir} is in use by process ${serverPid()} (an OpsHub server); stop it or choose another DATA_DIR\n`,
      );
      // The refused process left the holder's lock alone.
      expect(existsSync(path.join(data.dir, LOCK_FILE))).toBe(true);
      expect((await gql(url, '{ __typename }')).status).toBe(200);
    },
    PROCESS_TEST_TIMEOUT_MS,
  );

  it(
    'issues a token from `npm run token` that the running server accepts',
    async () => {
      const env = { ...process.env, NODE_ENV: 'development', DATA_DIR: data.dir, DATABASE_URL: '' };
      const { stdout, stderr } = await run('npm', ['run', '-s', 'token', '--', '--user', ADMIN.ADMIN_EMAIL], { cwd: ROOT, env });
      expect(stderr).toContain(`is held by process ${serverPid()}`);
      const token = stdout.trim();
      expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      // `sessions` reads the session row the token names: a token for a session the server never saw gets none.
      const viewer = await gql(url, '{ viewer { email role } sessions { current } }', undefined, token);
      expect(viewer.body.errors).toBeUndefined();
      expect(viewer.body.data).toEqual({ viewer: { email: ADMIN.ADMIN_EMAIL, role: 'ADMIN' }, sessions: [{ current: true }] });
    },
    PROCESS_TEST_TIMEOUT_MS,
  );

  it(
    'stops on SIGTERM to npm: the server exits and nothing listens within 10 s',
    async () => {
      const pid = serverPid();
      const exit = await server.stop('SIGTERM', 10_000);
      expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
      // npm waits for its child before it exits: the server is gone by now, not merely orphaned.
      expect(isRunning(pid)).toBe(false);
      await expect(fetch(url)).rejects.toThrow();
      expect(server.logs.map((line) => line.msg)).toEqual(expect.arrayContaining(['shutting down', 'stopped']));
      expect(existsSync(path.join(data.dir, LOCK_FILE))).toBe(false);
    },
    PROCESS_TEST_TIMEOUT_MS,
  );
});
