/**
 * `npm run token -- --user <login> [--scopes a,b]`: mints an access token for local use (curl, GraphiQL, scripts).
 * It starts a real session (so `sessions`, `logoutAll` and deactivation apply to it) and prints the access token
 * on standard output, alone, for `TOKEN=$(npm run -s token -- --user demo_admin)`; details go to standard error.
 * Reads the same configuration as the server, so the token is signed with the server's key. With embedded PGlite
 * the database directory is locked by a running server: stop it first, or use DATABASE_URL.
 */
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { createPubSub } from '@graphql-yoga/subscription';
import { ConfigError, loadConfig } from '../config.js';
import { databaseOptions, openDatabase } from '../db/client.js';
import type { Topics } from '../pubsub/topics.js';
import { createContainer } from '../schema/container.js';
import { isScope } from './scopes.js';

const USAGE = 'usage: npm run token -- --user <username or e-mail> [--scopes items:read,items:write]\n';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { user: { type: 'string' }, scopes: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help || !values.user) {
    process.stderr.write(USAGE);
    return values.help ? 0 : 2;
  }
  const scopes =
    values.scopes === undefined
      ? null
      : values.scopes
          .split(',')
          .map((scope) => scope.trim())
          .filter(Boolean);
  const unknown = scopes?.filter((scope) => !isScope(scope)) ?? [];
  if (unknown.length > 0) {
    process.stderr.write(`unknown scope(s): ${unknown.join(', ')}\n`);
    return 2;
  }

  const config = loadConfig();
  const database = await openDatabase({ ...databaseOptions(config), debugSql: false });
  try {
    await database.migrate();
    const container = createContainer({ config, db: database.db, pubsub: createPubSub<Topics>() });
    const user = await container.services.users.findByLogin(values.user);
    if (!user) {
      process.stderr.write(`no user "${values.user}"\n`);
      return 1;
    }
    if (!user.isActive) {
      process.stderr.write(`user "${user.username}" is inactive\n`);
      return 1;
    }
    const session = await container.services.auth.startSession(user, scopes);
    process.stderr.write(
      `access token for ${user.username} (${user.role}), valid ${session.expiresIn} s, scopes: ${session.scopes!.join(' ') || '(none)'}\n`,
    );
    process.stdout.write(`${session.accessToken}\n`);
    return 0;
  } finally {
    await database.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof ConfigError || error instanceof TypeError ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
