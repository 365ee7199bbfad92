import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { databaseDefaults, type Config } from '../config.js';
import * as tables from './tables.js';
import { trackStatements } from './cancellation.js';
import { lockDataDir } from './lock.js';
import { observePglite, statementTracer } from './sql-stats.js';
import { registerDatabase } from './statement-scope.js';

export type Database = PgDatabase<PgQueryResultHKT, typeof tables>;
/** A transaction or the database itself: repositories accept either. */
export type Executor = Pick<Database, 'select' | 'insert' | 'update' | 'delete' | 'execute' | 'transaction'>;

export const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));

export interface DatabaseHandle {
  db: Database;
  kind: 'postgres' | 'pglite';
  migrate(): Promise<void>;
  /** True when the database answers and every migration in `drizzle/` has been applied. */
  ready(): Promise<boolean>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl: string | null;
  /** PGlite directory; null keeps PGlite in memory. */
  dataDir: string | null;
  /** A span per SQL statement inside a traced operation or job (TRACING). */
  tracing?: boolean;
  /** Connection pool size for PostgreSQL. */
  poolSize?: number;
  /**
   * PostgreSQL `statement_timeout` of every pooled connection, in ms (DB_STATEMENT_TIMEOUT_MS); 0 turns it off.
   * PGlite has no such limit: it runs statements in this process, where nothing can interrupt them.
   */
  statementTimeoutMs?: number;
}

/** The database options of a configuration: what the process and the tests open. */
export function databaseOptions(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'statementTimeoutMs' | 'tracing'>): DatabaseOptions {
  const { databaseUrl, dataDir, statementTimeoutMs, tracing } = config;
  return { databaseUrl, dataDir, statementTimeoutMs, tracing };
}

async function appliedMigrations(db: Database): Promise<number> {
  try {
    const result = await db.execute<{ count: string | number }>(sql`select count(*) as count from drizzle.__drizzle_migrations`);
    return Number(rowsOf<{ count: string | number }>(result)[0]?.count ?? 0);
  } catch {
    // No migrations table yet: nothing applied.
    return 0;
  }
}

let expected: Promise<number> | undefined;
/** The number of migrations in drizzle/, read once. */
function expectedMigrations(): Promise<number> {
  expected ??= readFile(`${migrationsFolder}/meta/_journal.json`, 'utf8').then(
    (text) => (JSON.parse(text) as { entries: unknown[] }).entries.length,
  );
  return expected;
}

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  const tracer = statementTracer(options.tracing ?? false);
  let handle: Omit<DatabaseHandle, 'ready'>;
  if (options.databaseUrl) {
    const databaseUrl = options.databaseUrl;
    const client = postgres(databaseUrl, {
      max: options.poolSize ?? 10,
      onnotice: () => {},
      // Statements Drizzle runs with `.prepare()` (the hot paths, src/schema/shared/prepared.ts) become named
      // prepared statements, parsed and planned once per pooled connection; every other statement stays unnamed.
      // Named statements live in a server session: behind PgBouncer in transaction mode, PgBouncer 1.21+ with
      // `max_prepared_statements` > 0 is needed (session mode or a direct connection need nothing).
      prepare: true,
      // postgres.js pipelines: once every connection is open and busy, a statement is written to a busy one and
      // waits behind whatever runs there, a long search included, even if another connection goes idle meanwhile.
      // Its `max_pipeline` would bound that, but below the default a `begin` written behind another statement
      // fails with UNSAFE_TRANSACTION (postgres.js 3.4), so the default stays; DB_STATEMENT_TIMEOUT_MS bounds the wait.
      // A startup parameter, so it holds for every statement on the connection, transactions included; sent even
      // when 0, which then also lifts a timeout set on the role or the database.
      connection: { application_name: 'opshub', statement_timeout: options.statementTimeoutMs ?? databaseDefaults.statementTimeoutMs },
    });
    const tracked = trackStatements(client, tracer);
    const db = drizzlePostgres(tracked, { schema: tables }) as unknown as Database;
    registerDatabase(db, { client: tracked, forScope: (scope) => trackStatements(client, tracer, scope) });
    handle = {
      db,
      kind: 'postgres',
      // Migrations run on a connection of their own: a migration may rightly take longer than any request may.
      async migrate() {
        const migrator = postgres(databaseUrl, { max: 1, onnotice: () => {}, connection: { application_name: 'opshub-migrate' } });
        try {
          await migratePostgres(drizzlePostgres(migrator), { migrationsFolder });
        } finally {
          await migrator.end({ timeout: 5 });
        }
      },
      close: () => client.end({ timeout: 5 }),
    };
  } else {
    if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
    // Taken before PGlite touches its files: a second process must not open them even for a moment.
    const lock = options.dataDir ? lockDataDir(options.dataDir) : null;
    let client: PGlite;
    try {
      client = options.dataDir ? new PGlite(`${options.dataDir}/pglite`) : new PGlite();
      await client.waitReady;
    } catch (error) {
      lock?.release();
      throw error;
    }
    const observed = observePglite(client, tracer);
    const db = drizzlePglite({ client: observed, schema: tables }) as unknown as Database;
    // PGlite runs statements in this process, where nothing can cancel them: only statistics need a client of their own.
    const pglite = client;
    registerDatabase(db, { client: observed, forScope: ({ stats }) => (stats ? observePglite(pglite, tracer, stats) : null) });
    handle = {
      db,
      kind: 'pglite',
      migrate: () => migratePglite(db as never, { migrationsFolder }),
      async close() {
        try {
          await client.close();
        } finally {
          lock?.release();
        }
      },
    };
  }
  return {
    ...handle,
    async ready() {
      try {
        await handle.db.execute(sql`select 1`);
        return (await appliedMigrations(handle.db)) >= (await expectedMigrations());
      } catch {
        // The database does not answer: not ready (readyz answers 503).
        return false;
      }
    },
  };
}

/** Rows of a `db.execute` result, whichever driver produced it. */
export function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

/** Errors a starting PostgreSQL (or one at its connection limit) answers with, worth another try at start-up. */
const TRANSIENT_CONNECT_ERRORS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EAI_AGAIN',
  '53300', // too_many_connections
  '57P03', // cannot_connect_now: the server is starting up
]);

function isTransientConnectError(error: unknown): boolean {
  for (let cause = error, depth = 0; cause && depth < 5; cause = (cause as { cause?: unknown }).cause, depth += 1) {
    if (TRANSIENT_CONNECT_ERRORS.has(String((cause as { code?: unknown }).code))) return true;
  }
  return false;
}

/**
 * Waits until the database answers, retrying transient connection errors with doubling delays (0.5 s, 1 s, 2 s, …,
 * `attempts` tries in all, about 15 s for 5): a process started with its database, as compose files and CI do, must
 * not die on the first refused connection. Other errors (bad password, unknown database) fail at once.
 */
export async function waitForDatabase(
  handle: Pick<DatabaseHandle, 'db'>,
  onRetry: (info: { attempt: number; delayMs: number; error: unknown }) => void,
  attempts = 5,
): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await handle.db.execute(sql`select 1`);
      return;
    } catch (error) {
      if (attempt >= attempts || !isTransientConnectError(error)) throw error;
      const delayMs = 500 * 2 ** (attempt - 1);
      onRetry({ attempt, delayMs, error });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
