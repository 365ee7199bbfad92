/**
 * Server time to refuse hostile operations, over HTTP and graphql-ws: a depth-100 query, a 10,000-alias query, a 1 MB
 * document, a cost-1,000,000 query, documents whose validation would be quadratic (a response name repeated
 * thousands of times), and hostile inputs (a 100,000-character search, a NUL byte, 70,000 list entries, a price out
 * of range, variables nested 1,000 deep).
 *
 *   npx tsx bench/guardrails.ts [rounds]
 *
 * HTTP: Fastify's own `responseTime` for each request (body parsing included), read from the server's log.
 * graphql-ws: the round trip on loopback from `subscribe` to the `error` message, an upper bound of server time.
 * The server is the real one, in process, on in-memory PGlite (or DATABASE_URL).
 */
import 'reflect-metadata';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { loadConfig } from '../src/config.js';
import { databaseOptions, openDatabase } from '../src/db/client.js';
import { createApp } from '../src/server/compose.js';
import { deepQuery, repeat } from '../test/security/helpers.js';

const rounds = Number(process.argv[2] ?? 50);

const nested = (depth: number): unknown => {
  let value: unknown = 'x';
  for (let level = 0; level < depth; level++) value = { a: value };
  return value;
};
const filtered = 'query Filtered($filter: ItemFilter) { items(first: 1, filter: $filter) { totalCount } }';
const cases: Record<string, { query: string; variables?: Record<string, unknown> }> = {
  'depth 100': { query: deepQuery(100) },
  '10,000 aliases': { query: `{ ${repeat(10_000, (i) => `a${i}: items(first: 1) { totalCount }`)} }` },
  '10,000 short aliases': { query: `{ ${repeat(10_000, () => 'a:__typename')} }` },
  '1 MB document': { query: `{ __typename } #${'x'.repeat(1_000_000)}` },
  'cost 1,000,000': {
    query:
      'query Costly { posts(first: 100) { nodes { comments(first: 100) { nodes { author { posts(first: 100) { nodes { id } } } } } } } }',
  },
  'viewer { id ×4,900 }': { query: `{ viewer { ${repeat(4_900, () => 'id')} } }` },
  '__typename ×4,990': { query: `{ ${repeat(4_990, () => '__typename')} }` },
  '100,000-char search': { query: filtered, variables: { filter: { search: 'a'.repeat(100_000) } } },
  'NUL in a filter': { query: filtered, variables: { filter: { search: 'a\u0000b' } } },
  '70,000 categories': { query: filtered, variables: { filter: { categories: Array.from({ length: 70_000 }, () => 'HOME') } } },
  'price 1e300': { query: filtered, variables: { filter: { minPrice: 1e300 } } },
  'variables 1,000 deep': {
    query: 'mutation Deep($params: JSON) { startJob(input: { kind: EXPORT_ITEMS, params: $params }) { job { id } } }',
    variables: { params: nested(1_000) },
  },
};

const logs: Array<Record<string, any>> = [];
const config = loadConfig({
  NODE_ENV: 'test',
  PORT: '0',
  HOST: '127.0.0.1',
  DATA_DIR: ':memory:',
  LOG_LEVEL: 'info',
  SEED_DEMO_DATA: 'false',
  JWT_SECRET: 'bench-secret-that-is-at-least-32-bytes-long!',
  RATE_LIMIT_ANONYMOUS: '100000000',
  ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
});
const database = await openDatabase(databaseOptions(config));
await database.migrate();
const app = await createApp({ config, database, logStream: { write: (line) => void logs.push(JSON.parse(line)) } });
const url = await app.listen();
const client = createClient({ url: `${url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });

const stats = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return `median ${at(0.5).toFixed(2)} ms, p95 ${at(0.95).toFixed(2)} ms, max ${sorted.at(-1)!.toFixed(2)} ms`;
};

process.stdout.write(`${rounds} rounds each, after 5 warm-up rounds\n`);
for (const [name, { query, variables }] of Object.entries(cases)) {
  const body = JSON.stringify({ query, variables });
  const http: number[] = [];
  const ws: number[] = [];
  let outcome = '';
  for (let round = 0; round < rounds + 5; round++) {
    const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const json = (await response.json()) as { errors?: Array<{ extensions?: { limit?: string; code?: string } }> };
    const error = json.errors?.[0]?.extensions;
    outcome = `${response.status} ${error?.limit ?? error?.code ?? 'NOT REFUSED'}`;
    const completed = logs.filter((line) => line.msg === 'request completed').at(-1);
    if (round >= 5) http.push(Number(completed?.responseTime));
    const started = performance.now();
    await new Promise<void>((resolve) => {
      client.subscribe({ query, variables }, { next: () => {}, error: () => resolve(), complete: () => resolve() });
    });
    if (round >= 5) ws.push(performance.now() - started);
  }
  process.stdout.write(
    `${name.padEnd(22)} HTTP ${outcome.padEnd(18)} ${stats(http)}\n${''.padEnd(22)} ws   round trip         ${stats(ws)}\n`,
  );
}

await client.dispose();
await app.close();
