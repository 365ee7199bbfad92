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
import { sqlStatsLogger } from './sql-stats.js';

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
  debugSql: boolean;
  /** Connection pool size for PostgreSQL. */
  poolSize?: number;
  /**
   * PostgreSQL `statement_timeout` of every pooled connection, in ms (DB_STATEMENT_TIMEOUT_MS); 0 turns it off.
   * PGlite has no such limit: it runs statements in this process, where nothing can interrupt them.
   */
  statementTimeoutMs?: number;
}

/** The database options of a configuration: what the process and the tests open. */
export function databaseOptions(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'debugSql' | 'statementTimeoutMs'>): DatabaseOptions {
  const { databaseUrl, dataDir, debugSql, statementTimeoutMs } = config;
  return { databaseUrl, dataDir, debugSql, statementTimeoutMs };
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
  const logger = options.debugSql ? sqlStatsLogger : false;
  let handle: Omit<DatabaseHandle, 'ready'>;
  if (options.databaseUrl) {
    const databaseUrl = options.databaseUrl;
    const client = postgres(databaseUrl, {
      max: options.poolSize ?? 10,
      onnotice: () => {},
      // A startup parameter, so it holds for every statement on the connection, transactions included; sent even
      // when 0, which then also lifts a timeout set on the role or the database.
      connection: { application_name: 'opshub', statement_timeout: options.statementTimeoutMs ?? databaseDefaults.statementTimeoutMs },
    });
    const db = drizzlePostgres(trackStatements(client), { schema: tables, logger }) as unknown as Database;
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
    const client = options.dataDir ? new PGlite(`${options.dataDir}/pglite`) : new PGlite();
    await client.waitReady;
    const db = drizzlePglite(client, { schema: tables, logger }) as unknown as Database;
    handle = {
      db,
      kind: 'pglite',
      migrate: () => migratePglite(db as never, { migrationsFolder }),
      close: () => client.close(),
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
