/** Entry point: configuration → database (migrated) → server; SIGTERM/SIGINT stop it gracefully. */
import 'reflect-metadata';
import { ConfigError, loadConfig, type Config } from './config.js';
import { databaseOptions, openDatabase } from './db/client.js';
import { seedDemoAccounts, seedDemoData } from './schema/demo-data.js';
import { createApp } from './server/compose.js';
import { stopOnSignals } from './server/shutdown.js';

async function main(config: Config): Promise<void> {
  const database = await openDatabase(databaseOptions(config));
  await database.migrate();
  const app = await createApp({ config, database });
  const log = app.fastify.log;
  if (config.seedDemoData) {
    const created = await seedDemoData(app.container);
    if (created > 0) log.info({ created }, 'demo catalog created');
    for (const demo of await seedDemoAccounts(app.container)) {
      // Printed once, when the account is created: the password is random and stored only as a hash.
      log.info(`demo ${demo.role.toLowerCase()} created: login "${demo.login}", password "${demo.password}"`);
    }
  }

  stopOnSignals(() => app.close(), log, config.shutdownGraceMs);

  const url = await app.listen();
  log.info({ url: `${url}/graphql`, database: database.kind }, 'OpsHub is ready');
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
  process.stderr.write(`OpsHub failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
