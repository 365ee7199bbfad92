/**
 * Runs the real entry point (src/main.ts) as a child process, the way `npm start` does, and reads its JSON log
 * lines. `node --import tsx` keeps node itself as the process, so signals reach main.ts's handlers directly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { openDatabase, type DatabaseHandle } from '../../src/db/client.js';
import { createTestDatabase } from './database.js';
import { TEST_JWT_SECRET } from './server.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnedServer {
  child: ChildProcess;
  /** Parsed JSON log lines from standard output. */
  logs: Array<Record<string, any>>;
  stderr(): string;
  /** Resolves when the process has exited. */
  exited: Promise<Exit>;
  /** Resolves with the GraphQL URL from the 'OpsHub is ready' line; rejects if the process exits first. */
  ready: Promise<string>;
  /** Sends `signal` and waits for the exit (killing the process if it outlives `timeoutMs`). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Exit>;
}

const running = new Set<SpawnedServer>();

/** The environment of a spawned server: only what it is given, never the test runner's DATABASE_URL or NODE_ENV. */
export function serverEnv(overrides: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    SEED_DEMO_DATA: 'false',
    JWT_SECRET: TEST_JWT_SECRET,
    ...overrides,
  };
}

export function spawnServer(env: Record<string, string>): SpawnedServer {
  return track(
    spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: serverEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
    false,
  );
}

/**
 * `npm start` itself, as an operator runs it: `child` is npm, and the server is npm's child (its pid is in every log
 * line). npm's own lines on standard output are not JSON and are skipped.
 */
export function spawnNpmStart(env: Record<string, string>): SpawnedServer {
  return track(spawn('npm', ['start'], { cwd: ROOT, env: serverEnv(env), stdio: ['ignore', 'pipe', 'pipe'] }), true);
}

function track(child: ChildProcess, skipNonJson: boolean): SpawnedServer {
  const logs: Array<Record<string, any>> = [];
  let stderr = '';
  let buffered = '';
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines.filter(Boolean)) {
        if (skipNonJson && !line.startsWith('{')) continue;
        const entry = JSON.parse(line) as Record<string, any>;
        logs.push(entry);
        if (entry.msg === 'OpsHub is ready') resolve(entry.url as string);
      }
    });
    void exited.then((exit) => reject(new Error(`server exited (${JSON.stringify(exit)}) before it was ready: ${stderr}`)));
  });
  ready.catch(() => {});
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));

  const server: SpawnedServer = {
    child,
    logs,
    stderr: () => stderr,
    exited,
    ready,
    async stop(signal = 'SIGTERM', timeoutMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const exit = await exited;
      clearTimeout(timer);
      running.delete(server);
      return exit;
    },
  };
  running.add(server);
  return server;
}

/** Kills whatever a test left running; for afterAll. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop('SIGKILL')));
}

export function tempDataDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'opshub-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Where spawned servers keep their data: a fresh PostgreSQL database when DATABASE_URL is set, a PGlite directory
 * otherwise; `env` points a server at it, `open` opens it from the test. Dropping and removing it go to `cleanups`.
 */
export async function spawnedStorage(
  cleanups: Array<() => unknown>,
): Promise<{ env: Record<string, string>; open(): Promise<DatabaseHandle> }> {
  const database = await createTestDatabase();
  cleanups.push(() => database.drop());
  if (database.url) {
    const databaseUrl = database.url;
    return { env: { DATABASE_URL: databaseUrl }, open: () => openDatabase({ databaseUrl, dataDir: null }) };
  }
  const data = tempDataDir();
  cleanups.push(data.remove);
  return { env: { DATA_DIR: data.dir, DATABASE_URL: '' }, open: () => openDatabase({ databaseUrl: null, dataDir: data.dir }) };
}

/** A GraphQL request to a spawned server (which has no test helpers of its own). */
export async function gql(url: string, query: string, variables?: Record<string, unknown>, token?: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as { data?: any; errors?: any[] } };
}

/** An access token from the real `login` mutation. */
export async function loginToken(url: string, login: string, password: string): Promise<string> {
  const { body } = await gql(url, 'mutation($input: LoginInput!) { login(input: $input) { accessToken userErrors { message } } }', {
    input: { login, password },
  });
  const token = body.data?.login?.accessToken;
  if (typeof token !== 'string') throw new Error(`login failed: ${JSON.stringify(body)}`);
  return token;
}

/** A graphql-ws client signed in with `token`; the caller disposes it. */
export function wsClient(url: string, token: string): Client {
  return createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: () => {},
  });
}

/** A TCP port free on 127.0.0.1 right now, for a server that must come back on the same port after a restart. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** The demo accounts' passwords, from the log lines of the server that created them (printed once, at creation). */
export function demoPasswords(logs: ReadonlyArray<Record<string, any>>): Record<string, string> {
  const passwords: Record<string, string> = {};
  for (const line of logs) {
    const match = /^demo \w+ created: login "(\w+)", password "([^"]+)"$/.exec(String(line.msg));
    if (match) passwords[match[1]!] = match[2]!;
  }
  return passwords;
}
