/**
 * Entry point: configuration → database (locked, reachable, migrated) → demo data → server; SIGTERM/SIGINT stop it
 * gracefully. With WORKERS > 1 this process prepares the database and becomes the node:cluster primary
 * (src/cluster.ts); each worker runs this file again and serves. `npm start` runs the build of this file (dist/main.js) with `exec`, so the signals npm forwards reach
 * this process and not a shell that would die and leave the server listening.
 */
import 'reflect-metadata';
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { reportReady, runPrimary } from './cluster.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { databaseOptions, openDatabase, waitForDatabase } from './db/client.js';
import { DataDirLockedError } from './db/lock.js';
import { loggerOptions } from './log.js';
import { seedDemoAccounts, seedDemoData, type DemoLogin } from './schema/demo-data.js';
import { createApp, GRAPHQL_PATH } from './server/compose.js';
import { DASHBOARD_PATH } from './server/dashboard.js';
import { stopOnSignals } from './server/shutdown.js';
import { listenTokenSocket } from './server/token-socket.js';
import { startTracing, type TracingHandle } from './tracing.js';

/** The development banner: for a person at a terminal, so only when standard output is one (JSON logs otherwise). */
function banner(url: string, pages: { graphiql: boolean; dashboard: boolean }, demo: readonly DemoLogin[]): string {
  const lines = ['', `  OpsHub is running at ${url}${GRAPHQL_PATH}`];
  if (pages.graphiql) lines.push(`  GraphiQL:  open ${url}${GRAPHQL_PATH} in a browser`);
  if (pages.graphiql || pages.dashboard) lines.push(`  Dashboard: open ${url}${DASHBOARD_PATH} and sign in`);
  if (demo.length > 0) {
    lines.push('  Demo accounts (passwords shown once, now):');
    for (const account of demo) lines.push(`    ${account.role.toLowerCase().padEnd(5)}  ${account.login}  ${account.password}`);
  }
  lines.push('  Token for scripts:  npm run -s token -- --user <login>', '');
  return `${lines.join('\n')}\n`;
}

/** Database reachable and migrated, the app built, demo data checked: what a start does before it listens. */
async function prepare(config: Config, log: pino.Logger, options: { migrate: boolean }) {
  log.info(
    { database: config.databaseUrl ? 'postgres' : 'pglite', dataDir: config.databaseUrl ? undefined : config.dataDir },
    'opening the database',
  );
  const database = await openDatabase(databaseOptions(config));
  await waitForDatabase(database, ({ attempt, delayMs, error }) =>
    log.warn({ attempt, retryInMs: delayMs, err: error }, 'database not reachable yet; retrying'),
  );
  if (options.migrate) {
    log.info('applying migrations');
    await database.migrate();
  }
  const app = await createApp({ config, database });
  const demo: DemoLogin[] = [];
  if (config.seedDemoData && options.migrate) {
    log.info('checking demo data');
    const created = await seedDemoData(app.container);
    if (created > 0) log.info({ created }, 'demo catalog created');
    for (const account of await seedDemoAccounts(app.container)) {
      // Printed once, when the account is created: the password is random and stored only as a hash.
      log.info(`demo ${account.role.toLowerCase()} created: login "${account.login}", password "${account.password}"`);
      demo.push(account);
    }
  }
  return { database, app, demo };
}

/** One server in this process: WORKERS=1, or one worker of a cluster (whose primary already migrated and seeded). */
async function serve(config: Config, log: pino.Logger): Promise<void> {
  let tracing: TracingHandle | null = null;
  if (config.tracing) {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    tracing = await startTracing({ version });
    log.info('tracing on: spans exported over OTLP/HTTP');
  }
  const { database, app, demo } = await prepare(config, log, { migrate: !cluster.isWorker });

  let tokenSocket: { close(): Promise<void> } | null = null;
  stopOnSignals(
    async () => {
      await tokenSocket?.close();
      await app.close();
      // The last spans (the shutdown's own operations) are flushed to the collector.
      await tracing?.shutdown().catch((error: unknown) => log.warn({ err: error }, 'flushing spans failed'));
    },
    app.fastify.log,
    config.shutdownGraceMs,
  );

  log.info({ host: config.host, port: config.port }, 'starting to listen');
  const url = await app.listen();
  if (database.kind === 'pglite' && config.dataDir) {
    tokenSocket = await listenTokenSocket(config.dataDir, app.container.services, log).catch((error: unknown) => {
      // A DATA_DIR path too long for a Unix socket costs only `npm run token` while the server runs.
      log.warn({ err: error }, 'no local token socket: `npm run token` needs the server stopped');
      return null;
    });
  }
  log.info({ url: `${url}${GRAPHQL_PATH}`, database: database.kind }, 'OpsHub is ready');
  reportReady(url);
  if (config.nodeEnv === 'development' && process.stdout.isTTY) process.stdout.write(banner(url, config, demo));
}

/**
 * WORKERS > 1, in the primary: migrations and demo data once, here, before any worker exists, then the workers. Done
 * by the primary rather than by a first worker the others wait for, because the primary is the one process that
 * exists before all others: nothing needs to coordinate, and a database that is down or a migration that fails stops
 * the start with one message instead of every worker failing and being restarted.
 */
async function startCluster(config: Config, log: pino.Logger): Promise<void> {
  const { app, demo } = await prepare(config, log, { migrate: true });
  await app.close();
  runPrimary({
    workers: config.workers,
    graceMs: config.shutdownGraceMs,
    log: log.child({ component: 'cluster' }),
    // Without FILE_URL_SECRET and JWT_SECRET each process would sign file URLs with a key of its own, and a URL signed
    // by one worker would fail on the next: the workers of this cluster share one instead.
    env: config.files.urlSecret === null ? { FILE_URL_SECRET: randomBytes(32).toString('hex') } : {},
    onReady: (url) => {
      log.info({ url: `${url}${GRAPHQL_PATH}`, workers: config.workers }, 'OpsHub cluster is ready');
      if (config.nodeEnv === 'development' && process.stdout.isTTY) process.stdout.write(banner(url, config, demo));
    },
  });
}

async function main(config: Config): Promise<void> {
  // The same options as the server's logger: the lines before Fastify exists look like the lines after.
  const log = pino(loggerOptions(config.logLevel));
  if (config.workers > 1 && cluster.isPrimary) await startCluster(config, log);
  else await serve(config, log);
}

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  throw error;
}
main(config).catch((error: unknown) => {
  // A second server on the same DATA_DIR: one line saying who holds it, no stack.
  if (error instanceof DataDirLockedError) process.stderr.write(`OpsHub failed to start: ${error.message}\n`);
  else process.stderr.write(`OpsHub failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
