/**
 * `npm run token -- --user <login> [--scopes a,b]`: mints an access token for local use (curl, GraphiQL, scripts).
 * It starts a real session (so `sessions`, `logoutAll` and deactivation apply to it) and prints the access token
 * on standard output, alone, for `TOKEN=$(npm run -s token -- --user demo_admin)`; details go to standard error.
 * Reads the same configuration as the server, so the token is signed with the server's key. On PostgreSQL, or on a
 * PGlite DATA_DIR no server holds, it opens the database itself; while a server holds DATA_DIR (src/db/lock.ts) it
 * asks that server over DATA_DIR's local socket (src/server/token-socket.ts), so the session is one the server knows.
 */
import 'reflect-metadata';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { databaseOptions, openDatabase } from '../db/client.js';
import { DataDirLockedError, lockHolder } from '../db/lock.js';
import { createMemoryPubSub } from '../pubsub/pubsub.js';
import { createContainer } from '../schema/container.js';
import { issueLocalToken, type LocalTokenRequest, type LocalTokenResult } from './local-token.js';
import { isScope } from './scopes.js';

const USAGE = 'usage: npm run token -- --user <username or e-mail> [--scopes items:read,items:write]\n';

/** Kept in step with tokenSocketPath in src/server/token-socket.ts (which this layer may not import). */
const socketOf = (dataDir: string) => `${dataDir}/run/token.sock`;

function askServer(socketPath: string, request: LocalTokenRequest): Promise<LocalTokenResult> {
  return new Promise((resolve, reject) => {
    let received = '';
    const socket = net.createConnection(socketPath);
    socket.setEncoding('utf8');
    socket.setTimeout(10_000, () => socket.destroy(new Error('the running server did not answer within 10 s')));
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      try {
        resolve(JSON.parse(received) as LocalTokenResult);
      } catch {
        reject(new Error('the running server sent no answer'));
      }
    });
  });
}

async function mint(request: LocalTokenRequest): Promise<LocalTokenResult> {
  const config = loadConfig();
  const holder = !config.databaseUrl && config.dataDir ? lockHolder(config.dataDir) : null;
  if (holder !== null) {
    process.stderr.write(`DATA_DIR ${config.dataDir} is held by process ${holder}: asking it for the token\n`);
    return askServer(socketOf(config.dataDir!), request);
  }
  const database = await openDatabase(databaseOptions(config));
  try {
    await database.migrate();
    const container = createContainer({ config, db: database.db, pubsub: createMemoryPubSub().pubsub });
    return await issueLocalToken(container.services, request);
  } finally {
    await database.close();
  }
}

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

  const result = await mint({ user: values.user, scopes });
  if (!result.ok) {
    process.stderr.write(`${result.error}\n`);
    return 1;
  }
  process.stderr.write(
    `access token for ${result.username} (${result.role}), valid ${result.expiresIn} s, scopes: ${result.scopes.join(' ') || '(none)'}\n`,
  );
  process.stdout.write(`${result.accessToken}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `${error instanceof ConfigError || error instanceof DataDirLockedError || error instanceof TypeError ? error.message : String(error)}\n`,
    );
    process.exit(1);
  },
);
