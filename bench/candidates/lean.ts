/**
 * Candidate `lean`: the server one would write by hand for the bench workloads, as a floor for what OpsHub's layers
 * cost. graphql-js (`parse`/`validate` cached per document, then `execute`) on node:http; its own small SDL schema and
 * resolvers (no TypeGraphQL, no container); postgres.js with prepared statements, or on PGlite the candidate's copy of
 * the seeded data directory through PGlite's own parameterised queries. In front of every request it does the work
 * OpsHub's identity check does: the jose verification of src/auth/tokens.ts (HS256, same issuer, audience, `typ`,
 * kid and required claims) and the one user + session lookup of src/auth/identity.ts, batched across concurrent
 * requests with the same DataLoader settings. The SQL text is the text OpsHub's repositories send, so the database
 * does the same work; the responses' `data` is byte-identical to OpsHub's (the bench's verification gate checks it).
 *
 * What it leaves out, on purpose: rate limiting, operation policy (depth, cost, trusted documents), logging, metrics,
 * the `itemChanged` publish after createItem (no subscriptions here) and every field the workloads do not read.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { PGlite } from '@electric-sql/pglite';
import DataLoader from 'dataloader';
import {
  buildSchema,
  execute,
  GraphQLError,
  GraphQLObjectType,
  GraphQLScalarType,
  type GraphQLFieldResolver,
  type GraphQLInterfaceType,
} from 'graphql';
import postgres from 'postgres';
import { loadSigningKeys } from '../../src/auth/keys.js';
import { effectiveScopes, type Role } from '../../src/auth/scopes.js';
import { loadConfig } from '../../src/config.js';
import { documentCache, readBody, send, verifyBearer } from './http-kit.js';
import { benchPort } from './port.js';

const config = loadConfig();

// ---------------------------------------------------------------------------------------------------------------
// Database: one `query(text, params)` over either driver.

type Row = Record<string, any>;
interface Sql {
  query(text: string, params: unknown[]): Promise<Row[]>;
  close(): Promise<void>;
}

async function openSql(): Promise<Sql> {
  if (config.databaseUrl) {
    // Same pool size as OpsHub's (src/db/client.ts); `prepare: true` names each statement text once per connection.
    const client = postgres(config.databaseUrl, { max: 10, onnotice: () => {}, connection: { application_name: 'opshub-bench-lean' } });
    return {
      query: (text, params) => client.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true }),
      close: () => client.end({ timeout: 5 }),
    };
  }
  if (!config.dataDir) throw new Error('lean needs DATABASE_URL or DATA_DIR');
  const client = new PGlite(`${config.dataDir}/pglite`);
  await client.waitReady;
  return {
    query: async (text, params) => (await client.query<Row>(text, params)).rows,
    close: () => client.close(),
  };
}

const sql = await openSql();

/** `$from, $from+1, …` for an IN list of `count` values, as Drizzle writes it. */
const placeholders = (from: number, count: number) => Array.from({ length: count }, (_, i) => `$${from + i}`).join(', ');

// ---------------------------------------------------------------------------------------------------------------
// Identity: the checks of src/auth/tokens.ts and src/auth/identity.ts.

const keys = await loadSigningKeys(config);

interface Viewer {
  id: string;
  scopes: ReadonlySet<string>;
}

class Unauthenticated extends Error {}

interface AuthKey {
  userId: string;
  sessionId: string;
}
interface AuthState {
  username: string;
  role: Role;
  isActive: boolean;
  sessionLive: boolean;
}

/** One statement for every (user, session) pair asked for in the same tick: UserRepo.authStates. */
async function authStates(keysAsked: readonly AuthKey[]): Promise<AuthState[]> {
  const userIds = [...new Set(keysAsked.map((key) => key.userId))];
  const sessionIds = [...new Set(keysAsked.map((key) => key.sessionId))];
  const rows = await sql.query(
    `select "users"."id", "users"."username", "users"."role", "users"."is_active", "sessions"."family_id" from "users" ` +
      `left join "sessions" on ("sessions"."user_id" = "users"."id" and "sessions"."family_id" in (${placeholders(1, sessionIds.length)}) ` +
      `and "sessions"."revoked_at" is null and "sessions"."expires_at" > $${sessionIds.length + 1}) ` +
      `where "users"."id" in (${placeholders(sessionIds.length + 2, userIds.length)})`,
    [...sessionIds, new Date().toISOString(), ...userIds],
  );
  return keysAsked.map(({ userId, sessionId }) => {
    const mine = rows.filter((row) => row.id === userId);
    if (mine.length === 0) return { username: '', role: 'USER', isActive: false, sessionLive: false };
    return {
      username: mine[0]!.username,
      role: mine[0]!.role,
      isActive: mine[0]!.is_active,
      sessionLive: mine.some((row) => row.family_id === sessionId),
    };
  });
}
const authLoader = new DataLoader<AuthKey, AuthState, string>(authStates, { cache: false, maxBatchSize: 500 });

async function authenticate(authorization: string | undefined): Promise<Viewer | null> {
  if (!authorization || authorization.trim() === '') return null;
  const payload = await verifyBearer(authorization, keys, config);
  if (!payload) throw new Unauthenticated('invalid token');
  const { sub, sid, scope } = payload as Record<string, unknown>;
  if (typeof sub !== 'string' || typeof sid !== 'string' || typeof scope !== 'string') throw new Unauthenticated('malformed claims');
  const state = await authLoader.load({ userId: sub, sessionId: sid });
  if (!state.isActive || !state.sessionLive) throw new Unauthenticated('inactive user or revoked session');
  return { id: sub, scopes: effectiveScopes(state.role, scope === '' ? [] : scope.split(' ')) };
}

// ---------------------------------------------------------------------------------------------------------------
// Schema: just what the workloads read, with OpsHub's type and argument names so the same documents validate.

const typeDefs = /* GraphQL */ `
  scalar DateTime
  enum ItemCategory { ELECTRONICS BOOKS CLOTHING HOME }
  interface Node { id: ID! }
  type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }
  type Item implements Node {
    id: ID!
    sku: String!
    name: String!
    description: String
    price: Float!
    category: ItemCategory!
    tags: [String!]!
    stock: Int!
    createdAt: DateTime!
    updatedAt: DateTime!
  }
  type ItemEdge { cursor: String! node: Item! }
  type ItemConnection { edges: [ItemEdge!]! nodes: [Item!]! pageInfo: PageInfo! }
  input ItemFilter { search: String categories: [ItemCategory!] minPrice: Float maxPrice: Float inStock: Boolean }
  type User implements Node { id: ID! username: String! }
  type Comment implements Node { id: ID! body: String! author: User! }
  type CommentConnection { nodes: [Comment!]! pageInfo: PageInfo! }
  type Post implements Node { id: ID! title: String! author: User! comments(first: Int = 20): CommentConnection! }
  type PostConnection { nodes: [Post!]! pageInfo: PageInfo! }
  type Query {
    node(id: ID!): Node
    items(first: Int = 20, filter: ItemFilter): ItemConnection!
    posts(first: Int = 20): PostConnection!
  }
  input CreateItemInput {
    sku: String!
    name: String!
    description: String
    price: Float!
    category: ItemCategory!
    tags: [String!]
    stock: Int
  }
  type UserError { field: [String!] message: String! code: String }
  type ItemPayload { item: Item userErrors: [UserError!]! }
  type Mutation { createItem(input: CreateItemInput!): ItemPayload! }
`;

const schema = buildSchema(typeDefs);

const globalId = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64url');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const cursorOf = (createdAt: Date, id: string) => Buffer.from(JSON.stringify([createdAt.toISOString(), id])).toString('base64url');
const MAX_PAGE = 100;
const pageSize = (first: number) => {
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE) throw new GraphQLError(`"first" must be between 0 and ${MAX_PAGE}`);
  return first;
};

interface Context {
  viewer: Viewer | null;
  users: DataLoader<string, Row | null>;
  items: DataLoader<string, Row | null>;
  comments: DataLoader<{ postId: string; first: number }, Row[], string>;
}

function need(context: Context, scope: string): void {
  if (!context.viewer) throw new GraphQLError('Not authenticated', { extensions: { code: 'UNAUTHENTICATED' } });
  if (!context.viewer.scopes.has(scope)) throw new GraphQLError(`Missing scope ${scope}`, { extensions: { code: 'FORBIDDEN' } });
}

const ITEM_COLUMNS = `"id", "sku", "name", "description", "price_cents", "category", "tags", "stock", "created_at", "updated_at"`;
const USER_COLUMNS = `"id", "username", "email", "password_hash", "full_name", "bio", "phone", "birth_date", "role", "is_active", "created_at", "updated_at"`;

/** Rows by id for a DataLoader, in key order (null for a missing id). */
function byIds(table: 'items' | 'users', columns: string) {
  return async (ids: readonly string[]): Promise<Array<Row | null>> => {
    const rows = await sql.query(`select ${columns} from "${table}" where "${table}"."id" in (${placeholders(1, ids.length)})`, [...ids]);
    const found = new Map(rows.map((row) => [row.id as string, row]));
    return ids.map((id) => found.get(id) ?? null);
  };
}

/** The first `first` comments of several posts, newest first, in one windowed statement (PostRepo's comment page). */
async function commentPages(keysAsked: readonly { postId: string; first: number }[]): Promise<Row[][]> {
  const first = keysAsked[0]!.first; // one batch per page size: see cacheKeyFn/batchScheduleFn below
  const postIds = keysAsked.map((key) => key.postId);
  const rows = await sql.query(
    `select "id", "post_id", "author_id", "body", "created_at", "parent_id", "rn", "total" from (select "id", "post_id", "author_id", "body", "created_at", "post_id" as "parent_id", ` +
      `row_number() over (partition by "post_id" order by "comments"."created_at" desc, "comments"."id" desc) as "rn", count(*) over (partition by "post_id") as "total" ` +
      `from "comments" where "comments"."post_id" in (${placeholders(1, postIds.length)})) "numbered" where "rn" <= $${postIds.length + 1} order by "parent_id", "rn"`,
    [...postIds, first + 1],
  );
  const byPost = new Map<string, Row[]>();
  for (const row of rows) {
    const list = byPost.get(row.parent_id as string);
    if (list) list.push(row);
    else byPost.set(row.parent_id as string, [row]);
  }
  return postIds.map((id) => byPost.get(id) ?? []);
}

function newContext(viewer: Viewer | null): Context {
  return {
    viewer,
    users: new DataLoader(byIds('users', USER_COLUMNS)),
    items: new DataLoader(byIds('items', ITEM_COLUMNS)),
    // Keys of different page sizes never share a batch: the statement carries one limit.
    comments: new DataLoader(
      async (keysAsked) => {
        const sizes = [...new Set(keysAsked.map((key) => key.first))];
        const pages = new Map<string, Row[]>();
        for (const size of sizes) {
          const group = keysAsked.filter((key) => key.first === size);
          const result = await commentPages(group);
          group.forEach((key, i) => pages.set(`${key.first}:${key.postId}`, result[i]!));
        }
        return keysAsked.map((key) => pages.get(`${key.first}:${key.postId}`)!);
      },
      { cacheKeyFn: (key) => `${key.first}:${key.postId}` },
    ),
  };
}

const item = (row: Row) => ({
  __typename: 'Item',
  id: globalId('Item', row.id),
  sku: row.sku,
  name: row.name,
  description: row.description,
  price: row.price_cents / 100,
  category: row.category,
  tags: row.tags,
  stock: row.stock,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/** A connection from LIMIT first + 1 rows, as src/schema/shared/connection.ts builds it (forward pages only). */
function connection<T>(rows: Row[], first: number, toNode: (row: Row) => T) {
  const more = rows.length > first;
  const edges = rows.slice(0, first).map((row) => ({ cursor: cursorOf(row.created_at as Date, row.id as string), node: toNode(row) }));
  return {
    edges,
    nodes: edges.map((edge) => edge.node),
    pageInfo: { hasNextPage: more, hasPreviousPage: false, startCursor: edges[0]?.cursor ?? null, endCursor: edges.at(-1)?.cursor ?? null },
  };
}

type Resolver = GraphQLFieldResolver<any, Context, any>;
const resolvers: Record<string, Record<string, Resolver>> = {
  Query: {
    node: async (_, { id }: { id: string }, context) => {
      need(context, 'items:read');
      const decoded = /^[A-Za-z0-9_-]{1,200}$/.test(id) ? Buffer.from(id, 'base64url').toString('utf8') : '';
      const [type, uuid] = decoded.split(':') as [string, string | undefined];
      if (type !== 'Item' || !uuid || !UUID.test(uuid)) return null;
      const row = await context.items.load(uuid);
      return row ? item(row) : null;
    },
    items: async (_, { first, filter }: { first: number; filter?: Record<string, any> | null }, context) => {
      need(context, 'items:read');
      const limit = pageSize(first);
      const conditions: string[] = [];
      const params: unknown[] = [];
      const param = (value: unknown) => `$${params.push(value)}`;
      if (filter?.search) conditions.push(`"items"."name" ilike ${param(`%${String(filter.search).replace(/[\\%_]/g, '\\$&')}%`)}`);
      if (filter?.categories?.length) conditions.push(`"items"."category" in (${(filter.categories as string[]).map(param).join(', ')})`);
      if (filter?.minPrice != null) conditions.push(`"items"."price_cents" >= ${param(Math.round(filter.minPrice * 100))}`);
      if (filter?.maxPrice != null) conditions.push(`"items"."price_cents" <= ${param(Math.round(filter.maxPrice * 100))}`);
      if (filter?.inStock === true) conditions.push(`"items"."stock" > ${param(0)}`);
      if (filter?.inStock === false) conditions.push(`"items"."stock" = ${param(0)}`);
      const where = conditions.length ? ` where (${conditions.join(' and ')})` : '';
      const rows = await sql.query(
        `select ${ITEM_COLUMNS} from "items"${where} order by "items"."created_at" desc, "items"."id" desc limit ${param(limit + 1)}`,
        params,
      );
      return connection(rows, limit, item);
    },
    posts: async (_, { first }: { first: number }, context) => {
      need(context, 'posts:read');
      const limit = pageSize(first);
      const rows = await sql.query(
        `select "id", "author_id", "title", "body", "created_at", "updated_at" from "posts" order by "posts"."created_at" desc, "posts"."id" desc limit $1`,
        [limit + 1],
      );
      return connection(rows, limit, (row) => ({ __typename: 'Post', ...row }));
    },
  },
  Post: {
    id: (post: Row) => globalId('Post', post.id),
    author: (post: Row, _, context) => context.users.load(post.author_id),
    comments: async (post: Row, { first }: { first: number }, context) => {
      const limit = pageSize(first);
      const rows = await context.comments.load({ postId: post.id, first: limit });
      return connection(rows, limit, (row) => ({ __typename: 'Comment', ...row }));
    },
  },
  Comment: {
    id: (comment: Row) => globalId('Comment', comment.id),
    author: (comment: Row, _, context) => context.users.load(comment.author_id),
  },
  User: {
    id: (user: Row) => globalId('User', user.id),
  },
  Mutation: {
    createItem: async (_, { input }: { input: Record<string, any> }, context) => {
      need(context, 'items:write');
      const userErrors: Array<{ field: string[]; message: string; code: string }> = [];
      const invalid = (field: string, message: string) => userErrors.push({ field: ['input', field], message, code: 'INVALID' });
      const sku = String(input.sku).trim();
      const name = String(input.name).trim();
      if (!/^[A-Z]{2}\d{4}$/.test(sku)) invalid('sku', 'SKU must be 2 uppercase letters followed by 4 digits');
      if (name.length < 1 || name.length > 200) invalid('name', 'Name must be between 1 and 200 characters');
      if (!(input.price > 0) || input.price > 1_000_000) invalid('price', 'Price must be positive');
      const stock = input.stock ?? 0;
      if (!Number.isInteger(stock) || stock < 0) invalid('stock', 'Stock must be zero or more');
      if (userErrors.length) return { item: null, userErrors };
      try {
        const [row] = await sql.query(
          `insert into "items" ("id", "sku", "name", "description", "price_cents", "category", "tags", "stock", "created_at", "updated_at") ` +
            `values (default, $1, $2, $3, $4, $5, $6, $7, default, default) returning ${ITEM_COLUMNS}`,
          [sku, name, input.description ?? null, Math.round(input.price * 100), input.category, input.tags ?? [], stock],
        );
        return { item: item(row!), userErrors };
      } catch (error) {
        if ((error as { code?: string }).code !== '23505') throw error;
        return { item: null, userErrors: [{ field: ['input', 'sku'], message: 'SKU already exists', code: 'TAKEN' }] };
      }
    },
  },
};

for (const [typeName, fields] of Object.entries(resolvers)) {
  const type = schema.getType(typeName) as GraphQLObjectType;
  for (const [fieldName, resolve] of Object.entries(fields)) type.getFields()[fieldName]!.resolve = resolve;
}
(schema.getType('Node') as GraphQLInterfaceType).resolveType = (value: { __typename: string }) => value.__typename;
// Dates leave as ISO 8601 strings, as OpsHub's DateTime scalar writes them.
const dateTime = schema.getType('DateTime') as GraphQLScalarType;
dateTime.serialize = (value) => (value instanceof Date ? value.toISOString() : String(value));

// ---------------------------------------------------------------------------------------------------------------
// HTTP.

const prepare = documentCache(schema);

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'POST' || req.url !== '/graphql') return send(res, 404, { errors: [{ message: 'Not found' }] });
  let params: { query?: unknown; variables?: Record<string, unknown>; operationName?: string };
  try {
    params = JSON.parse(await readBody(req));
  } catch {
    return send(res, 400, { errors: [{ message: 'Body is not JSON' }] });
  }
  if (typeof params.query !== 'string') return send(res, 400, { errors: [{ message: 'Missing query' }] });
  let viewer: Viewer | null;
  try {
    viewer = await authenticate(req.headers.authorization);
  } catch (error) {
    if (!(error instanceof Unauthenticated)) throw error;
    return send(res, 401, { errors: [{ message: 'Could not validate credentials', extensions: { code: 'UNAUTHENTICATED' } }] });
  }
  const prepared = prepare(params.query);
  if ('errors' in prepared) return send(res, 400, { errors: prepared.errors });
  const result = await execute({
    schema,
    document: prepared.document,
    variableValues: params.variables,
    operationName: params.operationName,
    contextValue: newContext(viewer),
  });
  send(res, 200, result);
}

const server = createServer((req, res) => {
  handle(req, res).catch((error: unknown) => {
    process.stderr.write(`lean: request failed: ${error instanceof Error ? error.message : String(error)}\n`);
    if (!res.headersSent) send(res, 500, { errors: [{ message: 'Internal server error' }] });
  });
});
server.listen(benchPort(), '127.0.0.1');

const stop = () => {
  server.close();
  sql.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
