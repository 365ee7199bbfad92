/**
 * The operation a SQL statement belongs to: its statistics (sql-stats.ts) and its cancellation (cancellation.ts).
 *
 * An operation's statements run on a database of its own (`scopedDatabase`): the process's Drizzle database with a
 * session whose driver client records every statement with the operation's scope, transactions included. Services,
 * repositories and loaders reach it through the operation's context (container.ts), so no statement needs to find
 * its operation implicitly. An AsyncLocalStorage would do that, but on Node 20 an enabled storage adds work to every
 * promise the process creates, whoever creates it: a tenth of a nested query's CPU.
 *
 * Prepared statements are built once per process (src/schema/shared/prepared.ts) and run on the executor they are
 * handed (`onExecutor`): the statement is the same, only the client it is sent through is the operation's.
 */

/** What an operation's statements cost so far (sql-stats.ts measures it). */
export interface SqlStats {
  statements: number;
  /** Time with at least one statement running, in ms (a statement still running at read time counts up to now). */
  busyMs: number;
  /** Statements started and not settled. */
  active: number;
  /** When `active` last went from 0 to 1. */
  busySince: number;
}

/** What cancellation keeps of an operation (cancellation.ts). */
export interface OperationStatements {
  signal: { readonly aborted: boolean };
  /** Statements started and not yet settled. */
  pending: Set<{ cancel(): void }>;
}

export interface StatementScope {
  stats?: SqlStats;
  cancellation?: OperationStatements;
}

/** What openDatabase registers for its database: its driver client, and how to make one for a scope. */
interface Driver {
  client: object;
  /** Null when the scope asks nothing of this driver (PGlite cannot cancel). */
  forScope(scope: StatementScope): object | null;
}

/** On a registered database, and inherited by its scoped ones: its driver, whose `client` is the process's. */
const DRIVER = Symbol('driver');
/** On a registered or scoped database: the driver client its statements go through. */
const CLIENT = Symbol('client');

interface Registered {
  [DRIVER]?: Driver;
  [CLIENT]?: object;
  session: { client: object };
  _: object;
}

/** Called by openDatabase: `db` sends its statements through `client`; `forScope` wraps the raw client for one scope. */
export function registerDatabase(db: object, driver: Driver): void {
  Object.assign(db, { [DRIVER]: driver, [CLIENT]: driver.client });
}

/**
 * `db` as one operation's statements should see it: each statement is counted in `scope.stats` and cancelled with
 * `scope.cancellation`. The process's database itself when the scope asks nothing, or `db` was not opened by
 * openDatabase (a transaction, a test's own client).
 */
export function scopedDatabase<D extends object>(db: D, scope: StatementScope): D {
  const driver = (db as Registered)[DRIVER];
  const client = driver && (scope.stats || scope.cancellation) ? driver.forScope(scope) : null;
  if (!client) return db;
  const base = db as unknown as Registered;
  // Drizzle's session (either driver) sends everything through `client`, and its transactions wrap what `begin`
  // hands them; the query builders take `session` from the database they start from, `_` serves relational queries.
  const session = Object.create(base.session) as Registered['session'];
  session.client = client;
  const scoped = Object.create(db) as Registered;
  scoped.session = session;
  scoped._ = { ...base._, session };
  scoped[CLIENT] = client;
  return scoped as unknown as D;
}

/** A prepared statement (Drizzle's, either driver) as `db` runs it: sent through `db`'s client. */
export function onExecutor<T>(statement: T, db: object): T {
  const target = (db as Registered)[CLIENT];
  if (!target || typeof statement !== 'object' || statement === null || (statement as { client?: unknown }).client === target) {
    return statement;
  }
  const bound = Object.create(statement) as { client: unknown };
  bound.client = target;
  return bound as T;
}

/**
 * A statement just built on `db`, as a cache shared by every operation keeps it: on the process's client, so the
 * cache never holds on to the operation that happened to build it (`onExecutor` sends it through each caller's).
 */
export function rooted<T>(statement: T, db: object): T {
  const root = (db as Registered)[DRIVER]?.client;
  if (root && typeof statement === 'object' && statement !== null && 'client' in statement) {
    (statement as { client: unknown }).client = root;
  }
  return statement;
}
