/**
 * Server time to refuse the hostile operations of the guardrails issue (acceptance 2): a depth-100 query, a
 * 10,000-alias query, a 1 MB document and a cost-1,000,000 query, over HTTP and graphql-ws.
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

const rounds = Number(process.argv[2] ?? 50);

const repeat = (count: number, make: (i: number) => string) => Array.from({ length: count }, (_, i) => make(i)).join(' ');
function deep(depth: number) {
  const steps = ['posts(first: 1)', 'nodes', 'author'];
  let open = '';
  let close = '';
  for (let level = 0; level < depth - 1; level++) {
    open += `${steps[level % 3]} { `;
    close += ' }';
  }
  return `query Deep { ${open}id${close} }`;
}
const cases: Record<string, string> = {
  'depth 100': deep(100),
  '10,000 aliases': `{ ${repeat(10_000, (i) => `a${i}: items(first: 1) { totalCount }`)} }`,
  '10,000 short aliases': `{ ${repeat(10_000, () => 'a:__typename')} }`,
  '1 MB document': `{ __typename } #${'x'.repeat(1_000_000)}`,
  'cost 1,000,000':
    'query Costly { posts(first: 100) { nodes { comments(first: 100) { nodes { author { posts(first: 100) { nodes { id } } } } } } } }',
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
const database = await openDatabase({ ...databaseOptions(config), debugSql: false });
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
for (const [name, query] of Object.entries(cases)) {
  const body = JSON.stringify({ query });
  const http: number[] = [];
  const ws: number[] = [];
  let outcome = '';
  for (let round = 0; round < rounds + 5; round++) {
    const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const json = (await response.json()) as { errors?: Array<{ extensions?: { limit?: string } }> };
    outcome = `${response.status} ${json.errors?.[0]?.extensions?.limit ?? 'NOT REFUSED'}`;
    const completed = logs.filter((line) => line.msg === 'request completed').at(-1);
    if (round >= 5) http.push(Number(completed?.responseTime));
    const started = performance.now();
    await new Promise<void>((resolve) => {
      client.subscribe({ query }, { next: () => {}, error: () => resolve(), complete: () => resolve() });
    });
    if (round >= 5) ws.push(performance.now() - started);
  }
  process.stdout.write(
    `${name.padEnd(22)} HTTP ${outcome.padEnd(18)} ${stats(http)}\n${''.padEnd(22)} ws   round trip         ${stats(ws)}\n`,
  );
}

await client.dispose();
await app.close();
