/**
 * A self-hosted GraphiQL page at GET /graphql for browsers. Every asset comes from node_modules (graphiql 3's UMD
 * build on React 18's UMD files, graphql-ws's UMD client for subscriptions): nothing is fetched from the internet.
 */
import { createReadStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyRequest } from 'fastify';

const modules = (file: string) => fileURLToPath(new URL(`../../node_modules/${file}`, import.meta.url));
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

export const GRAPHIQL_ASSETS_PREFIX = '/graphiql/';

const assets: Record<string, { path: string; type: string }> = {
  'react.js': { path: modules('react/umd/react.production.min.js'), type: 'text/javascript' },
  'react-dom.js': { path: modules('react-dom/umd/react-dom.production.min.js'), type: 'text/javascript' },
  'graphql-ws.js': { path: modules('graphql-ws/umd/graphql-ws.min.js'), type: 'text/javascript' },
  'graphiql.js': { path: modules('graphiql/graphiql.min.js'), type: 'text/javascript' },
  'graphiql.css': { path: modules('graphiql/graphiql.min.css'), type: 'text/css' },
  'init.js': { path: here('graphiql-init.js'), type: 'text/javascript' },
};

function page(): string {
  const asset = (name: string) => `${GRAPHIQL_ASSETS_PREFIX}${name}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>OpsHub GraphiQL</title>
<link rel="stylesheet" href="${asset('graphiql.css')}">
<style>html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script src="${asset('react.js')}"></script>
<script src="${asset('react-dom.js')}"></script>
<script src="${asset('graphql-ws.js')}"></script>
<script src="${asset('graphiql.js')}"></script>
<script src="${asset('init.js')}"></script>
</body>
</html>`;
}

/** A browser asking for a page (Accept: text/html) without a `query` parameter; API clients never match. */
export function wantsGraphiql(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  const query = request.query as Record<string, unknown> | undefined;
  return request.method === 'GET' && accept.includes('text/html') && !query?.query;
}

export async function registerGraphiql(fastify: FastifyInstance, graphqlPath: string): Promise<void> {
  const html = page();
  fastify.addHook('onRequest', async (request, reply) => {
    if (request.url.split('?')[0] === graphqlPath && wantsGraphiql(request)) {
      return reply.type('text/html; charset=utf-8').send(html);
    }
  });
  fastify.get(`${GRAPHIQL_ASSETS_PREFIX}:name`, async (request, reply) => {
    const asset = assets[(request.params as { name: string }).name];
    if (!asset) return reply.code(404).send({ error: 'Not found' });
    return reply.type(asset.type).header('cache-control', 'public, max-age=86400').send(createReadStream(asset.path));
  });
}
