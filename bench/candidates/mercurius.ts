/** Peer 4: Mercurius with graphql-jit (compiled after the first run of a query) on a Fastify instance of its own. */
import Fastify from 'fastify';
import { isAbstractType } from 'graphql';
import mercurius from 'mercurius';
import { benchPort, createStack, exitOnSignals } from './stack.js';

const stack = await createStack();

/*
 * graphql-jit 0.8.9 cannot await `resolveType`, and TypeGraphQL wraps every resolveType in an async function, so
 * `node(id)` fails under jit with "Abstract type Node must resolve to an Object type at runtime". Every OpsHub object
 * carries its `__typename` (see src/schema/shared/node.ts), so this peer answers it synchronously; the original stays
 * as the fallback. Only this process's copy of the schema changes.
 */
for (const type of Object.values(stack.schema.getTypeMap())) {
  if (!isAbstractType(type) || !type.resolveType) continue;
  const original = type.resolveType;
  type.resolveType = (value, context, info, abstractType) => {
    const name = (value as { __typename?: unknown } | null)?.__typename;
    return typeof name === 'string' ? name : original(value, context, info, abstractType);
  };
}

const app = Fastify({ logger: { level: stack.config.logLevel } });
await app.register(mercurius, {
  schema: stack.schema,
  path: '/graphql',
  graphiql: false,
  jit: 1,
  context: (request) => stack.context('http', request.headers.authorization),
});

await app.listen({ port: benchPort(), host: '127.0.0.1' });
exitOnSignals(async () => {
  await app.close();
  await stack.close();
});
