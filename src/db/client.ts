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
import * as tables from './tables.js';
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
    const client = postgres(options.databaseUrl, {
      max: options.poolSize ?? 10,
      onnotice: () => {},
      connection: { application_name: 'opshub' },
    });
    const db = drizzlePostgres(client, { schema: tables, logger }) as unknown as Database;
    handle = {
      db,
      kind: 'postgres',
      migrate: () => migratePostgres(db as never, { migrationsFolder }),
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
