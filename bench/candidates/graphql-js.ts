/**
 * Peer 2: graphql-js `execute` over node:http with a parse/validate cache — the floor any framework adds to — and,
 * on the same port and path, plain graphql-ws (the fan-out baseline). Same schema, context builder and SQL as OpsHub.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { execute } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { documentCache, readBody, send } from './http-kit.js';
import { benchPort, createStack, exitOnSignals } from './stack.js';

const stack = await createStack();
const { schema } = stack;

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
  const prepared = prepare(params.query);
  if ('errors' in prepared) return send(res, 400, { errors: prepared.errors });
  const result = await execute({
    schema,
    document: prepared.document,
    variableValues: params.variables,
    operationName: params.operationName,
    contextValue: await stack.context('http', req.headers.authorization),
  });
  send(res, 200, result);
}

const server = createServer((req, res) => {
  handle(req, res).catch((error: unknown) => {
    stack.log.error({ err: error }, 'request failed');
    if (!res.headersSent) send(res, 500, { errors: [{ message: 'Internal server error' }] });
  });
});
const wss = new WebSocketServer({ server, path: '/graphql' });
const ws = useServer(
  {
    schema,
    context: (ctx) => {
      const authorization = ctx.connectionParams?.authorization;
      return stack.context('ws', typeof authorization === 'string' ? authorization : null);
    },
  },
  wss,
);

server.listen(benchPort(), '127.0.0.1');
exitOnSignals(async () => {
  await ws.dispose();
  server.close();
  await stack.close();
});
