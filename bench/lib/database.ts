/**
 * Where the data lives for one bench run.
 *
 * PostgreSQL (DATABASE_URL set): a dedicated database `opshub_bench` on the same server, dropped and re-created at the
 * start of every run and dropped at the end; every candidate connects to it with its own pool.
 *
 * PGlite (DATABASE_URL unset): PGlite is one connection inside one process, so processes cannot share it. The harness
 * seeds a template data directory once, then gives every candidate its own copy of it (same rows, same ids). Writes
 * of one candidate (createItem) are therefore invisible to the others; reads are identical.
 */
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';

export const BENCH_DATABASE = 'opshub_bench';

export interface BenchDatabase {
  kind: 'postgres' | 'pglite';
  /** For the harness's own connection: a postgres URL, or the PGlite template's DATA_DIR. */
  databaseUrl: string | null;
  dataDir: string | null;
  /** Human description for the report, e.g. "PostgreSQL 16.4". */
  description: string;
  /** Environment for one candidate process (its own PGlite copy when on PGlite). */
  envFor(candidate: string): Promise<Record<string, string>>;
  drop(): Promise<void>;
}

function adminClient(base: string) {
  return postgres(base, { max: 1, onnotice: () => {}, connection: { application_name: 'opshub-bench' } });
}

export async function prepareDatabase(baseUrl: string | undefined): Promise<BenchDatabase> {
  if (baseUrl) {
    const admin = adminClient(baseUrl);
    let version: string;
    try {
      await admin.unsafe(`drop database if exists "${BENCH_DATABASE}" with (force)`);
      await admin.unsafe(`create database "${BENCH_DATABASE}"`);
      const [row] = await admin<{ server_version: string }[]>`show server_version`;
      version = row!.server_version.split(' ')[0]!;
    } finally {
      await admin.end();
    }
    const url = new URL(baseUrl);
    url.pathname = `/${BENCH_DATABASE}`;
    return {
      kind: 'postgres',
      databaseUrl: url.toString(),
      dataDir: null,
      description: `PostgreSQL ${version} (${url.hostname})`,
      envFor: async () => ({ DATABASE_URL: url.toString() }),
      async drop() {
        const cleanup = adminClient(baseUrl);
        try {
          await cleanup.unsafe(`drop database if exists "${BENCH_DATABASE}" with (force)`);
        } finally {
          await cleanup.end();
        }
      },
    };
  }
  const root = await mkdtemp(path.join(tmpdir(), 'opshub-bench-'));
  const template = path.join(root, 'template');
  const manifest = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  const pgliteVersion = manifest.dependencies['@electric-sql/pglite'];
  return {
    kind: 'pglite',
    databaseUrl: null,
    dataDir: template,
    description: `PGlite ${pgliteVersion} (embedded; a seeded copy per candidate)`,
    async envFor(candidate) {
      const copy = path.join(root, candidate);
      await cp(template, copy, { recursive: true });
      return { DATA_DIR: copy };
    },
    drop: () => rm(root, { recursive: true, force: true }),
  };
}
