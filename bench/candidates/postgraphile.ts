/**
 * Candidate `postgraphile`: PostGraphile v5 (Amber preset, grafserv on node:http) serving its own schema, derived
 * from OpsHub's PostgreSQL tables, so it answers the bench's reads with its own queries (lib/workloads.ts,
 * `postgraphileRequests`); the harness checks they return the same rows and values as OpsHub's. PostgreSQL only:
 * PostGraphile introspects a server over the network, which a PGlite data directory is not.
 *
 * In front of grafserv it does the work OpsHub's identity check does, so each request pays the same authentication
 * cost: the jose verification of src/auth/tokens.ts and the user + session lookup of src/auth/identity.ts (the same
 * statement, through the same `pg` pool PostGraphile uses); a request that fails it is answered 401.
 */
// PostGraphile 5 declares Node 22 and calls Promise.withResolvers, which Node 20 lacks (it calls it per request, after
// the imports below have run).
(Promise as any).withResolvers ??= () => { const r: any = {}; r.promise = new Promise((y, n) => ((r.resolve = y), (r.reject = n))); return r; }; // prettier-ignore

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import DataLoader from 'dataloader';
import pg from 'pg';
import { loadSigningKeys } from '../../src/auth/keys.js';
import { loadConfig } from '../../src/config.js';
import { send, verifyBearer } from './http-kit.js';
import { benchPort } from './port.js';

const config = loadConfig();
if (!config.databaseUrl) throw new Error('postgraphile runs on PostgreSQL only (DATABASE_URL)');

// One pool for PostGraphile and the identity lookup, the size of OpsHub's.
const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 10, application_name: 'opshub-bench-postgraphile' });

// Loaded without its types: grafast's declarations augment graphql's ExecutionResult for the whole program, which
// then no longer type-checks OpsHub's own graphql-ws code. A specifier in a variable keeps tsc from following it.
const load = (specifier: string): Promise<any> => import(specifier);
const [{ postgraphile }, { makePgService }, { grafserv }, { PostGraphileAmberPreset }] = await Promise.all([
  load('postgraphile'),
  load('postgraphile/adaptors/pg'),
  load('postgraphile/grafserv/node'),
  load('postgraphile/presets/amber'),
]);

const pgl = postgraphile({
  extends: [PostGraphileAmberPreset],
  pgServices: [makePgService({ pool, schemas: ['public'] })],
  grafserv: { graphqlPath: '/graphql', graphiql: false },
  grafast: { explain: false },
});
const serv = pgl.createServ(grafserv);

// ---------------------------------------------------------------------------------------------------------------
// Identity: the checks of src/auth/tokens.ts and src/auth/identity.ts (as in candidates/lean.ts).

const keys = await loadSigningKeys(config);

interface AuthKey {
  userId: string;
  sessionId: string;
}
const placeholders = (from: number, count: number) => Array.from({ length: count }, (_, i) => `$${from + i}`).join(', ');

const authLoader = new DataLoader<AuthKey, boolean, string>(
  async (asked) => {
    const userIds = [...new Set(asked.map((key) => key.userId))];
    const sessionIds = [...new Set(asked.map((key) => key.sessionId))];
    const { rows } = await pool.query<{ id: string; is_active: boolean; family_id: string | null }>(
      `select "users"."id", "users"."username", "users"."role", "users"."is_active", "sessions"."family_id" from "users" ` +
        `left join "sessions" on ("sessions"."user_id" = "users"."id" and "sessions"."family_id" in (${placeholders(1, sessionIds.length)}) ` +
        `and "sessions"."revoked_at" is null and "sessions"."expires_at" > $${sessionIds.length + 1}) ` +
        `where "users"."id" in (${placeholders(sessionIds.length + 2, userIds.length)})`,
      [...sessionIds, new Date().toISOString(), ...userIds],
    );
    return asked.map(({ userId, sessionId }) => rows.some((row) => row.id === userId && row.is_active && row.family_id === sessionId));
  },
  { cache: false, maxBatchSize: 500 },
);

/** True for a valid token of an active user and a live session; false for anything else. */
async function authenticated(authorization: string | undefined): Promise<boolean> {
  const payload = authorization ? await verifyBearer(authorization, keys, config) : null;
  const { sub, sid } = (payload ?? {}) as Record<string, unknown>;
  if (typeof sub !== 'string' || typeof sid !== 'string') return false;
  return authLoader.load({ userId: sub, sessionId: sid });
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP: authenticate, then hand the request to grafserv.

const graphql: (req: IncomingMessage, res: ServerResponse) => void = serv.createHandler();

function refuse(res: ServerResponse): void {
  send(res, 401, { errors: [{ message: 'Could not validate credentials', extensions: { code: 'UNAUTHENTICATED' } }] });
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  // The harness's readiness probe (`{ __typename }` without a token) is answered by grafserv: any status counts as up.
  if (req.headers.authorization === undefined) return graphql(req, res);
  if (!(await authenticated(req.headers.authorization))) return refuse(res);
  graphql(req, res);
}

const server = createServer((req, res) => {
  handle(req, res).catch((error: unknown) => {
    process.stderr.write(`postgraphile: request failed: ${error instanceof Error ? error.message : String(error)}\n`);
    if (!res.headersSent) res.writeHead(500).end();
  });
});
server.listen(benchPort(), '127.0.0.1');

const stop = () => {
  server.close();
  Promise.allSettled([pgl.release(), pool.end()]).finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
